// The socket side of the daemon: framing, per-connection idle time, and a drain on shutdown.
// Requests on one connection are answered as they complete (ids say which is which), so a slow
// source never holds up a fast lookup behind it.
import { createServer, type Server, type Socket } from 'node:net';
import { encode, LineSplitter, MAX_MESSAGE_BYTES, wireError, type DaemonMessage } from './codec.js';

export interface ConnectionServerOptions {
  answer: (line: string) => Promise<DaemonMessage | undefined>;
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

  // allowHalfOpen: a client may shut its write side after sending (as git's cache client does) and
  // still read the answers.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    total++;
    const c: Conn = { socket, inflight: 0, closing: draining };
    conns.add(c);
    const splitter = new LineSplitter(opts.maxMessageBytes ?? MAX_MESSAGE_BYTES);
    const send = (msg: DaemonMessage) => {
      if (!socket.destroyed && socket.writable) socket.write(encode(msg));
    };
    socket.setTimeout(opts.connectionIdleMs);
    socket.on('timeout', () => {
      if (c.inflight === 0) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      if (c.closing && draining) return; // no new work while draining
      for (const item of splitter.push(chunk)) {
        if (typeof item !== 'string') {
          send(wireError(null, 'too-large', `message longer than ${opts.maxMessageBytes ?? MAX_MESSAGE_BYTES} bytes; the line was skipped`));
          continue;
        }
        c.inflight++;
        inflight++;
        opts
          .answer(item)
          .then((reply) => reply && send(reply))
          .catch(() => undefined) // answer() never rejects; a write to a vanished peer is not an error
          .finally(() => {
            c.inflight--;
            inflight--;
            maybeEnd(c);
            if (draining && inflight === 0) drained?.();
          });
      }
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

  return {
    server,
    inflight: () => inflight,
    open: () => conns.size,
    total: () => total,
    async drain(graceMs) {
      draining = true;
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
