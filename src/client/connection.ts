// One question to the daemon over a fresh connection, with a bound on connecting and on answering.
// Every way it can go wrong is an outcome, never an exception: the caller decides what it means.
import { dial } from './pipe.js';
import { decodeDaemonLine, encode, LineSplitter, type ClientMessage, type DaemonMessage } from '../ipc/codec.js';
import { monotonicMs } from '../ipc/deadline.js';
import { wakeAfter, type Wake } from '../platform/wake-after.js';

export type AskOutcome =
  | { kind: 'reply'; msg: DaemonMessage }
  /** Nobody listens: no socket file (ENOENT), a stale one (ECONNREFUSED), or one just torn down. */
  | { kind: 'absent' }
  /** Could not connect in time, or another connect error: a daemon may exist but is not usable now. */
  | { kind: 'unreachable'; why: string }
  /** Connected, then closed, reset or silent before the answer (e.g. the daemon died mid-request). */
  | { kind: 'lost'; why: string }
  /** Connected and sent, then no answer and no progress, and the patience gave up (patience.ts says why). */
  | { kind: 'stuck'; why: string };

export interface AskTimeouts {
  connectMs: number;
  /** The longest an answer may take, progress or not. */
  answerMs: number;
  /** Judges a daemon that sends nothing for a while (patience.ts); without one, only answerMs bounds the wait. */
  patience?: Patience;
  /** The process exits once it has the answer: leave the connection for the kernel to close (pipe.ts, release). */
  leaveOpen?: boolean;
}

/** What ask() consults while the daemon is silent after the request went out. */
export interface Patience {
  /** ms from sending, and from each progress message, to the first look. */
  readonly firstLookMs: number;
  /** Nothing heard since the last look: ms until the next one, or why to give up. */
  look(): number | string;
  /** The daemon sent progress for our request: it is working on it. Returns ms until the next look. */
  alive(): number;
}

// Status replies list cache entries; allow them more room than requests.
const MAX_REPLY_BYTES = 8 << 20;

export function ask(socketPath: string, msg: ClientMessage, t: AskTimeouts): Promise<AskOutcome> {
  return new Promise((resolve) => {
    let connected = false;
    let done = false;
    const patience = t.patience;
    // One wake-up at a time, for every bound of the call: connecting, the patience's looks, answering.
    // A warm answer arrives long before the first, so it arms one and cancels it; and not with Node's
    // timers, whose first use costs a warm answer ~0.3 ms (src/platform/wake-after.ts). The bounds are
    // counted from the first tick, taken as firstTickMs after the call began (the clock is read only
    // once the call is slow).
    const firstTickMs = Math.min(t.connectMs, t.answerMs, patience?.firstLookMs ?? Infinity);
    let began: number | undefined;
    let nextLookAt: number | undefined;
    let wake: Wake | undefined;
    const arm = (ms: number) => {
      wake?.cancel();
      // The tick runs one turn after its wake-up: whatever arrived while this process was not running
      // (a connect that completed, progress waiting in the socket) is handled first, and may re-arm.
      const mine: Wake = wakeAfter(ms, () => setImmediate(() => wake === mine && tick()));
      wake = mine;
    };
    const finish = (o: AskOutcome) => {
      if (done) return;
      done = true;
      wake?.cancel();
      if (t.leaveOpen && o.kind === 'reply') conn.release();
      else conn.destroy();
      resolve(o);
    };
    /** ms since the call began; the first reading fixes when that was (firstTickMs before the first tick). */
    const ageAt = (now: number) => now - (began ??= now - firstTickMs);
    /** The next tick: at the next look or at the answer bound, whichever comes first. */
    const armNext = (now: number) => arm(Math.min(nextLookAt === undefined ? Infinity : nextLookAt - now, t.answerMs - ageAt(now)));
    const tick = () => {
      if (done) return;
      const now = monotonicMs();
      const age = ageAt(now);
      if (!connected) {
        if (age >= t.connectMs) return finish({ kind: 'unreachable', why: 'connect timed out' });
        return arm(t.connectMs - age);
      }
      if (age >= t.answerMs) return finish({ kind: 'lost', why: 'no answer in time' });
      if (patience) {
        nextLookAt ??= now;
        if (now >= nextLookAt) {
          const next = patience.look();
          if (typeof next === 'string') return finish({ kind: 'stuck', why: next });
          nextLookAt = now + next;
        }
      }
      armNext(now);
    };
    arm(firstTickMs);
    const splitter = new LineSplitter(MAX_REPLY_BYTES);
    const conn = dial(socketPath, {
      connect() {
        connected = true;
        conn.write(encode(msg));
        // A slow connect (the first tick came and went, the wake-up now waits for the connect bound):
        // the first look is due firstLookMs from now, not at that bound.
        if (began !== undefined && patience) {
          const now = monotonicMs();
          nextLookAt = now + patience.firstLookMs;
          armNext(now);
        }
      },
      data(chunk) {
        for (const line of splitter.push(chunk)) {
          if (typeof line !== 'string') return finish({ kind: 'lost', why: 'oversized reply' });
          const reply = decodeDaemonLine(line);
          if (reply && 'progress' in reply) {
            // Still working on it (a slow source): not an answer, but a sign of life. The next look
            // moves out; the answer bound stands (the next tick is due no later than it).
            if (reply.id === msg.id && patience && !done) {
              const now = monotonicMs();
              nextLookAt = now + patience.alive();
              armNext(now);
            }
            continue;
          }
          // A reply to another id cannot happen on our own connection; skip it rather than misread it.
          if (reply && (reply.id === msg.id || reply.id === null)) return finish({ kind: 'reply', msg: reply });
          if (!reply) return finish({ kind: 'lost', why: 'unreadable reply' });
        }
      },
      error(code, wasConnected) {
        // ECONNRESET before the connection is made: the listener was torn down as we came (a daemon just died).
        if (!wasConnected && (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET')) finish({ kind: 'absent' });
        else if (!wasConnected) finish({ kind: 'unreachable', why: code });
        else finish({ kind: 'lost', why: code });
      },
      close: () => finish({ kind: 'lost', why: 'connection closed' }),
    });
  });
}

/** Resolves true once something accepts connections at `socketPath`. */
export function canConnect(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let connected = false;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => setImmediate(() => connected || finish(false)), timeoutMs); // see ask()
    const conn = dial(socketPath, {
      connect() {
        connected = true;
        finish(true);
      },
      data() {},
      error: () => finish(false),
      close: () => finish(false),
    });
  });
}
