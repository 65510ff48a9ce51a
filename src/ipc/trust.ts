// May a client trust what it finds in the daemon directory? Node cannot ask a Unix socket for its
// peer's uid, so whoever can create `credmux/` where XDG_RUNTIME_DIR points (a shared /tmp in a
// container or CI, the caller's runtime dir kept across `su`) could listen on daemon.sock and be
// sent every password a helper stores and every variable env-names.json names, and answer with
// credentials of its choosing. So before a client connects, or reads env-names.json or a lock file,
// it checks, with a few lstat calls on the hot path and nothing else:
//
// - the directory holding credmux/ lets no one but its owner (us or root) replace credmux/ in it:
//   writable by group or others only with the sticky bit (as /tmp);
// - credmux/ is not a link, is ours, and is closed to group and others (0700);
// - daemon.sock, when there, is a socket and ours.
//
// A directory that is ours and 0700 holds only what we (or root) put there, so its contents need no
// further check; the daemon checks the same directory before it listens (src/ipc/private-dir.ts).
import { lstatSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DaemonFiles } from './paths.js';
import { checkPrivateDir } from './private-dir.js';

export type DaemonDirTrust =
  /** Safe to connect and to read what is there. */
  | { state: 'trusted' }
  /** No daemon directory or no socket yet: nothing to connect to; a daemon may be started. */
  | { state: 'absent' }
  /** Something another user could have planted: never connect, never read; say why. */
  | { state: 'untrusted'; problem: string };

const STICKY = 0o1000;

export function daemonDirTrust(files: Pick<DaemonFiles, 'dir' | 'socket'>, uid: number | undefined = process.getuid?.()): DaemonDirTrust {
  if (uid === undefined) return { state: 'trusted' }; // no POSIX owners (Windows has no daemon anyway)
  const parent = dirname(files.dir);
  // stat, not lstat: XDG_RUNTIME_DIR itself may be a link (/var/run -> /run); what counts is the directory it names.
  const p = statSync(parent, { throwIfNoEntry: false });
  if (!p) return { state: 'absent' };
  if (p.uid !== uid && p.uid !== 0) {
    return {
      state: 'untrusted',
      problem: `${parent} belongs to uid ${p.uid}, who could replace ${files.dir} (you are uid ${uid}); point XDG_RUNTIME_DIR at a directory of yours`,
    };
  }
  if ((p.mode & 0o022) !== 0 && (p.mode & STICKY) === 0) {
    const mode = (p.mode & 0o7777).toString(8).padStart(4, '0');
    return {
      state: 'untrusted',
      problem: `${parent} lets group or others replace ${files.dir} (mode ${mode}, no sticky bit); run: chmod go-w ${parent}, or point XDG_RUNTIME_DIR at a directory of yours`,
    };
  }
  const dir = checkPrivateDir(files.dir, 'XDG_RUNTIME_DIR', uid);
  if (dir.state === 'missing') return { state: 'absent' };
  if (dir.state === 'unsafe') return { state: 'untrusted', problem: dir.problem };
  const sock = lstatSync(files.socket, { throwIfNoEntry: false });
  if (!sock) return { state: 'absent' };
  if (!sock.isSocket()) return { state: 'untrusted', problem: `${files.socket} is not a socket; remove it` };
  if (sock.uid !== uid) return { state: 'untrusted', problem: `${files.socket} belongs to uid ${sock.uid}, not to you (uid ${uid}); remove it` };
  return { state: 'trusted' };
}
