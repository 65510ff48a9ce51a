// How long a helper waits for a daemon that has its request and says nothing. A daemon answers from
// memory within a millisecond and, while a slow answer is under way, sends progress every 250 ms
// (src/daemon/progress.ts); silence means it is stopped (SIGSTOP, ^Z), stuck (a blocked or spinning
// event loop), not a daemon at all (a process that accepts on the socket and never answers), or
// starved of CPU by a burst of helpers. Only the last is worth waiting for.
//
// So, once nothing has come for FIRST_LOOK_MS, the helper looks (slow path only: a healthy daemon has
// answered by then, and the warm path reads no file for this):
// - a marker left by an earlier helper naming this very daemon as silent (src/ipc/stuck-marker.ts),
//   still fresh: give up at once — later calls learn from the first instead of each waiting again;
// - the lock holder gone, or stopped (Linux /proc): give up at once;
// - otherwise wait, looking every LOOK_EVERY_MS, until the daemon has had QUIET_LIMIT_MS of silence
//   in which it could have run — then give up and leave the marker. Time the daemon spent waiting
//   for a CPU (the intervals between looks in which it was runnable and got under STARVED_SHARE of a
//   CPU, and its run-queue wait in /proc/<pid>/schedstat) does not count, nor does time this process
//   could not run (its own timers late); never wait past `capMs` of silence in all, and do not leave
//   the marker then unless the daemon had its chance;
// - for a write, never past its deadline (`until`): after it, the daemon will not commit it anyway.
// Why the daemon's own waiting, summed over the silence, and not its state at one look: a daemon
// starved by a burst of helpers on 2 cores is runnable for seconds, runs a few ms, and sleeps a
// moment; judged by the one look that caught it asleep, it was given up on and marked stuck, and
// every helper after it skipped it and minted its own token (seen in CI: 107 of 200).
// After progress the next look is due only once the next progress is late (AFTER_PROGRESS_LOOK_MS),
// and while the daemon waits for a CPU the looks back off (MAX_LOOK_EVERY_MS): a burst of helpers
// waiting on one slow exchange leaves the CPU to the daemon.
// Give up means: the helper resolves in process. The whole wait stays well inside 2 s of the helper's
// start for a stopped or stuck daemon (tests assert bounds), while a starved one is not deserted.
import { currentHolder, type Holder } from '../ipc/lock.js';
import { isFresh, markStuck, names, readStuckMarker, socketIdentity, type DaemonIdentity, type StuckMarker } from '../ipc/stuck-marker.js';
import { monotonicMs } from '../ipc/deadline.js';
import { processAlive, processProgress, type ProcessProgress } from '../platform/liveness.js';
import type { Patience } from './connection.js';

export const FIRST_LOOK_MS = 50;
export const LOOK_EVERY_MS = 100;
/** The daemon sends progress every 250 ms (src/daemon/progress.ts): look once two are missed. */
export const AFTER_PROGRESS_LOOK_MS = 600;
/**
 * While the daemon is waiting for a CPU (or we are), looks come less and less often, up to this:
 * each costs a few /proc reads, and 200 helpers looking every 100 ms at a daemon starved by them
 * took the CPU it needed (seen: a daemon that read no request for 5 s). A look after a long gap
 * counts that whole gap, so a daemon that is stuck rather than starved is still found at the next.
 */
export const MAX_LOOK_EVERY_MS = 1_000;
export const QUIET_LIMIT_MS = 750;
/** Below this share of one CPU over a look's interval, a runnable daemon is waiting for a CPU. */
export const STARVED_SHARE = 0.25;
/** Oversleeping by this much is timer granularity, not a machine too busy to run us. */
const OVERSLEEP_SLACK_MS = 2;

export type GiveUpReason =
  /** A fresh marker names this daemon: an earlier helper found it silent. */
  | 'marked'
  /** The lock holder is stopped (SIGSTOP, ^Z, a debugger). */
  | 'stopped'
  /** The lock holder exited while we waited. */
  | 'gone'
  /** QUIET_LIMIT_MS of silence in which the daemon could run (or the cap): stuck, or not a daemon. */
  | 'silent'
  /** A write's deadline passed: the daemon will refuse it now. */
  | 'deadline';

export interface Judgement {
  why: GiveUpReason;
  /** Who was judged: the lock holder, else the socket (for the marker). */
  who?: DaemonIdentity;
  holder?: Holder;
  /** The marker as it stands after this judgement (written or read), when there is one. */
  marker?: StuckMarker;
}

export interface PatienceOptions {
  /** The daemon directory (lock, marker) and socket path. */
  dir: string;
  socket: string;
  /** Monotonic ms (src/ipc/deadline.ts) past which waiting is pointless: a write's deadline. */
  until?: number;
  /**
   * However starved the daemon, no more silence than this. Counted from the last sign of life, not from
   * the start: a daemon that keeps sending progress is working (a slow exchange), and only the answer
   * timeout (connection.ts) bounds that. Counted from the start, a burst of helpers waiting on one slow
   * exchange gave up on a healthy daemon at the cap, each minted its own token, and marked it stuck.
   */
  capMs: number;
  /** Injectable for tests: the clock (monotonic ms), the lock holder, a process's progress and liveness. */
  now?: () => number;
  holder?: () => Holder | undefined;
  progress?: typeof processProgress;
  alive?: typeof processAlive;
}

export interface DaemonPatience extends Patience {
  /** Why the helper gave up, once it has. */
  readonly judgement: Judgement | undefined;
}

export function daemonPatience(o: PatienceOptions): DaemonPatience {
  // Not performance.now(): the `performance` global loads perf_hooks and ten internal perf modules on
  // first touch, ~1 ms of a warm helper answer (process.moduleLoadList and --cpu-prof, Node 20).
  const now = o.now ?? monotonicMs;
  const progressOf = o.progress ?? ((pid: number) => processProgress(pid, { withWait: true }));
  const isAlive = o.alive ?? processAlive;
  const holderNow = o.holder ?? (() => safeHolder(o.dir));
  let quietFrom = now();
  /**
   * Time since quietFrom that is not the daemon's silence, summed look by look: in each interval,
   * the longer of the time this process was runnable but not run (its look late) and the time the
   * daemon waited for a CPU. The longer, not the sum: both wait on the same CPUs at once.
   */
  let excused = 0;
  let nextAt = quietFrom + FIRST_LOOK_MS;
  let lookedAt = quietFrom;
  let every = LOOK_EVERY_MS;
  let looked = false;
  let holder: Holder | undefined;
  let who: DaemonIdentity | undefined;
  let last: { at: number; p: ProcessProgress } | undefined;
  let judgement: Judgement | undefined;

  const giveUp = (why: GiveUpReason, mark = false, marker?: StuckMarker): string => {
    if (mark && who) marker = markStuck(o.dir, who);
    judgement = { why, who, holder, marker };
    return why;
  };

  return {
    firstLookMs: FIRST_LOOK_MS,
    get judgement() {
      return judgement;
    },
    alive() {
      quietFrom = now();
      excused = 0;
      every = LOOK_EVERY_MS;
      lookedAt = quietFrom;
      nextAt = quietFrom + AFTER_PROGRESS_LOOK_MS;
      return AFTER_PROGRESS_LOOK_MS;
    },
    look() {
      const t = now();
      const late = Math.max(0, t - nextAt - OVERSLEEP_SLACK_MS);
      let daemonWaited = 0;
      if (!looked) {
        looked = true;
        holder = holderNow();
        const sock = holder ? undefined : socketIdentity(o.socket);
        who = holder ? { pid: holder.pid, start: holder.start } : sock === undefined ? undefined : { socket: sock };
        const m = who && readStuckMarker(o.dir);
        if (m && who && names(m, who) && isFresh(m)) return giveUp('marked', false, m);
      }
      if (holder) {
        if (!isAlive(holder.pid, holder.start)) return giveUp('gone');
        const p = progressOf(holder.pid);
        if (p?.stopped) return giveUp('stopped');
        if (p) {
          if (last) daemonWaited = waitedBetween(last, { at: t, p }, quietFrom);
          last = { at: t, p };
        }
      }
      if (o.until !== undefined && monotonicMs() >= o.until) return giveUp('deadline');
      // Silence in which the daemon could have run, and we could have heard it.
      const waited = Math.max(late, daemonWaited);
      excused += waited;
      const silence = t - quietFrom - excused;
      if (t - quietFrom >= o.capMs) return giveUp('silent', silence >= QUIET_LIMIT_MS);
      if (silence >= QUIET_LIMIT_MS) return giveUp('silent', true);
      every = waited * 2 > t - lookedAt ? Math.min(every * 2, MAX_LOOK_EVERY_MS) : LOOK_EVERY_MS;
      lookedAt = t;
      let wait = Math.min(every, Math.max(1, o.capMs - (t - quietFrom)));
      if (o.until !== undefined) wait = Math.max(1, Math.min(wait, o.until - monotonicMs() + 1));
      nextAt = t + wait;
      return wait;
    },
  };
}

/**
 * How long the daemon waited for a CPU between two looks, counting only time since `from`: all of it
 * when it was runnable at either look and got under STARVED_SHARE of a CPU between them (either look:
 * a starved daemon runs a moment now and then, and one look may catch it asleep); else its run-queue
 * wait, where the kernel keeps it. Not the run-queue wait alone: the kernel adds a wait to it only
 * once the task gets a CPU, so a wait still under way shows nowhere but in the task's state.
 */
function waitedBetween(a: { at: number; p: ProcessProgress }, b: { at: number; p: ProcessProgress }, from: number): number {
  const span = b.at - Math.max(a.at, from);
  if (span <= 0) return 0;
  const starved = (a.p.runnable || b.p.runnable) && b.p.cpuMs - a.p.cpuMs < STARVED_SHARE * (b.at - a.at);
  if (starved) return span;
  if (a.p.waitMs !== undefined && b.p.waitMs !== undefined) return Math.min(span, Math.max(0, b.p.waitMs - a.p.waitMs));
  return 0;
}

function safeHolder(dir: string): Holder | undefined {
  try {
    return currentHolder(dir);
  } catch {
    return undefined;
  }
}
