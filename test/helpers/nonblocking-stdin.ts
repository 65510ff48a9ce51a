// Python for a parent that hands a helper a NON-BLOCKING pipe as stdin, as some parents do, and must
// know the helper's first read found it empty (EAGAIN) before it writes. Time cannot tell that; the
// helper's event loop can: Node watches fd 0 through epoll only once its blocking read gave up and
// process.stdin took over, and /proc/PID/fdinfo of the epoll descriptor then lists "tfd: 0".

/**
 * Defines `wait_until_watching_stdin(p)` (p: a subprocess.Popen): returns once the child watches its
 * stdin in its event loop; exits the script with a message if the child exits first, or after 20 s.
 */
export const WAIT_UNTIL_WATCHING_STDIN_PY = `
import glob, os, sys, time
def _watches_stdin(pid):
    for f in glob.glob('/proc/%d/fdinfo/*' % pid):
        try:
            if any(line.split()[:2] == ['tfd:', '0'] for line in open(f)):
                return True
        except OSError:
            pass
    return False
def wait_until_watching_stdin(p):
    deadline = time.monotonic() + 20
    while not _watches_stdin(p.pid):
        if p.poll() is not None:
            sys.exit('the helper exited before it waited for its stdin (code %s)' % p.returncode)
        if time.monotonic() > deadline:
            sys.exit('the helper never waited on its non-blocking stdin')
        time.sleep(0.005)
`;
