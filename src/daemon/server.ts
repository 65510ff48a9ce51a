// The socket side of the daemon: framing, per-connection idle time, and a drain on shutdown.
// Requests on one connection are answered as they complete (ids say which is which), so a slow
// source never holds up a fast lookup behind it. The bytes move through listener.ts.
import { encode, LineSplitter, MAX_MESSAGE_BYTES, wireError, type DaemonMessage } from '../ipc/codec.js';
import { createListener, type ServedConnection } from './listener.js';
import { ProgressTicker } from './progress.js';

export interface ConnectionServerOptions {
  /**
   * The reply to one line: at once when it is at hand, else a promise that never rejects. A promise
   * carrying its request's id (dispatch.ts PendingReply) gets progress messages while it is pending.
   */
  answer: (line: string) => DaemonMessage | undefined | (Promise<DaemonMessage | undefined> & { requestId?: number });
  /** A connection with no request in flight and no bytes for this long is closed. */
  connectionIdleMs: number;
  maxMessageBytes?: number;
  /** A connection the socket could not accept (EMFILE…), by errno name. */
  onAcceptError?: (code: string) => void;
  /** Each time progress goes out to waiting requests (progress.ts). */
  onProgressTick?: () => void;
}

export interface ConnectionServer {
  /** Listens on a Unix socket path; rejects with an Error carrying the errno name in `code`. */
  listen(path: string): Promise<void>;
  /** Requests being answered, across connections. */
  inflight(): number;
  open(): number;
  total(): number;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  drain(graceMs: number): Promise<void>;
}

/** Connections served at once; more are closed as they arrive (their helpers resolve in process). */
const MAX_CONNECTIONS = 1024;

interface Conn {
  conn: ServedConnection;
  inflight: number;
  /** performance.now() of the last bytes in or out. */
  lastActive: number;
  /** The client finished sending (half-close) or we are draining: end once nothing is in flight. */
  closing: boolean;
}

export function createConnectionServer(opts: ConnectionServerOptions): ConnectionServer {
  const conns = new Set<Conn>();
  let inflight = 0;
  let total = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  const maxBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const progress = new ProgressTicker(undefined, opts.onProgressTick);

  const maybeEnd = (c: Conn) => {
    if (c.closing && c.inflight === 0 && !c.conn.destroyed) c.conn.end();
  };

  // Idle connections are found by one sweep rather than a timer per connection, which a busy daemon
  // would re-arm twice per request.
  const idleMs = opts.connectionIdleMs;
  const sweeper = setInterval(
    () => {
      const now = performance.now();
      for (const c of conns) if (c.inflight === 0 && now - c.lastActive >= idleMs) c.conn.destroy();
    },
    Math.max(10, Math.min(idleMs / 4, 5_000)),
  );
  sweeper.unref();

  const listener = createListener((conn) => {
    total++;
    const c: Conn = { conn, inflight: 0, closing: draining, lastActive: performance.now() };
    const splitter = new LineSplitter(maxBytes);
    // While the lines of one chunk are answered: their immediate replies, written together after.
    let batch: string | undefined;
    const send = (msg: DaemonMessage) => {
      if (conn.destroyed) return;
      c.lastActive = performance.now();
      if (batch !== undefined) batch += encode(msg);
      else conn.write(encode(msg));
    };
    const settled = (reply: DaemonMessage | undefined) => {
      c.inflight--;
      inflight--;
      if (reply) send(reply);
      if (batch === undefined) maybeEnd(c); // else after the batch is written
      if (draining && inflight === 0) drained?.();
    };
    if (conns.size >= MAX_CONNECTIONS) {
      conn.destroy();
      return { data() {}, end() {}, close() {} };
    }
    conns.add(c);
    queueMicrotask(() => maybeEnd(c)); // accepted while draining: ends at once
    return {
      data(chunk) {
        c.lastActive = performance.now();
        if (c.closing && draining) return; // no new work while draining
        batch = '';
        for (const item of splitter.push(chunk)) {
          if (typeof item !== 'string') {
            send(wireError(null, 'too-large', `message longer than ${maxBytes} bytes; the line was skipped`));
            continue;
          }
          // In flight while it is answered, even at once: answering can stop the daemon (an upgrade
          // noticed), and the drain that follows must still let this reply out.
          c.inflight++;
          inflight++;
          let reply: ReturnType<ConnectionServerOptions['answer']>;
          try {
            reply = opts.answer(item);
          } catch {
            reply = undefined; // answer() turns every failure into a reply; a throw would be a bug, not the client's
          }
          if (reply instanceof Promise) {
            const done = reply.requestId === undefined ? undefined : progress.track(reply.requestId, send);
            reply.then(
              (r) => (done?.(), settled(r)),
              () => (done?.(), settled(undefined)), // never rejects; belt and braces
            );
          } else settled(reply);
        }
        const out = batch;
        batch = undefined;
        if (out && !conn.destroyed) conn.write(out);
        maybeEnd(c);
      },
      end() {
        c.closing = true;
        maybeEnd(c);
      },
      close() {
        conns.delete(c);
      },
    };
  }, opts.onAcceptError);

  return {
    listen: (path) => listener.listen(path),
    inflight: () => inflight,
    open: () => conns.size,
    total: () => total,
    async drain(graceMs) {
      draining = true;
      clearInterval(sweeper); // progress goes on: the requests still in flight are answered during the drain
      listener.close();
      const done = new Promise<void>((resolve) => {
        drained = resolve;
        if (inflight === 0) resolve();
      });
      for (const c of conns) {
        c.closing = true;
        maybeEnd(c);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      for (const c of conns) c.conn.destroy();
    },
  };
}
