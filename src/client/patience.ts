// How long a helper waits for a daemon that has its request and says nothing. A daemon answers from
// memory within a millisecond and, while a slow answer is under way, sends progress every 100 ms
// (src/daemon/progress.ts); silence means it is stopped (SIGSTOP, ^Z), stuck (a blocked or spinning
// event loop), not a daemon at all (a process that accepts on the socket and never answers), or
// starved of CPU by a burst of helpers. Only the last is worth waiting for.
//
// So, once nothing has come for FIRST_LOOK_MS, the helper looks (slow path only: a healthy daemon has
// answered by then, and the warm path reads no file for this):
// - a marker left by an earlier helper naming this very daemon as silent (src/ipc/stuck-marker.ts),
//   still fresh: give up at once — later calls learn from the first instead of each waiting again;
// - the lock holder gone, or stopped (Linux /proc): give up at once;
// - otherwise wait, looking every LOOK_EVERY_MS, until QUIET_LIMIT_MS of silence — counted in time
//   this process could run, as startWait counts it (daemon-client.ts) — then give up and leave the
//   marker; past that limit, wait on only while the holder is runnable and getting under
//   STARVED_SHARE of a CPU (waiting for a CPU, not stuck), and never past `capMs` of silence;
// - for a write, never past its deadline (`until`): after it, the daemon will not commit it anyway.
// Give up means: the helper resolves in process. The whole wait stays well inside 2 s of the helper's
// start for a stopped or stuck daemon (tests assert bounds), while a starved one is not deserted.
import { currentHolder, type Holder } from '../ipc/lock.js';
import { isFresh, markStuck, names, readStuckMarker, socketIdentity, type DaemonIdentity, type StuckMarker } from '../ipc/stuck-marker.js';
import { monotonicMs } from '../ipc/deadline.js';
import { processAlive, processProgress } from '../platform/liveness.js';
import type { Patience } from './connection.js';

export const FIRST_LOOK_MS = 50;
export const LOOK_EVERY_MS = 100;
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
  /** Nothing for QUIET_LIMIT_MS (or the cap) and not starved: stuck, or not a daemon. */
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
  const progressOf = o.progress ?? processProgress;
  const isAlive = o.alive ?? processAlive;
  const holderNow = o.holder ?? (() => safeHolder(o.dir));
  let quietFrom = now();
  /** Time this process was runnable but not run since quietFrom: not the daemon's silence. */
  let credit = 0;
  let nextAt = quietFrom + FIRST_LOOK_MS;
  let looked = false;
  let holder: Holder | undefined;
  let who: DaemonIdentity | undefined;
  let last: { at: number; cpuMs: number } | undefined;
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
      credit = 0;
      nextAt = quietFrom + FIRST_LOOK_MS;
    },
    look() {
      const t = now();
      credit += Math.max(0, t - nextAt - OVERSLEEP_SLACK_MS);
      if (!looked) {
        looked = true;
        holder = holderNow();
        const sock = holder ? undefined : socketIdentity(o.socket);
        who = holder ? { pid: holder.pid, start: holder.start } : sock === undefined ? undefined : { socket: sock };
        const m = who && readStuckMarker(o.dir);
        if (m && who && names(m, who) && isFresh(m)) return giveUp('marked', false, m);
      }
      let starving = false;
      if (holder) {
        if (!isAlive(holder.pid, holder.start)) return giveUp('gone');
        const p = progressOf(holder.pid);
        if (p?.stopped) return giveUp('stopped');
        if (p) {
          if (last && p.runnable) starving = p.cpuMs - last.cpuMs < STARVED_SHARE * (t - last.at);
          last = { at: t, cpuMs: p.cpuMs };
        }
      }
      if (o.until !== undefined && monotonicMs() >= o.until) return giveUp('deadline');
      if (t - quietFrom >= o.capMs) return giveUp('silent', !starving);
      if (t - quietFrom - credit >= QUIET_LIMIT_MS && !starving) return giveUp('silent', true);
      let wait = LOOK_EVERY_MS;
      if (o.until !== undefined) wait = Math.max(1, Math.min(wait, o.until - monotonicMs() + 1));
      nextAt = t + wait;
      return wait;
    },
  };
}

function safeHolder(dir: string): Holder | undefined {
  try {
    return currentHolder(dir);
  } catch {
    return undefined;
  }
}
