// Where the daemon's files live. Everything in the runtime dir is private (0700): the socket, the
// generation lock files and the informational pid file. The log goes to the state dir.
import { join } from 'node:path';
import { runtimeDir, stateDir, type Env } from '../platform/paths.js';

export interface DaemonFiles {
  /** The private directory holding socket and lock ($XDG_RUNTIME_DIR/credmux, or ~/.cache/credmux/run). */
  dir: string;
  socket: string;
  /** For humans and `ps`: the pid of the daemon that holds the lock (the lock files are the truth). */
  pidFile: string;
  /** Written by a client whose spawned daemon failed to start: clients then stop spawning for a while. */
  failedMarker: string;
  logDir: string;
  logFile: string;
}

export function daemonFiles(env: Env): DaemonFiles {
  // runtimeDir is normalised (path.join) and never ends in "/": a name appended with "/" is what join
  // would give. The log paths are worked out when asked for: a helper's warm answer never is.
  const dir = runtimeDir(env);
  return {
    dir,
    socket: `${dir}/daemon.sock`,
    pidFile: `${dir}/daemon.pid`,
    failedMarker: `${dir}/daemon.failed`,
    get logDir() {
      return stateDir(env);
    },
    get logFile() {
      return join(stateDir(env), 'daemon.log');
    },
  };
}

/** sun_path is 108 bytes on Linux and 104 on macOS/BSD, NUL included. */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === 'linux' ? 107 : 103;
}

/**
 * Node silently truncates a too-long socket path and binds the truncated name, so a daemon and its
 * clients would disagree about where the socket is. Refuse clearly instead.
 */
export function socketPathProblem(path: string, platform: NodeJS.Platform = process.platform): string | undefined {
  const bytes = Buffer.byteLength(path);
  const max = maxSocketPathBytes(platform);
  if (bytes <= max) return undefined;
  return (
    `the daemon socket path ${path} is ${bytes} bytes, more than the ${max} a Unix socket allows; ` +
    `set XDG_RUNTIME_DIR (or XDG_CACHE_HOME) to a shorter directory, or CREDMUX_DAEMON=0 to resolve without a daemon`
  );
}
