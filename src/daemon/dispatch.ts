// What the daemon answers to one decoded line: engine requests go to the engine, control messages
// to the lifecycle. Never throws: every failure becomes a well-formed reply.
import { CredmuxError, type EngineRequest, type EngineResult } from '../model/types.js';
import { decodeClientLine, PROTOCOL_VERSION, wireError, type ControlName, type DaemonMessage, type DaemonStatus, type Pong } from '../ipc/codec.js';
import type { Logger } from './log.js';
import type { CallerEnv } from '../sources/env-names.js';
import { deadlinePassed, monotonicMs } from '../ipc/deadline.js';

export interface EngineLike {
  /** `opts.guard`: for a store or erase, called inside the store's write lock just before the write commits. */
  handle(req: EngineRequest, callerEnv?: CallerEnv, opts?: { guard?: () => void }): Promise<EngineResult>;
  /** handle(), when the answer is at hand without waiting; undefined otherwise (see Engine.handleNow). */
  handleNow?(req: EngineRequest, callerEnv?: CallerEnv): EngineResult | undefined;
  /** The variables the current rules read (published for clients in env-names.json). */
  envNames?(): string[];
  /** The secret store it serves from (the real engine's; shown by `credmux daemon status`). */
  readonly store?: { readonly kind: string; readonly location: string };
}

export interface RequestCounters {
  total: number;
  get: number;
  store: number;
  erase: number;
  list: number;
  errors: number;
  contextMismatch: number;
  /** Refused because the caller's deadline had passed (it stopped waiting and did the write itself). */
  expired: number;
}

export function newCounters(): RequestCounters {
  return { total: 0, get: 0, store: 0, erase: 0, list: 0, errors: 0, contextMismatch: 0, expired: 0 };
}

/** A reply still being worked out, with the id of its request (the connection server sends progress for it). */
export type PendingReply = Promise<DaemonMessage | undefined> & { requestId?: number };

export interface DispatchDeps {
  version: string;
  /** The daemon's environment fingerprint (context.ts). */
  context: string;
  /** The engine, opened once; a rejection is retried on the next request. */
  engine: () => Promise<EngineLike>;
  /** The engine once it is open (undefined before): lets a request be answered without a promise. */
  openEngine?: () => EngineLike | undefined;
  counters: RequestCounters;
  pong: () => Pong;
  status: () => DaemonStatus;
  isStopping: () => boolean;
  /** Called after the shutdown reply is queued. */
  requestShutdown: (why: string) => void;
  /** After each request: lets the daemon refresh env-names.json when the rules changed. */
  onEngineUsed?: (engine: EngineLike) => void;
  /** An engine request arrived (keeps the daemon from idling out). */
  onActivity: () => void;
  /**
   * Whether the engine's store is still the session's (store-watch.ts): undefined to go on at once,
   * else a promise (false: the store changed, decline).
   */
  storeGate?: () => Promise<boolean> | undefined;
  log: Logger;
}

function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}

function control(id: number, ctl: ControlName, deps: DispatchDeps): DaemonMessage {
  switch (ctl) {
    case 'ping':
      return { v: PROTOCOL_VERSION, id, pong: deps.pong() };
    case 'status':
      return { v: PROTOCOL_VERSION, id, status: deps.status() };
    case 'shutdown':
      deps.requestShutdown('asked by a client');
      return { v: PROTOCOL_VERSION, id, shutdown: true };
  }
}

/**
 * The reply to one line: at once when the answer is at hand (controls, refusals, and gets the engine
 * answers from memory, which is nearly every request a busy daemon sees), else a promise that never
 * rejects. A reply undefined means none (an empty line).
 */
export function dispatchLine(line: string, deps: DispatchDeps): DaemonMessage | undefined | PendingReply {
  const msg = decodeClientLine(line, deps.version);
  if (msg.kind === 'empty') return undefined;
  if (msg.kind === 'invalid') return msg.reply;
  if (msg.kind === 'control') return control(msg.id, msg.ctl, deps);
  const { id, req, env, deadline } = msg;
  if (msg.ctx !== undefined && msg.ctx !== deps.context) {
    deps.counters.contextMismatch++;
    return wireError(id, 'context', 'this daemon serves another CREDMUX_*/HOME/XDG environment; resolve in process');
  }
  if (deps.isStopping()) return wireError(id, 'shutting-down', 'the daemon is stopping; resolve in process');
  // Read after its caller stopped waiting (this daemon was stopped or stuck meanwhile): the caller did
  // it itself, and doing it now could undo a newer write.
  if (deadline !== undefined && deadlinePassed(deadline)) return expired(id, deps);
  const gate = deps.storeGate?.();
  if (gate) {
    const after: PendingReply = gate.then((same) => (same ? serve(id, req, env, deadline, deps) : storeChanged(id, deps)));
    after.requestId = id;
    return after;
  }
  return serve(id, req, env, deadline, deps);
}

function storeChanged(id: number, deps: DispatchDeps): DaemonMessage {
  deps.counters.contextMismatch++;
  return wireError(id, 'context', "this daemon serves another secret store than the session's now (it is stopping); resolve in process");
}

/** The request, once it is known to be this daemon's to answer. */
function serve(
  id: number,
  req: EngineRequest,
  env: CallerEnv | undefined,
  deadline: number | undefined,
  deps: DispatchDeps,
): DaemonMessage | PendingReply {
  const c = deps.counters;
  c.total++;
  c[req.op]++;
  deps.onActivity();
  // Always with a caller env (empty when none was sent): the daemon's own values never answer a caller.
  const callerEnv = env ?? {};
  const engine = deps.openEngine?.();
  if (engine?.handleNow) {
    let res: EngineResult | undefined;
    try {
      res = engine.handleNow(req, callerEnv);
    } catch (e) {
      return engineFailed(id, req, e, deps);
    }
    if (res) return finish(id, req, res, engine, deps);
  }
  const pending: PendingReply = answerLater(id, req, callerEnv, deps, deadline === undefined ? undefined : writeGuard(deadline));
  pending.requestId = id;
  return pending;
}

/** Throws once the caller's deadline has passed: checked by the store inside its write lock, just before committing. */
function writeGuard(deadline: number): () => void {
  return () => {
    if (deadlinePassed(deadline, monotonicMs()))
      throw new CredmuxError('expired', "the caller's deadline passed before the write committed; nothing was changed");
  };
}

function expired(id: number, deps: DispatchDeps): DaemonMessage {
  deps.counters.expired++;
  return wireError(
    id,
    'expired',
    'the deadline of this request passed before the daemon could carry it out; nothing was changed: resolve in process',
  );
}

async function answerLater(
  id: number,
  req: EngineRequest,
  callerEnv: CallerEnv,
  deps: DispatchDeps,
  guard: (() => void) | undefined,
): Promise<DaemonMessage> {
  let engine: EngineLike;
  let res: EngineResult;
  try {
    engine = await deps.engine();
    res = await engine.handle(req, callerEnv, guard && { guard });
  } catch (e) {
    return engineFailed(id, req, e, deps);
  }
  return finish(id, req, res, engine, deps);
}

function engineFailed(id: number, req: EngineRequest, e: unknown, deps: DispatchDeps): DaemonMessage {
  deps.counters.errors++;
  // The engine turns its own failures into results; reaching here is a bug or a failed open.
  // Its message could carry data we were handed, so only the error's name is logged.
  deps.log.error('engine failed', { op: req.op, error: errorName(e) });
  return wireError(id, 'engine', `the daemon's engine failed (${errorName(e)}); resolve in process`);
}

function finish(id: number, req: EngineRequest, res: EngineResult, engine: EngineLike, deps: DispatchDeps): DaemonMessage {
  const c = deps.counters;
  deps.onEngineUsed?.(engine);
  if (res.op === 'error' && res.error.code === 'caller-env') {
    // The client's list of variables was stale (a config change, a daemon that just started): it sends
    // again with the refreshed env-names.json, or resolves in process. Counted as a mismatch, not as a
    // request answered.
    c.total--;
    c[req.op]--;
    c.contextMismatch++;
    return wireError(id, 'env', res.error.message);
  }
  if (res.op === 'error' && res.error.code === 'expired') {
    // The write's guard fired inside the store's lock: nothing changed. Counted as expired, not answered.
    c.total--;
    c[req.op]--;
    return expired(id, deps);
  }
  if (res.op === 'error') {
    c.errors++;
    deps.log.warn('request failed', { op: req.op, code: res.error.code, message: res.error.message });
  }
  // Tokens a store or erase made stale are the engine's to drop (it knows which rules a URL touches).
  return { v: PROTOCOL_VERSION, id, res };
}
