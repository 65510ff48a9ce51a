// libuv's handles as Node's own modules use them (process.binding), where the public modules cost
// more than the job: a helper dialling the daemon (node:net, with the stream stack) and starting it
// (node:child_process, with net and dgram), and the daemon serving its socket (net's streams, per
// request). pipe.ts, listener.ts and spawn.ts use only shapes checked here or there, and fall back to
// the public modules when they differ, so a future Node without these bindings is slower, never wrong.

/**
 * The binding, or undefined: when process.binding is gone, or would print a deprecation warning
 * (--pending-deprecation) into a helper's stderr, which git shows to its user.
 */
export function legacyBinding(name: 'pipe_wrap' | 'stream_wrap' | 'process_wrap'): Record<string, unknown> | undefined {
  if (process.execArgv.includes('--pending-deprecation') || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '')) return undefined;
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
    const b = typeof binding === 'function' ? binding.call(process, name) : undefined;
    return typeof b === 'object' && b !== null ? (b as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** libuv's error name for a negative status (ENOENT, ECONNREFUSED, …). */
export function errname(status: number): string {
  try {
    return process.getBuiltinModule('node:util').getSystemErrorName(status);
  } catch {
    return `E${-status}`;
  }
}

/** A libuv stream handle as Node's own modules drive it (the calls pipe.ts and listener.ts make). */
export interface UvStream {
  readStart(): number;
  readStop(): number;
  writeUtf8String(req: object, text: string): number;
  shutdown(req: object): number;
  close(cb?: () => void): void;
  /** Must always hold a function: the handle's internal field refuses anything else (Node aborts). */
  onread: (buf: ArrayBuffer | undefined) => void;
}

/** A pipe handle: a connection (connect) or a listening socket (bind, listen, onconnection). */
export interface UvPipe extends UvStream {
  connect(req: object, path: string): number;
  bind(path: string): number;
  listen(backlog: number): number;
  onconnection: (status: number, client?: UvStream) => void;
}

type Completion = { oncomplete?: (status: number) => void };

export interface PipeBindings {
  Pipe: new (type: number) => UvPipe;
  /** Pipe types: a connection, a listener. */
  SOCKET: number;
  SERVER: number;
  PipeConnectWrap: new () => Completion;
  WriteWrap: new () => Completion & { handle?: UvStream; async?: boolean };
  ShutdownWrap: new () => Completion & { handle?: UvStream };
  /** Shared with the handles' C++ side: a read's byte count (or error), its offset, whether a write is still queued. */
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/** libuv's code for end of file. */
export const UV_EOF = -4095;

let pipeBindings: PipeBindings | null | undefined;

/** The pipe and stream bindings, checked once for every shape we use; null when this Node differs. */
export function pipeHandles(): PipeBindings | null {
  if (pipeBindings !== undefined) return pipeBindings;
  pipeBindings = null;
  const pipe = legacyBinding('pipe_wrap') as { Pipe?: unknown; PipeConnectWrap?: unknown; constants?: { SOCKET?: unknown; SERVER?: unknown } } | undefined;
  const stream = legacyBinding('stream_wrap') as Record<string, unknown> | undefined;
  const proto = (pipe?.Pipe as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  const methods = ['connect', 'bind', 'listen', 'readStart', 'readStop', 'writeUtf8String', 'shutdown', 'close'];
  if (
    pipe &&
    stream &&
    typeof pipe.Pipe === 'function' &&
    methods.every((m) => typeof proto?.[m] === 'function') &&
    typeof pipe.PipeConnectWrap === 'function' &&
    typeof pipe.constants?.SOCKET === 'number' &&
    typeof pipe.constants.SERVER === 'number' &&
    typeof stream.WriteWrap === 'function' &&
    typeof stream.ShutdownWrap === 'function' &&
    stream.streamBaseState instanceof Int32Array &&
    typeof stream.kReadBytesOrError === 'number' &&
    typeof stream.kArrayBufferOffset === 'number' &&
    typeof stream.kLastWriteWasAsync === 'number'
  ) {
    pipeBindings = {
      Pipe: pipe.Pipe as PipeBindings['Pipe'],
      SOCKET: pipe.constants.SOCKET,
      SERVER: pipe.constants.SERVER,
      PipeConnectWrap: pipe.PipeConnectWrap as PipeBindings['PipeConnectWrap'],
      WriteWrap: stream.WriteWrap as PipeBindings['WriteWrap'],
      ShutdownWrap: stream.ShutdownWrap as PipeBindings['ShutdownWrap'],
      state: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError,
      kArrayBufferOffset: stream.kArrayBufferOffset,
      kLastWriteWasAsync: stream.kLastWriteWasAsync,
    };
  }
  return pipeBindings;
}

/**
 * handle.onread for a stream: libuv reports a read through the shared state (its byte count or error,
 * and where in the buffer it starts), and the bytes arrive as a view, not a copy. With `into` (the
 * buffer given to useReadBuffer) they are at its start, and only valid until `data` returns.
 */
export function onRead(b: PipeBindings, on: { data(chunk: Buffer): void; eof(): void; error(status: number): void }, into?: Buffer): UvStream['onread'] {
  return (buf) => {
    const n = b.state[b.kReadBytesOrError]!;
    if (n === UV_EOF) return on.eof();
    if (n < 0) return on.error(n);
    if (n > 0) {
      if (buf) on.data(Buffer.from(buf, b.state[b.kArrayBufferOffset]!, n));
      else if (into) on.data(into.subarray(0, n));
    }
  };
}

/**
 * Has the handle read into `buffer` instead of a fresh 64 KB allocation per read, which is shrunk
 * to the bytes read and lives on as that chunk's memory until a GC (what node:net's `onread` option
 * does). For a daemon reading a few hundred bytes per request from 64 connections, those blocks
 * fragmented the C heap: 8 MB of it under the bench load against 5 with one shared buffer. False when
 * this Node's handle has no such method; reads then allocate as before.
 */
export function useReadBuffer(handle: UvStream, buffer: Buffer): boolean {
  const use = (handle as { useUserBuffer?: unknown }).useUserBuffer;
  if (typeof use !== 'function') return false;
  use.call(handle, buffer);
  return true;
}

const noRead = () => {};

/**
 * Closes a stream handle for good, as the dialler and the listener both do: reads stop reaching JS
 * (onread keeps a function: see UvStream), reading stops if it was started, the handle closes.
 */
export function closeStream(handle: UvStream, reading: boolean): void {
  handle.onread = noRead;
  if (reading) handle.readStop();
  handle.close();
}

/**
 * Writes `text` on a stream handle; libuv's error (negative) when that failed at once, else 0. A write
 * libuv completes at once never calls back; one it has to queue (the peer is not reading) is kept in
 * `pending` until it completes, then `done(status)` is called. Keeping every write instead would hold
 * each one for the connection's life: one object per answer a daemon ever gave on it.
 */
export function writeText(b: PipeBindings, handle: UvStream, text: string, pending: Set<object>, done: (status: number) => void): number {
  const w = new b.WriteWrap();
  w.handle = handle;
  w.async = false;
  w.oncomplete = (status) => {
    pending.delete(w);
    done(status);
  };
  const err = handle.writeUtf8String(w, text);
  if (err === 0 && b.state[b.kLastWriteWasAsync]) pending.add(w);
  return err;
}

