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
import { errname, legacyBinding } from './libuv.js';

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

export type OnConnection = (conn: ServedConnection) => ConnectionEvents;

/** A listener over libuv's handle where available (see above), else node:net. */
export function createListener(onConnection: OnConnection, prefer: ListenerKind = 'handle'): Listener {
  return (prefer === 'handle' && handleListener(onConnection)) || netListener(onConnection);
}

// ---- libuv's pipe handle ------------------------------------------------------------------------

interface UvStream {
  readStart(): number;
  readStop(): number;
  writeUtf8String(req: object, text: string): number;
  shutdown(req: object): number;
  close(cb?: () => void): void;
  /** Must always hold a function: the handle's internal field refuses anything else (Node aborts). */
  onread: (buf: ArrayBuffer | undefined) => void;
}

interface UvServer {
  bind(path: string): number;
  listen(backlog: number): number;
  close(cb?: () => void): void;
  onconnection: (status: number, client?: UvStream) => void;
}

interface Bindings {
  Pipe: new (type: number) => UvServer;
  SERVER: number;
  WriteWrap: new () => { handle?: UvStream; oncomplete?: (status: number) => void; async?: boolean };
  ShutdownWrap: new () => { handle?: UvStream; oncomplete?: (status: number) => void };
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/** libuv's code for end of file. */
const UV_EOF = -4095;
/** How many clients may wait to be accepted (net's default). */
const BACKLOG = 511;

let bindings: Bindings | null | undefined;

function handleBindings(): Bindings | null {
  if (bindings !== undefined) return bindings;
  bindings = null;
  const pipe = legacyBinding('pipe_wrap') as { Pipe?: unknown; constants?: { SERVER?: unknown } } | undefined;
  const stream = legacyBinding('stream_wrap') as
    | {
        WriteWrap?: unknown;
        ShutdownWrap?: unknown;
        streamBaseState?: unknown;
        kReadBytesOrError?: unknown;
        kArrayBufferOffset?: unknown;
        kLastWriteWasAsync?: unknown;
      }
    | undefined;
  const proto = (pipe?.Pipe as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  if (
    pipe &&
    stream &&
    typeof pipe.Pipe === 'function' &&
    typeof pipe.constants?.SERVER === 'number' &&
    ['bind', 'listen', 'readStart', 'readStop', 'writeUtf8String', 'shutdown', 'close'].every((m) => typeof proto?.[m] === 'function') &&
    typeof stream.WriteWrap === 'function' &&
    typeof stream.ShutdownWrap === 'function' &&
    stream.streamBaseState instanceof Int32Array &&
    typeof stream.kReadBytesOrError === 'number' &&
    typeof stream.kArrayBufferOffset === 'number' &&
    typeof stream.kLastWriteWasAsync === 'number'
  ) {
    bindings = {
      Pipe: pipe.Pipe as Bindings['Pipe'],
      SERVER: pipe.constants.SERVER,
      WriteWrap: stream.WriteWrap as Bindings['WriteWrap'],
      ShutdownWrap: stream.ShutdownWrap as Bindings['ShutdownWrap'],
      state: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError,
      kArrayBufferOffset: stream.kArrayBufferOffset,
      kLastWriteWasAsync: stream.kLastWriteWasAsync,
    };
  }
  return bindings;
}

const ignore = () => {};

function uvError(syscall: string, status: number, path: string): Error {
  const code = errname(status);
  return Object.assign(new Error(`${syscall} ${code} ${path}`), { code, errno: status, syscall, address: path });
}

/** A listener on libuv's pipe handle, or undefined when this Node does not expose one we understand. */
export function handleListener(onConnection: OnConnection): Listener | undefined {
  const b = handleBindings();
  if (!b) return undefined;
  let server: UvServer | undefined;
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
        if (status === 0 && client) serve(b, client, onConnection);
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

function serve(b: Bindings, handle: UvStream, onConnection: OnConnection): void {
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
    handle.onread = ignore;
    if (reading) handle.readStop();
    handle.close();
    events?.close();
  };
  const conn: ServedConnection = {
    get destroyed() {
      return !open;
    },
    unsent: () => pending.size,
    write(text) {
      if (!open || ending) return;
      const w = new b.WriteWrap();
      w.handle = handle;
      w.async = false;
      w.oncomplete = (status) => {
        pending.delete(w);
        if (status < 0) close();
      };
      const err = handle.writeUtf8String(w, text);
      if (err < 0) return close(); // the client went away (EPIPE, ECONNRESET)
      // Nearly always written at once, and then libuv never calls back; else it holds the text until
      // the client reads, and the request must stay referenced until it completes.
      if (b.state[b.kLastWriteWasAsync]) pending.add(w);
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
  handle.onread = (buf) => {
    const n = b.state[b.kReadBytesOrError]!;
    if (n === UV_EOF) {
      // Half-closed: stop reading, keep the write side for the answers still owed.
      reading = false;
      handle.readStop();
      on.end();
      return;
    }
    if (n < 0) return close();
    if (n > 0 && buf) on.data(Buffer.from(buf, b.state[b.kArrayBufferOffset]!, n));
  };
  if (handle.readStart() < 0) close();
}

// ---- node:net ---------------------------------------------------------------------------------------

function netListener(onConnection: OnConnection): Listener {
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
          server.on('error', ignore); // accept failures (EMFILE): the client sees its connection refused
          resolve();
        });
      }),
    close: () => void server.close(),
  };
}
