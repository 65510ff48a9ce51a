// The daemon's Unix-socket listener, on node:net.
//
// An earlier listener served connections on libuv's pipe handle through a private binding: 84,000
// lookups a second under the bench's 64-connection load against 67,000 on net (Node 20, one run each).
// One user's tools ask a few hundred times a second at the very most, and a private binding can
// abort the process on a new Node. server.ts holds the connection logic; this file only adapts
// net's events.
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

const ignore = () => {};

export type OnConnection = (conn: ServedConnection) => ConnectionEvents;

/** A connection that could not be accepted (EMFILE, ENFILE…), by errno name: the client sees it refused. */
export type OnAcceptError = (code: string) => void;

export function createListener(onConnection: OnConnection, onAcceptError: OnAcceptError = ignore): Listener {
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
