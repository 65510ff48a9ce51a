// The daemon's Unix-socket listener, with two ways to serve a connection: libuv's pipe handle
// directly, or node:net.
//
// Why not just node:net: every request a busy daemon answers passes once through net.Socket's
// stream machinery on the way in (Readable push, 'data' event) and once on the way out (Writable,
// write requests, callbacks on the next tick). Measured with the bench's load (10,000 rules, 64
// connections), that machinery costs a quarter of a lookup: the same daemon answers ~30% more
// lookups a second on the bare handle (npm run bench, README "Performance"). The handle is what
// net wraps, used the way net uses it; the client side does the same (pipe.ts). When this Node does
// not expose it in the shape we expect (or under --pending-deprecation), node:net serves instead,
// with the same events: server.ts holds the connection logic once, for both.
import { closeStream, errname, onRead, pipeHandles, useReadBuffer, writeText, type PipeBindings, type UvPipe, type UvStream } from './libuv.js';

export interface ConnectionEvents {
  data(chunk: Buffer): void;
  /** The client finished sending (half-close); it may still read our answers. */
  end(): void;
  /** The connection is gone (closed by either side, or failed). */
  close(): void;
}

export interface ServedConnection {
  write(text: string): void;
  /** Half-closes our side once what was written has gone out, then closes. */
  end(): void;
  destroy(): void;
  readonly destroyed: boolean;
  /** Writes not yet handed to the kernel (a client not reading): what this connection holds on to. */
  unsent(): number;
}

export interface Listener {
  /** Binds and listens on a Unix socket path; rejects with an Error whose `code` is the errno name. */
  listen(path: string): Promise<void>;
  /** Stops accepting; open connections stay. */
  close(): void;
}

export type ListenerKind = 'handle' | 'net';

const ignore = () => {};

export type OnConnection = (conn: ServedConnection) => ConnectionEvents;

/** A connection that could not be accepted (EMFILE, ENFILE…), by errno name: the client sees it refused. */
export type OnAcceptError = (code: string) => void;

/** A listener over libuv's handle where available (see above), else node:net. */
export function createListener(onConnection: OnConnection, prefer: ListenerKind = 'handle', onAcceptError: OnAcceptError = ignore): Listener {
  return (prefer === 'handle' && handleListener(onConnection, onAcceptError)) || netListener(onConnection, onAcceptError);
}

// ---- libuv's pipe handle ------------------------------------------------------------------------

/** How many clients may wait to be accepted (net's default). */
const BACKLOG = 511;

function uvError(syscall: string, status: number, path: string): Error {
  const code = errname(status);
  return Object.assign(new Error(`${syscall} ${code} ${path}`), { code, errno: status, syscall, address: path });
}

/** A listener on libuv's pipe handle, or undefined when this Node does not expose one we understand. */
export function handleListener(onConnection: OnConnection, onAcceptError: OnAcceptError = ignore): Listener | undefined {
  const b = pipeHandles();
  if (!b) return undefined;
  let server: UvPipe | undefined;
  return {
    listen(path) {
      const handle = new b.Pipe(b.SERVER);
      const bound = handle.bind(path);
      const err = bound === 0 ? handle.listen(BACKLOG) : bound;
      if (err !== 0) {
        handle.close();
        return Promise.reject(uvError(bound === 0 ? 'listen' : 'bind', err, path));
      }
      handle.onconnection = (status, client) => {
        if (status !== 0) onAcceptError(errname(status));
        else if (client) serve(b, client, onConnection);
      };
      server = handle;
      return Promise.resolve();
    },
    close() {
      server?.close();
      server = undefined;
    },
  };
}

function serve(b: PipeBindings, handle: UvStream, onConnection: OnConnection): void {
  let open = true;
  let reading = true;
  let ending = false;
  // Requests libuv has not completed yet: referenced until it does.
  const pending = new Set<object>();
  // Set once onConnection returns; a connection it refuses (destroy) is closed before that.
  let events: ConnectionEvents | undefined;
  const close = () => {
    if (!open) return;
    open = false;
    closeStream(handle, reading);
    events?.close();
  };
  const conn: ServedConnection = {
    get destroyed() {
      return !open;
    },
    unsent: () => pending.size,
    write(text) {
      if (!open || ending) return;
      // A failed write, now or once queued: the client went away (EPIPE, ECONNRESET).
      const failed = (status: number) => {
        if (status < 0) close();
      };
      failed(writeText(b, handle, text, pending, failed));
    },
    end() {
      if (!open || ending) return;
      ending = true;
      // Queued after every write: libuv shuts the write side down once they have gone out.
      const s = new b.ShutdownWrap();
      s.handle = handle;
      s.oncomplete = () => {
        pending.delete(s);
        close();
      };
      pending.add(s);
      if (handle.shutdown(s) < 0) {
        pending.delete(s);
        close();
      }
    },
    destroy: close,
  };
  events = onConnection(conn);
  if (!open) return;
  const on = events;
  // One buffer for every connection: a read is handed over (the line splitter decodes it or copies
  // the part it keeps) before libuv reads the next, on any connection.
  const into = useReadBuffer(handle, (readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES))) ? readBuffer : undefined;
  const reads = {
    data: (chunk: Buffer) => on.data(chunk),
    eof: () => {
      // Half-closed: stop reading, keep the write side for the answers still owed.
      reading = false;
      handle.readStop();
      on.end();
    },
    error: close,
  };
  handle.onread = onRead(b, reads, into);
  if (handle.readStart() < 0) close();
}

/** As large as libuv asks for per read: a bigger request simply arrives in several reads. */
const READ_BUFFER_BYTES = 64 * 1024;
let readBuffer: Buffer | undefined;

// ---- node:net ---------------------------------------------------------------------------------------

function netListener(onConnection: OnConnection, onAcceptError: OnAcceptError): Listener {
  const { createServer } = process.getBuiltinModule('node:net');
  // allowHalfOpen: a client may shut its write side after sending (as git's cache client does) and
  // still read the answers.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const events = onConnection({
      get destroyed() {
        return socket.destroyed;
      },
      unsent: () => socket.writableLength,
      write: (text) => {
        if (!socket.destroyed && socket.writable) socket.write(text);
      },
      end: () => void socket.end(),
      destroy: () => void socket.destroy(),
    });
    socket.on('data', (chunk: Buffer) => events.data(chunk));
    socket.on('end', () => events.end());
    socket.on('error', ignore); // a client that vanished (EPIPE, ECONNRESET): its 'close' follows
    socket.on('close', () => events.close());
  });
  return {
    listen: (path) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          server.on('error', (e: NodeJS.ErrnoException) => onAcceptError(e.code ?? e.message));
          resolve();
        });
      }),
    close: () => void server.close(),
  };
}
