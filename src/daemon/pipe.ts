// A bare Unix-socket connection for the helper's one question to the daemon, with two ways to dial.
//
// Why not just node:net: a warm helper call costs Node's startup plus one exchange with the daemon,
// and loading net (with the stream machinery it is built on) costs several milliseconds of that —
// more than connecting, asking and answering together (measured: `npm run bench`, README
// "Performance"). libuv's pipe handle, which net wraps, does the same job without those modules, so
// the helper dials with it directly when this Node exposes it in the shape we expect, and with net
// otherwise (a future Node that drops process.binding, or `--pending-deprecation`, which would make
// process.binding print a warning). Both dialers deliver the same events; connection.ts holds the
// protocol logic once, for both.
import { closeStream, errname, onRead, pipeHandles, writeText } from './libuv.js';

export interface PipeEvents {
  connect(): void;
  data(chunk: Buffer): void;
  /** A failure with its errno name (ENOENT, ECONNREFUSED, …); `connected` says whether it came after connecting. */
  error(code: string, connected: boolean): void;
  /** The peer closed the connection (EOF), or it was destroyed. */
  close(): void;
}

export interface PipeConnection {
  write(text: string): void;
  destroy(): void;
}

export type Dialer = (path: string, events: PipeEvents) => PipeConnection;

export type DialerKind = 'handle' | 'net';

/** The dialer to use: libuv's handle where available (see above), else node:net, loaded only then. */
export function pickDialer(prefer: DialerKind = 'handle'): Dialer {
  if (prefer === 'handle') {
    const viaHandle = handleDialer();
    if (viaHandle) return viaHandle;
  }
  return netDialer();
}

// ---- libuv's pipe handle ------------------------------------------------------------------------

/** A dialer over libuv's pipe handle, or undefined when this Node does not expose one we understand. */
export function handleDialer(): Dialer | undefined {
  const b = pipeHandles();
  if (!b) return undefined;
  return (path, events) => {
    const handle = new b.Pipe(b.SOCKET);
    let open = true;
    let connected = false;
    // Requests in flight must stay referenced until libuv completes them.
    const pending = new Set<object>();
    const fail = (status: number) => {
      if (!open) return;
      events.error(errname(status), connected);
      close();
    };
    const close = () => {
      if (!open) return;
      open = false;
      closeStream(handle, connected);
      events.close();
    };
    handle.onread = onRead(b, { data: (chunk) => events.data(chunk), eof: close, error: fail });
    const req = new b.PipeConnectWrap();
    pending.add(req);
    req.oncomplete = (status) => {
      pending.delete(req);
      if (!open) return;
      if (status < 0) return fail(status);
      connected = true;
      const err = handle.readStart();
      if (err < 0) return fail(err);
      events.connect();
    };
    const err = handle.connect(req, path);
    if (err < 0) queueMicrotask(() => fail(err)); // reported like an asynchronous failure
    return {
      write(text) {
        if (!open) return;
        const failed = (status: number) => {
          if (status < 0) fail(status);
        };
        failed(writeText(b, handle, text, pending, failed));
      },
      destroy: close,
    };
  };
}

// ---- node:net ---------------------------------------------------------------------------------------

function netDialer(): Dialer {
  // getBuiltinModule, not import(): a dynamic import starts Node's ESM loader (see spawn.ts).
  const { createConnection } = process.getBuiltinModule('node:net');
  return (path, events) => {
    let connected = false;
    const socket = createConnection(path);
    socket.on('connect', () => {
      connected = true;
      events.connect();
    });
    socket.on('data', (chunk: Buffer) => events.data(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => events.error(e.code ?? e.message, connected));
    socket.on('close', () => events.close());
    return {
      write: (text) => void socket.write(text),
      destroy: () => void socket.destroy(),
    };
  };
}
