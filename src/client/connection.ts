// One question to the daemon over a fresh connection, with a bound on connecting and on answering.
// Every way it can go wrong is an outcome, never an exception: the caller decides what it means.
import { dial } from './pipe.js';
import { decodeDaemonLine, encode, LineSplitter, type ClientMessage, type DaemonMessage } from '../ipc/codec.js';

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
    const finish = (o: AskOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(quiet);
      if (t.leaveOpen && o.kind === 'reply') conn.release();
      else conn.destroy();
      resolve(o);
    };
    const patience = t.patience;
    let quiet: NodeJS.Timeout | undefined;
    let looks = 0;
    const lookAfter = (ms: number) => {
      clearTimeout(quiet);
      const look = ++looks;
      // The look runs one turn after its timer, so whatever arrived while this process was not
      // running (progress waiting in the socket) is read first and cancels it.
      quiet = setTimeout(
        () =>
          setImmediate(() => {
            if (done || look !== looks) return;
            const next = patience!.look();
            if (typeof next === 'string') finish({ kind: 'stuck', why: next });
            else lookAfter(next);
          }),
        ms,
      );
    };
    // On a loaded machine the timer can fire in the same turn as a connect that already completed;
    // deferring the verdict by one turn lets the finished connect win.
    let timer = setTimeout(() => setImmediate(() => connected || finish({ kind: 'unreachable', why: 'connect timed out' })), t.connectMs);
    const splitter = new LineSplitter(MAX_REPLY_BYTES);
    const conn = dial(socketPath, {
      connect() {
        connected = true;
        clearTimeout(timer);
        timer = setTimeout(() => finish({ kind: 'lost', why: 'no answer in time' }), t.answerMs);
        if (patience) lookAfter(patience.firstLookMs);
        conn.write(encode(msg));
      },
      data(chunk) {
        for (const line of splitter.push(chunk)) {
          if (typeof line !== 'string') return finish({ kind: 'lost', why: 'oversized reply' });
          const reply = decodeDaemonLine(line);
          if (reply && 'progress' in reply) {
            // Still working on it (a slow source): not an answer, but a sign of life.
            if (reply.id === msg.id && patience) lookAfter(patience.alive());
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
