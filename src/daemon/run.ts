// The daemon's life: private directory → lock → replace a stale socket → listen → serve → stop on
// idle, signal, request, a replaced executable or a lost socket → release everything.
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { cacheReport, totalFetches } from '../cache/registry.js';
import type { Env } from '../platform/paths.js';
import { VERSION } from '../platform/version.js';
import { PROTOCOL_VERSION, type DaemonStatus } from '../ipc/codec.js';
import { canConnect } from '../client/connection.js';
import { contextFingerprint } from '../ipc/context.js';
import { dispatchLine, newCounters, type DispatchDeps, type EngineLike } from './dispatch.js';
import { watchIdle } from './idle.js';
import { collectAfterBursts } from './collect-after-bursts.js';
import { EngineHolder } from './engine-holder.js';
import { DaemonError, EXIT_BUSY } from '../ipc/errors.js';
import { acquireLock, ownRecord, type HeldLock } from '../ipc/lock.js';
import { openLog, type Logger } from './log.js';
import { daemonFiles, socketPathProblem } from '../ipc/paths.js';
import { ensurePrivateDir } from '../ipc/private-dir.js';
import { publisher } from '../ipc/env-names-file.js';
import { createConnectionServer } from './server.js';
import { clearStuckMarker } from '../ipc/stuck-marker.js';
import { StoreWatch, type StoreChoice } from './store-watch.js';
import { ExecutableWatch, installProcessHooks, socketOwnership, startMaintenance, watchSocketPath } from './watchers.js';

export type EngineFactory = (env: Env) => Promise<EngineLike>;

export const DEFAULT_IDLE_TIMEOUT_S = 600;

export interface ServeOptions {
  /** This process is the daemon: handle SIGTERM/SIGINT/SIGHUP and crashes, set umask 077. Default true. */
  ownsProcess?: boolean;
  /** Exit when this file is replaced (an upgrade), so the next client starts the new version. */
  watchExecutable?: string;
  /** Where a human running the daemon by hand reads why it would not start. Default: stderr. */
  say?: (line: string) => void;
  connectionIdleMs?: number;
  maintenanceMs?: number;
  /** Called once listening (tests). */
  onListening?: (info: { socket: string; pid: number }) => void;
  /** A full garbage collection, run after each burst of token fetches (collect-after-bursts.ts). */
  collectGarbage?: () => void;
  /**
   * How the session's store is chosen and watched (CREDMUX_STORE=auto on Linux): the daemon then
   * stops when it changes (store-watch.ts). Without it (tests' fake engines), nothing is watched.
   */
  sessionStore?: {
    choose: (env: Env) => Promise<StoreChoice>;
    watch: (env: Env, onChange: () => void) => Promise<() => void>;
  };
}

/** CREDMUX_IDLE_TIMEOUT in seconds (0 = never); undefined when the value is not a number. */
export function parseIdleTimeout(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return DEFAULT_IDLE_TIMEOUT_S;
  if (!/^\d+(\.\d+)?$/.test(raw.trim())) return undefined;
  return Number(raw);
}

function removeIf(path: string, pred: () => boolean): void {
  try {
    if (pred()) unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Runs the daemon until it stops; resolves with the process exit code. */
export async function serveDaemon(env: Env, openEngine: EngineFactory, opts: ServeOptions = {}): Promise<number> {
  const owns = opts.ownsProcess ?? true;
  const say = opts.say ?? ((line: string) => void process.stderr.write(`${line}\n`));
  if (process.platform === 'win32') {
    say('credmux daemon: not supported on Windows (no Unix sockets); helpers resolve in process');
    return 1;
  }
  const files = daemonFiles(env);
  if (owns) process.umask(0o077); // socket, lock and log files: ours alone, from the moment they exist
  const log: Logger = openLog(files.logDir, files.logFile);
  const refuse = (message: string, code = 1) => {
    say(message);
    log.error(message);
    log.close();
    return code;
  };

  const tooLong = socketPathProblem(files.socket);
  if (tooLong) return refuse(`credmux daemon: refusing to start: ${tooLong}`);

  const idleS = parseIdleTimeout(env.CREDMUX_IDLE_TIMEOUT);
  if (idleS === undefined) log.warn('CREDMUX_IDLE_TIMEOUT is not a number of seconds; using the default', { default: DEFAULT_IDLE_TIMEOUT_S });
  const idleMs = Math.min((idleS ?? DEFAULT_IDLE_TIMEOUT_S) * 1000, 2 ** 31 - 1);

  let lock: HeldLock;
  try {
    ensurePrivateDir(files.dir);
    // Spawned by a helper, the lock may be waiting for us, held by that helper (our parent).
    const spawner = owns ? process.ppid : undefined;
    const got = acquireLock(files.dir, ownRecord(), spawner);
    if (!got.ok) {
      log.close();
      say(`credmux daemon: another daemon is running or starting (pid ${got.holder.pid}, credmux ${got.holder.version})`);
      return EXIT_BUSY;
    }
    lock = got.lock;
  } catch (e) {
    return refuse(e instanceof DaemonError ? e.message : `credmux daemon: cannot start: ${(e as Error).message}`);
  }

  // Only the lock holder touches the socket path. Something answering there anyway (a daemon in
  // another pid namespace sharing this directory) wins; a socket nobody answers is stale.
  if (await canConnect(files.socket, 200)) {
    lock.release();
    log.close();
    say('credmux daemon: another daemon answers on the socket');
    return EXIT_BUSY;
  }
  removeIf(files.socket, () => true);

  const counters = newCounters();
  const startedAt = new Date();
  const context = contextFingerprint(env);
  let stopping = false;
  let stop: (why: string, code?: number) => void = () => {};
  // A plain copy: the daemon keeps the environment it started with, and rules that read variables
  // copy it per request, which for process.env itself (an exotic object) costs ~100 µs each time.
  const engineEnv: Env = { ...env };
  const engine = new EngineHolder(() => openEngine(engineEnv), publisher(files.dir), log);
  let lastActivity = performance.now();
  const executable = new ExecutableWatch(opts.watchExecutable, () => stop('the daemon executable changed (upgrade)'));
  const storeWatch = watchesStore(env, opts)
    ? new StoreWatch({
        current: () => engine.opened()?.store,
        choose: () => opts.sessionStore!.choose(engineEnv),
        onChanged: (from, to) => stop(`the session's secret store changed from ${from.kind} (${from.location}) to ${to.kind} (${to.location})`),
      })
    : undefined;

  const status = (): DaemonStatus => ({
    pid: process.pid,
    socket: files.socket,
    version: VERSION,
    protocol: PROTOCOL_VERSION,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    idleTimeoutSeconds: idleMs / 1000,
    logFile: files.logFile,
    context,
    ...storeOf(engine.opened()),
    requests: { ...counters },
    connections: { open: conns.open(), total: conns.total() },
    cache: cacheReport(),
  });

  // Made once: the daemon dispatches every request with them.
  const dispatchDeps: DispatchDeps = {
    version: VERSION,
    context,
    engine: () => engine.get(),
    openEngine: () => engine.opened(),
    counters,
    pong: () => ({ pid: process.pid, version: VERSION, protocol: PROTOCOL_VERSION }),
    status,
    isStopping: () => stopping,
    requestShutdown: (why) => setImmediate(() => stop(why)),
    onEngineUsed: (e) => engine.publishEnvNames(e),
    onActivity: () => {
      lastActivity = performance.now();
      executable.onActivity(lastActivity);
    },
    storeGate: storeWatch && (() => storeWatch.gate()),
    log,
  };
  // A helper that found us silent left daemon.stuck naming us (src/ipc/stuck-marker.ts); running
  // again, we take it back so helpers stop skipping us: at once when resumed, on every progress tick
  // while requests wait (a helper misjudged us: the marker must not outlive the burst it is in), else
  // on the maintenance tick.
  const me = ownRecord();
  const notStuck = () => clearStuckMarker(files.dir, { pid: me.pid, start: me.start });
  const conns = createConnectionServer({
    connectionIdleMs: opts.connectionIdleMs ?? 60_000,
    onProgressTick: notStuck,
    answer: (line) => dispatchLine(line, dispatchDeps),
    onAcceptError: (code) => log.error('server error', { error: code }),
  });

  // Published before the socket exists, so the first burst of clients already sends what the rules read.
  await engine.get().then(
    (e) => engine.publishEnvNames(e),
    () => {},
  );
  try {
    await conns.listen(files.socket);
  } catch (e) {
    lock.release();
    return refuse(`credmux daemon: cannot listen on ${files.socket}: ${(e as Error).message}`);
  }
  const socketIsOurs = socketOwnership(files.socket);
  writePidFile(files.pidFile);
  removeIf(files.failedMarker, () => true); // we started: clients may spawn again when we are gone
  engine.get().catch((e: unknown) => log.error('engine failed to open; will retry on the next request', { error: (e as Error)?.name }));
  log.info('started', {
    pid: process.pid,
    version: VERSION,
    protocol: PROTOCOL_VERSION,
    socket: files.socket,
    lock: lock.gen,
    idleTimeout: idleMs / 1000,
  });
  opts.onListening?.({ socket: files.socket, pid: process.pid });

  return new Promise<number>((resolveExit) => {
    const cancelIdle = watchIdle(idleMs, { inflight: () => conns.inflight(), lastActivity: () => lastActivity }, (quiet) =>
      stop(`idle for ${Math.round(quiet / 1000)} s`),
    );

    const collect = opts.collectGarbage;
    const stopCollecting = collect ? collectAfterBursts(totalFetches, collect) : () => {};

    if (owns) process.on('SIGCONT', notStuck);
    const stopMaintenance = startMaintenance({
      eachTick: notStuck,
      intervalMs: opts.maintenanceMs ?? 30_000,
      socketIsOurs,
      lockHeld: () => lock.stillHeld(),
      executable,
      counters,
      log,
      stop: (why) => stop(why),
    });
    const uninstallHooks = owns ? installProcessHooks(log, (why, code) => stop(why, code)) : () => {};
    const unwatchSocket = watchSocketPath(files.socket, socketIsOurs, () => stop('the socket was removed or replaced'));
    let unwatchSession = () => {};
    if (storeWatch) {
      void opts.sessionStore!.watch(engineEnv, () => void storeWatch.check()).then((un) => (stopping ? un() : (unwatchSession = un)));
    }

    stop = (why, code = 0) => {
      if (stopping) return;
      stopping = true;
      cancelIdle();
      stopCollecting();
      stopMaintenance();
      unwatchSocket();
      unwatchSession();
      process.off('SIGCONT', notStuck);
      log.info('stopping', { reason: why });
      // Unlink first so new clients stop coming here; only our own socket (never a successor's).
      removeIf(files.socket, socketIsOurs);
      void conns.drain(3_000).then(() => {
        removePidFile(files.pidFile);
        lock.release();
        uninstallHooks();
        log.info('stopped', { ...counters, uptime: Math.round((Date.now() - startedAt.getTime()) / 1000) });
        log.close();
        resolveExit(code);
      });
    };
  });
}

/** Only where the store depends on the session: CREDMUX_STORE=auto (or unset) on Linux with a session bus. */
function watchesStore(env: Env, opts: ServeOptions): boolean {
  const choice = (env.CREDMUX_STORE ?? '').trim();
  return opts.sessionStore !== undefined && process.platform === 'linux' && (choice === '' || choice === 'auto') && !!env.DBUS_SESSION_BUS_ADDRESS;
}

function storeOf(e: EngineLike | undefined): Pick<DaemonStatus, 'store'> {
  return e?.store ? { store: { kind: e.store.kind, location: e.store.location } } : {};
}

function writePidFile(path: string): void {
  const tmp = join(path, '..', `.daemon.pid.${process.pid}.tmp`);
  try {
    writeFileAtomicSync(path, `${process.pid}\n`, { durable: 'none', tmp });
  } catch {
    // informational only
  }
}

function removePidFile(path: string): void {
  removeIf(path, () => readFileSync(path, 'utf8').trim() === String(process.pid));
}
