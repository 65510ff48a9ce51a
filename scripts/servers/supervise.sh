#!/bin/sh
# Usage: supervise.sh [--rm DIR] COMMAND [ARG...]
#
# Runs one test server so that it can never outlive the test process that started it.
# The caller spawns this script as the leader of a new process group (Node: `detached: true`)
# and keeps our stdin as a pipe it never writes to. When the caller exits — cleanly, by a crash
# or by SIGKILL — the kernel closes its end, our watchdog reads EOF and kills the whole group,
# which also takes down children that outlive their parent (fcgiwrap's workers, nginx's worker),
# then removes DIR (the server's temp dir), since the caller can no longer do it.
# If the server exits by itself we tear the group down too and exit with its status, so the
# caller sees the failure. A normal stop is the caller sending TERM to the group.

rmdir_on_orphan=
if [ "$1" = --rm ]; then
  rmdir_on_orphan=$2
  shift 2
fi

# A background list's stdin is /dev/null in a non-interactive shell; keep the pipe on fd 3.
exec 3<&0

"$@" </dev/null 3<&- &
server=$!

(
  cat <&3 >/dev/null
  # The caller is gone: stop the group, make sure of it, and clean up. Ignore TERM only now
  # (a forked child could be hit before it set its own trap); until here a TERM — stop() or
  # the server exiting — ends this watchdog with everything else.
  trap '' TERM
  kill -TERM 0 2>/dev/null
  sleep 1
  [ -n "$rmdir_on_orphan" ] && rm -rf "$rmdir_on_orphan"
  kill -KILL 0 2>/dev/null
) &

wait "$server"
status=$?
trap '' TERM
kill -TERM 0 2>/dev/null
exit "$status"
