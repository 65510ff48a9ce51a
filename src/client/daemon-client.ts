// The helper's side of the daemon, on the hot path of every helper call: node builtins and a few
// small local modules only.
//
// askDaemon never fails a request: any trouble (no daemon that can start, a daemon that dies
// mid-request, a daemon of a newer protocol, another environment) returns undefined and the caller
// resolves in process — slower, never wrong.
//
// A daemon that has the request and says nothing — stopped, stuck, not a daemon at all — is given up
// on within a second or so (patience.ts), not after ANSWER_TIMEOUT_MS: a daemon at work sends progress.
// Writes carry a deadline the daemon honours, and a helper that gave up on a write waits it out
// before doing the write itself (attempt.ts), so a daemon that resumes never replays it.
//
// No daemon yet: spawn one (the caller that finds none takes the daemon's lock before it spawns, so
// callers racing it wait for its daemon instead of spawning their own: spawn.ts spawnLockedDaemon)
// and wait for its socket up to START_WAIT_MS of this process's own time, longer for a daemon that
// is alive but starved of CPU (see startWait), then ask it. Waiting costs one daemon start, once per
// daemon lifetime (measured: a first helper call ~250 ms against ~125 ms resolving in process; a
// daemon round trip then costs under 1 ms — test/daemon/bench.test.ts prints the numbers). In
// exchange a burst of first calls (Bazel fetching in parallel) is served by one cache, one fetch per
// token instead of one per process, and the token minted lands in the daemon that serves the next
// calls. If the daemon cannot come up (it exits, or the wait runs out) the call falls back to
// resolving in process; after a daemon failed to start, calls stop spawning for
// FAILED_START_BACKOFF_MS (`credmux daemon start` still tries, and says why).
import { statSync, writeFileSync } from 'node:fs';
import type { Env } from '../platform/paths.js';
import { sleep } from '../platform/sleep.js';
import type { EngineRequest, EngineResult } from '../model/types.js';
import { PROTOCOL_VERSION, type ClientMessage } from '../ipc/codec.js';
import { ask, canConnect, type AskOutcome, type AskTimeouts } from './connection.js';
import { Attempt } from './attempt.js';
import { monotonicMs } from '../ipc/deadline.js';
import type { GiveUpReason } from './patience.js';
import { contextFingerprint } from '../ipc/context.js';
import { EXIT_BUSY } from '../ipc/errors.js';
import { currentHolder } from '../ipc/lock.js';
import { processProgress } from '../platform/liveness.js';
import { daemonFiles, socketPathProblem, type DaemonFiles } from '../ipc/paths.js';
import { ensurePrivateDir } from '../ipc/private-dir.js';
import { spawnLockedDaemon, type SpawnedDaemon } from './spawn.js';
import { readEnvNames } from '../ipc/env-names-file.js';
import { daemonDirTrust, type DaemonDirTrust } from '../ipc/trust.js';
import { sayUntrustedOnce } from './untrusted-notice.js';
import type { CallerEnv } from '../sources/env-names.js';

export interface AskOptions {
  /** A local socket connects or refuses at once; only an overloaded machine (200 helpers starting
   * on 2 cores) takes longer, and giving up then costs a token exchange per helper. */
  connectTimeoutMs?: number;
  /**
   * Sources may be slow (a command, a token exchange); a slow source is no faster in process. The
   * daemon sends progress meanwhile; one that falls silent is given up on much sooner (patience.ts).
   */
  answerTimeoutMs?: number;
  /** How long to wait for a daemon this call started. 0: do not start one. */
  startWaitMs?: number;
  /** Start a daemon when there is none, but do not wait for it: the caller answers this request itself. */
  startInBackground?: boolean;
  /** Told why a silent daemon was given up on (patience.ts), when one was: for tests and diagnostics. */
  onGiveUp?: (why: GiveUpReason) => void;
  /** The process exits right after this answer (a helper entry): its connection is left to the kernel to close. */
  leaveOpen?: boolean;
}

export const CONNECT_TIMEOUT_MS = 1_000;
export const ANSWER_TIMEOUT_MS = 20_000;
export const START_WAIT_MS = 1_500;
/** However starved the machine, a helper waits no longer than this for a daemon it started. */
export const START_WAIT_CAP_MS = 10_000;

let nextId = 1;

type Verdict =
  | { kind: 'answer'; result: EngineResult }
  /** The rule reads a variable our message lacked: env-names.json changed since we read it. */
  | { kind: 'resend' }
  | { kind: 'absent' }
  /** A daemon of an older protocol: ask it to leave and start ours. */
  | { kind: 'older'; protocol: number }
  | { kind: 'in-process' };

function judge(o: AskOutcome, id: number): Verdict {
  if (o.kind === 'absent') return { kind: 'absent' };
  if (o.kind !== 'reply') return { kind: 'in-process' };
  const m = o.msg;
  if ('res' in m && m.id === id) return { kind: 'answer', result: m.res };
  if ('error' in m && m.error.code === 'env') return { kind: 'resend' };
  if ('error' in m && m.error.code === 'version' && typeof m.error.protocol === 'number' && m.error.protocol < PROTOCOL_VERSION) {
    return { kind: 'older', protocol: m.error.protocol };
  }
  // A newer daemon, another environment, an engine that failed to open, a daemon stopping: not ours to fix.
  return { kind: 'in-process' };
}

export async function askDaemon(req: EngineRequest, env: Env, opts: AskOptions = {}): Promise<EngineResult | undefined> {
  if (env.CREDMUX_DAEMON === '0' || process.platform === 'win32') return undefined;
  const t: AskTimeouts = { connectMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, answerMs: opts.answerTimeoutMs ?? ANSWER_TIMEOUT_MS };
  let files: DaemonFiles;
  let trust: DaemonDirTrust;
  try {
    files = daemonFiles(env);
    if (socketPathProblem(files.socket)) return undefined;
    // Before anything there is connected to or read (the socket, env-names.json, the lock files that
    // name a pid to wait for or replace): another user may have planted it (ipc/trust.ts).
    trust = daemonDirTrust(files);
  } catch {
    return undefined;
  }
  if (trust.state === 'untrusted') return void sayUntrustedOnce(trust.problem, env);
  const attempt = new Attempt(files, { ...t, capMs: START_WAIT_CAP_MS, leaveOpen: opts.leaveOpen }, writeDeadline(req));
  const answer = await askWith(attempt, files, req, env, t, opts, trust.state === 'absent');
  if (answer === undefined) {
    await attempt.settle(() => bringUp(files, env, 0, true));
    if (attempt.gaveUp) opts.onGiveUp?.(attempt.gaveUp.why);
  }
  return answer;
}

async function askWith(
  attempt: Attempt,
  files: DaemonFiles,
  req: EngineRequest,
  env: Env,
  t: AskTimeouts,
  opts: AskOptions,
  /** No daemon directory or socket yet: nothing to connect to (one planted meanwhile is not asked). */
  absent: boolean,
): Promise<EngineResult | undefined> {
  try {
    const msg: ClientMessage = { v: PROTOCOL_VERSION, id: nextId++, req, ctx: contextFingerprint(env), ...callerEnv(files.dir, env) };
    if (attempt.deadline !== undefined) msg.deadline = attempt.deadline;
    let verdict: Verdict = absent ? { kind: 'absent' } : judge(await attempt.ask(msg), msg.id);
    // A daemon that came up (or reloaded its config) after we read env-names.json: once more, with
    // the variables it now lists. Still lacking them means resolving in process.
    if (verdict.kind === 'resend') verdict = judge(await attempt.ask({ ...msg, ...callerEnv(files.dir, env) }), msg.id);
    if (verdict.kind === 'answer') return verdict.result;
    if (verdict.kind === 'resend') return undefined;
    if (verdict.kind === 'in-process') return undefined;
    if (verdict.kind === 'older') await retire(files, verdict.protocol, t);
    if (opts.startInBackground) {
      await bringUp(files, env, 0, true);
      return undefined;
    }
    if (!(await bringUp(files, env, opts.startWaitMs ?? START_WAIT_MS))) return undefined;
    // The daemon just came up and published what its rules read: send our values for those.
    const again: ClientMessage = { ...msg, ...callerEnv(files.dir, env) };
    verdict = judge(await attempt.ask(again), msg.id);
    return verdict.kind === 'answer' ? verdict.result : undefined;
  } catch {
    return undefined; // e.g. an unreadable runtime dir: resolving in process still works
  }
}

/** How long the daemon may take to commit a write before it must refuse it (src/ipc/deadline.ts). */
export const WRITE_DEADLINE_MS = 1_000;

/** A store or erase carries a deadline; a get or list needs none (answering one late changes nothing). */
function writeDeadline(req: EngineRequest): number | undefined {
  return req.op === 'store' || req.op === 'erase' ? monotonicMs() + WRITE_DEADLINE_MS : undefined;
}

/** Our values of the variables the daemon's rules read (it lists their names beside the socket). */
function callerEnv(dir: string, env: Env): { env?: CallerEnv } {
  const names = readEnvNames(dir);
  if (names.length === 0) return {};
  const out: CallerEnv = {};
  for (const name of names) out[name] = env[name] ?? null;
  return { env: out };
}

/**
 * Asks an older daemon to shut down (in its own protocol version: the shutdown form is the one
 * message every version keeps), then waits briefly for it to let go of the lock.
 */
async function retire(files: DaemonFiles, protocol: number, t: AskTimeouts): Promise<void> {
  await ask(files.socket, { v: protocol, id: 0, ctl: 'shutdown' }, { connectMs: t.connectMs, answerMs: 1_000 });
  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline && currentHolder(files.dir)) await sleep(10);
}

/** After a spawned daemon failed to start, clients resolve in process this long before trying again. */
export const FAILED_START_BACKOFF_MS = 60_000;

/**
 * Makes sure a daemon is coming up and waits for its socket. Spawns only when no live process
 * holds the lock (one that does is starting, or stopping); never more than one per call.
 */
async function bringUp(files: DaemonFiles, env: Env, waitMs: number, spawnOnly = false): Promise<boolean> {
  if (waitMs <= 0 && !spawnOnly) return false;
  try {
    // Creating the directory here (0700, as the daemon would) turns a directory that cannot exist or
    // is unsafe into "no spawn", instead of a daemon that starts only to refuse, on every call.
    ensurePrivateDir(files.dir);
  } catch {
    return false;
  }
  let child: SpawnedDaemon | undefined;
  let failed = false;
  if (!currentHolder(files.dir)) {
    if (recentlyFailed(files.failedMarker)) return false;
    const spawned = spawnLockedDaemon(env, files.dir);
    if (!spawned) return false;
    if (spawned !== 'busy') {
      child = spawned;
      // A daemon that lost the lock race exits EXIT_BUSY: another one is coming, keep waiting.
      child.onExit((code) => {
        if (code !== EXIT_BUSY) failed = true;
      });
    }
  }
  if (spawnOnly) return false;
  const wait = startWait(waitMs, START_WAIT_CAP_MS, undefined, () => daemonStarving(files.dir, child?.pid));
  let pause = FIRST_POLL_MS;
  while (!failed && !wait.over()) {
    if (await canConnect(files.socket, 50)) return true;
    await wait.sleep(pause);
    pause = Math.min(pause * 2, LAST_POLL_MS);
  }
  if (failed) markFailed(files.failedMarker);
  return false;
}

/**
 * Polls for the socket start at 5 ms (a daemon is up in ~100 ms on an idle machine) and back off to
 * 50 ms: every wake-up costs a waiting helper CPU (0.3–0.8 ms on a loaded 2-core machine, measured),
 * and 200 helpers polling every 5 ms wanted more CPU than the machine had, starving the very daemon
 * they waited for.
 */
const FIRST_POLL_MS = 5;
const LAST_POLL_MS = 50;

/**
 * A daemon start needs 0.1–0.3 s of CPU (more on a slow machine). One that is alive, not yet
 * listening, and has had less than this much CPU is waiting for a CPU, not stuck: worth waiting for,
 * up to START_WAIT_CAP_MS. One that has had more is stuck, and waiting longer would not help; nor
 * would it for one that is stopped (^Z on `credmux daemon run`).
 */
export const START_CPU_BUDGET_MS = 2_000;

/** Is the daemon that is starting (the lock holder, else the one this call spawned) alive, able to run, and still short of CPU? */
function daemonStarving(dir: string, spawnedPid: number | undefined): boolean {
  const pid = currentHolder(dir)?.pid ?? spawnedPid;
  if (pid === undefined) return false;
  const p = processProgress(pid);
  return p !== undefined && !p.stopped && p.cpuMs < START_CPU_BUDGET_MS;
}

/** Oversleeping by this much is timer granularity, not a machine too busy to run us. */
const OVERSLEEP_SLACK_MS = 2;

/**
 * The wait for a starting daemon, counted in time this process could run: whatever a sleep
 * oversleeps (we were runnable, waiting for a CPU) moves the deadline; past the deadline, the wait
 * goes on while `starving()` says the daemon has not yet had the CPU a start needs; never beyond
 * START_WAIT_CAP_MS in all. Why: 200 helpers starting at once on 2 cores starve the daemon they
 * started, and a wall-clock wait gave up on it while it was still starting (seen in CI: 44, and with
 * the oversleep rule alone still 61, of 200 helpers sent to resolve in process, each running its own
 * token exchange on those same starved cores into the 10 s HTTP deadline). The scheduler favours a
 * helper waking from a short sleep over a daemon that has been running, so the helper's own
 * oversleep understates the daemon's starvation; the daemon's CPU time (Linux) says it directly.
 * On an idle machine it is the plain wait it always was.
 */
export function startWait(
  waitMs: number,
  capMs = START_WAIT_CAP_MS,
  clock: { now(): number; sleep(ms: number): Promise<void> } = { now: Date.now, sleep },
  starving: () => boolean = () => false,
) {
  const start = clock.now();
  let deadline = start + waitMs;
  return {
    over(): boolean {
      const t = clock.now();
      if (t - start >= capMs) return true;
      return t >= deadline && !starving();
    },
    async sleep(ms: number): Promise<void> {
      const before = clock.now();
      await clock.sleep(ms);
      deadline += Math.max(0, clock.now() - before - ms - OVERSLEEP_SLACK_MS);
    },
  };
}

function recentlyFailed(marker: string): boolean {
  try {
    return Date.now() - statSync(marker).mtimeMs < FAILED_START_BACKOFF_MS;
  } catch {
    return false;
  }
}

function markFailed(marker: string): void {
  try {
    writeFileSync(marker, `${new Date().toISOString()}\n`, { mode: 0o600 });
  } catch {
    // best effort: without the marker the next call just tries again
  }
}
