// What `credmux daemon run|start|stop|status` calls. Everything returned is JSON-able and secret-free.
import type { Env } from '../platform/paths.js';
import { PROTOCOL_VERSION, type ControlName, type DaemonMessage, type DaemonStatus } from '../ipc/codec.js';
import { ask, type AskOutcome } from './connection.js';
import { DaemonError, EXIT_BUSY } from '../ipc/errors.js';
import { processAlive } from '../platform/liveness.js';
import { sleep } from '../platform/sleep.js';
import { currentHolder, isAlive, type Holder } from '../ipc/lock.js';
import { daemonFiles, socketPathProblem, type DaemonFiles } from '../ipc/paths.js';
import { daemonDirTrust } from '../ipc/trust.js';
import { ensurePrivateDir } from '../ipc/private-dir.js';
import { daemonBinPath, spawnLockedDaemon } from './spawn.js';

export { EXIT_BUSY };
export type { DaemonStatus };

export type DaemonStatusReport =
  | ({ running: true } & DaemonStatus)
  | {
      running: false;
      socket: string;
      /** For a human: what is (not) there and what happens next. */
      reason: string;
      /** A live lock holder that does not answer (starting, stopping or wedged). */
      pid?: number;
      /** A daemon speaking another protocol version answers on the socket. */
      protocol?: number;
      version?: string;
    };

const QUICK = { connectMs: 200, answerMs: 2_000 };

function control(socket: string, ctl: ControlName, v = PROTOCOL_VERSION): Promise<AskOutcome> {
  return ask(socket, { v, id: 1, ctl }, QUICK);
}

function replyOf(o: AskOutcome): DaemonMessage | undefined {
  return o.kind === 'reply' ? o.msg : undefined;
}

export async function daemonStatus(env: Env): Promise<DaemonStatusReport> {
  const files = daemonFiles(env);
  const down = (reason: string, extra: Partial<Extract<DaemonStatusReport, { running: false }>> = {}): DaemonStatusReport => ({
    running: false,
    socket: files.socket,
    reason,
    ...extra,
  });
  const tooLong = socketPathProblem(files.socket);
  if (tooLong) return down(tooLong);
  const trust = daemonDirTrust(files);
  if (trust.state === 'untrusted') return down(`not using the daemon: ${trust.problem}; helpers answer without it`);
  const o = await control(files.socket, 'status');
  const m = replyOf(o);
  if (m && 'status' in m) return { running: true, ...m.status };
  if (m && 'error' in m && m.error.code === 'version') {
    return down(`a daemon of protocol ${m.error.protocol} (credmux ${m.error.version}) answers; this credmux speaks ${PROTOCOL_VERSION}`, {
      protocol: m.error.protocol,
      version: m.error.version,
    });
  }
  const holder = safeHolder(files.dir);
  if (holder) return down(`a daemon (pid ${holder.pid}) holds the lock but does not answer (${describe(o)})`, { pid: holder.pid });
  if (o.kind === 'absent')
    return down(
      env.CREDMUX_DAEMON === '0' ? 'no daemon is running (disabled by CREDMUX_DAEMON=0)' : 'no daemon is running; the next request starts one',
    );
  return down(`no usable daemon (${describe(o)})`);
}

function describe(o: AskOutcome): string {
  switch (o.kind) {
    case 'absent':
      return 'nothing listens on the socket';
    case 'reply':
      return 'unexpected reply';
    default:
      return o.why;
  }
}

function safeHolder(dir: string): Holder | undefined {
  try {
    return currentHolder(dir);
  } catch {
    return undefined;
  }
}

export interface StartResult {
  /** False when a daemon was already running. */
  started: boolean;
  status: DaemonStatus;
}

/** Starts a detached daemon unless one runs; resolves once it answers. Throws DaemonError with the fix. */
export async function startDaemon(env: Env, waitMs = 5_000): Promise<StartResult> {
  const before = await daemonStatus(env);
  if (before.running) return { started: false, status: stripRunning(before) };
  const files = daemonFiles(env);
  const tooLong = socketPathProblem(files.socket);
  if (tooLong) throw new DaemonError('socket-path-too-long', `credmux daemon: ${tooLong}`);
  if (process.platform === 'win32') throw new DaemonError('unsupported', 'credmux daemon: not supported on Windows; helpers resolve in process');
  // Checked here too, so the person typing the command sees the chmod fix (a spawned daemon only logs it).
  ensurePrivateDir(files.dir);
  refuseUntrusted(files);
  if (!daemonBinPath(env))
    throw new DaemonError('start-failed', 'credmux daemon: cannot find the credmux-daemon executable (set CREDMUX_DAEMON_BIN)');
  const child = spawnLockedDaemon(env, files.dir);
  if (!child) throw new DaemonError('start-failed', `credmux daemon: cannot run ${daemonBinPath(env)}`);
  let exit: number | null | undefined;
  // 'busy': one is starting (a helper spawned it); wait for it like for our own.
  if (child !== 'busy') child.onExit((code) => (exit = code));
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const s = await daemonStatus(env);
    if (s.running) return { started: true, status: stripRunning(s) };
    if (exit !== undefined && exit !== EXIT_BUSY) break;
    await sleep(20);
  }
  throw new DaemonError(
    'start-failed',
    `credmux daemon: did not start${exit !== undefined && exit !== null ? ` (exit code ${exit})` : ''}; see ${files.logFile}`,
  );
}

export interface StopResult {
  /** False when no daemon was running. */
  wasRunning: boolean;
  pid?: number;
  /** How it was stopped: asked over the socket, or signalled because it did not answer. */
  how?: 'request' | 'SIGTERM' | 'SIGKILL';
}

/** Stops the daemon: asks it over the socket; signals a lock holder that does not answer. */
export async function stopDaemon(env: Env, waitMs = 3_000): Promise<StopResult> {
  const files = daemonFiles(env);
  if (socketPathProblem(files.socket)) return { wasRunning: false };
  // Nor are the lock files of a directory another user controls read: they name a pid to signal.
  refuseUntrusted(files);
  let m = replyOf(await control(files.socket, 'ping'));
  // A daemon of another protocol version still understands shutdown in its own version.
  const v = m && 'error' in m && m.error.code === 'version' && typeof m.error.protocol === 'number' ? m.error.protocol : PROTOCOL_VERSION;
  const pid = m && 'pong' in m ? m.pong.pid : undefined;
  const holder = safeHolder(files.dir);
  if (m) {
    m = replyOf(await control(files.socket, 'shutdown', v));
    if (m && 'shutdown' in m) {
      const target = pid ?? holder?.pid;
      // Gone includes a zombie: a daemon whose parent never reaps it (a container's PID 1 that does
      // not, a parent that exec'd) has exited all the same.
      const gone = () => target === undefined || !processAlive(target, undefined);
      if (await waitFor(gone, waitMs)) return { wasRunning: true, pid: target, how: 'request' };
    }
  }
  // Not answering (wedged, or stopping too slowly): signal the lock holder, verified by its start time.
  const h = holder ?? safeHolder(files.dir);
  if (!h) return { wasRunning: m !== undefined, pid };
  process.kill(h.pid, 'SIGTERM');
  // A stopped daemon (SIGSTOP, ^Z) acts on SIGTERM only once it runs again: let it, so it leaves cleanly.
  process.kill(h.pid, 'SIGCONT');
  if (await waitFor(() => !isAlive(h), waitMs)) return { wasRunning: true, pid: h.pid, how: 'SIGTERM' };
  process.kill(h.pid, 'SIGKILL');
  await waitFor(() => !isAlive(h), 1_000);
  return { wasRunning: true, pid: h.pid, how: 'SIGKILL' };
}

function refuseUntrusted(files: DaemonFiles): void {
  const trust = daemonDirTrust(files);
  if (trust.state === 'untrusted') throw new DaemonError('insecure-dir', `credmux daemon: refusing to use ${files.dir}: ${trust.problem}`);
}

async function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (done()) return true;
    await sleep(20);
  }
  return done();
}

function stripRunning(s: Extract<DaemonStatusReport, { running: true }>): DaemonStatus {
  const { running: _running, ...status } = s;
  return status;
}
