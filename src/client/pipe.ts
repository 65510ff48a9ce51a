// A Unix-socket connection for the helper's one question to the daemon, on node:net.
//
// node:net is the only dialer: an earlier one drove libuv's pipe handle through Node's private
// bindings and saved loading net (4-6 ms of a warm call, measured on Node 20-26), but a private
// binding that a new Node changes can abort the process with a C++ assertion no fallback can catch,
// and reaching for one prints DEP0111 under --pending-deprecation into a stderr git and pip show. connection.ts holds the protocol
// logic; this file only turns net's events into the few it needs.

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
  /**
   * Lets the process exit with the connection open: for a helper that exits
   * right after the answer, the kernel closes it then. Closing it ourselves costs a warm answer
   * ~0.4 ms (net's _destroy compiles its close path and builds process.stderr, measured on Node 20).
   */
  release(): void;
}

/** As much as one read takes: a longer reply arrives in several reads. */
const READ_BUFFER_BYTES = 64 * 1024;

/** Dials `path`, reporting what happens through `events`. */
export function dial(path: string, events: PipeEvents): PipeConnection {
  // getBuiltinModule, not import(): a dynamic import starts Node's ESM loader (see spawn.ts). Loaded
  // here, not at the top, so the in-process paths (CREDMUX_DAEMON=0) never load net.
  const { createConnection } = process.getBuiltinModule('node:net');
  let connected = false;
  // onread: reads land in one buffer and reach us as a call, not through the Readable stream's
  // push/'data' machinery (~1 ms of a warm call on Node 20, measured with hyperfine). A chunk is
  // only valid during data(): connection.ts decodes or copies what it keeps.
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const socket = createConnection({
    path,
    onread: {
      buffer,
      callback: (n: number) => {
        events.data(buffer.subarray(0, n));
        return true;
      },
    },
  });
  socket.on('connect', () => {
    connected = true;
    events.connect();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => events.error(e.code ?? e.message, connected));
  socket.on('close', () => events.close());
  return {
    write: (text) => void socket.write(text),
    destroy: () => void socket.destroy(),
    // Only unref: whatever the connection still reports goes to a caller that has finished and ignores
    // it (its error listener stays, so nothing is thrown). Taking the listeners off ran three more of
    // Node's functions for the first time on every warm answer.
    release: () => void socket.unref(),
  };
}
