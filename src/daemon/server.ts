// The socket side of the daemon: framing, per-connection idle time, and a drain on shutdown.
// Requests on one connection are answered as they complete (ids say which is which), so a slow
// source never holds up a fast lookup behind it.
import { createServer, type Server, type Socket } from 'node:net';
import { encode, LineSplitter, MAX_MESSAGE_BYTES, wireError, type DaemonMessage } from './codec.js';

export interface ConnectionServerOptions {
  /** The reply to one line: at once when it is at hand, else a promise that never rejects. */
  answer: (line: string) => DaemonMessage | undefined | Promise<DaemonMessage | undefined>;
  /** A connection with no request in flight and no bytes for this long is closed. */
  connectionIdleMs: number;
  maxMessageBytes?: number;
}

export interface ConnectionServer {
  server: Server;
  /** Requests being answered, across connections. */
  inflight(): number;
  open(): number;
  total(): number;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  drain(graceMs: number): Promise<void>;
}

interface Conn {
  socket: Socket;
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

  const maybeEnd = (c: Conn) => {
    if (c.closing && c.inflight === 0 && !c.socket.destroyed) c.socket.end();
  };

  // Idle connections are found by one sweep rather than a timer per socket: Node re-arms a socket's
  // timer on every read and every write, which a busy daemon would pay twice per request.
  const idleMs = opts.connectionIdleMs;
  const sweeper = setInterval(
    () => {
      const now = performance.now();
      for (const c of conns) if (c.inflight === 0 && now - c.lastActive >= idleMs) c.socket.destroy();
    },
    Math.max(10, Math.min(idleMs / 4, 5_000)),
  );
  sweeper.unref();

  // allowHalfOpen: a client may shut its write side after sending (as git's cache client does) and
  // still read the answers.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    total++;
    const c: Conn = { socket, inflight: 0, closing: draining, lastActive: performance.now() };
    conns.add(c);
    const splitter = new LineSplitter(opts.maxMessageBytes ?? MAX_MESSAGE_BYTES);
    const send = (msg: DaemonMessage) => {
      if (!socket.destroyed && socket.writable) {
        c.lastActive = performance.now();
        socket.write(encode(msg));
      }
    };
    const settled = (reply: DaemonMessage | undefined) => {
      c.inflight--;
      inflight--;
      if (reply) send(reply);
      maybeEnd(c);
      if (draining && inflight === 0) drained?.();
    };
    socket.on('data', (chunk: Buffer) => {
      c.lastActive = performance.now();
      if (c.closing && draining) return; // no new work while draining
      const items = splitter.push(chunk);
      // Several lines in one chunk (a client sending ahead): their immediate replies leave in one write.
      const corked = items.length > 1;
      if (corked) socket.cork();
      for (const item of items) {
        if (typeof item !== 'string') {
          send(wireError(null, 'too-large', `message longer than ${opts.maxMessageBytes ?? MAX_MESSAGE_BYTES} bytes; the line was skipped`));
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
        if (reply instanceof Promise) reply.then(settled, () => settled(undefined)); // never rejects; belt and braces
        else settled(reply);
      }
      if (corked) socket.uncork();
    });
    socket.on('end', () => {
      c.closing = true;
      maybeEnd(c);
    });
    socket.on('error', () => {
      // A client that vanished (EPIPE, ECONNRESET): nothing to tell anyone.
    });
    socket.on('close', () => conns.delete(c));
    maybeEnd(c);
  });
  server.maxConnections = 1024;
  server.on('close', () => clearInterval(sweeper));

  return {
    server,
    inflight: () => inflight,
    open: () => conns.size,
    total: () => total,
    async drain(graceMs) {
      draining = true;
      clearInterval(sweeper);
      server.close();
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
      for (const c of conns) c.socket.destroy();
    },
  };
}
