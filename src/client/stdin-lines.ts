// Reads stdin one line at a time, for a helper that holds a conversation (cargo: it writes a request,
// waits for the answer, and may write another). Like ./stdin.ts it reads fd 0 with blocking reads and
// creates no stream, unless the parent handed over a non-blocking pipe.
import { readSync } from 'node:fs';

export type NextLine = { kind: 'line'; line: Buffer } | { kind: 'eof' } | { kind: 'too-large' };

export class StdinLines {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private async = false;
  private readonly chunk = Buffer.allocUnsafe(64 * 1024);

  /** `limit`: the longest line accepted, newline excluded. */
  constructor(private readonly limit: number) {}

  /** The next line without its `\n` (a last line without one counts), or the end of stdin. */
  async next(): Promise<NextLine> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        if (nl > this.limit) return { kind: 'too-large' };
        const line = this.buf.subarray(0, nl);
        this.buf = this.buf.subarray(nl + 1);
        return { kind: 'line', line };
      }
      if (this.buf.length > this.limit) return { kind: 'too-large' };
      if (this.ended) {
        if (this.buf.length === 0) return { kind: 'eof' };
        const line = this.buf;
        this.buf = Buffer.alloc(0);
        return { kind: 'line', line };
      }
      const data = await this.read();
      if (data === null) this.ended = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    }
  }

  private async read(): Promise<Buffer | null> {
    if (!this.async) {
      try {
        const n = readSync(0, this.chunk, 0, this.chunk.length, null);
        return n === 0 ? null : Buffer.from(this.chunk.subarray(0, n));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EOF' || code === 'EBADF') return null; // no stdin at all: nothing to answer
        if (code !== 'EAGAIN') throw e;
        this.async = true; // a non-blocking pipe: wait for data through the stream instead
      }
    }
    return readChunk(process.stdin);
  }
}

/** One chunk from a stream, or null at its end; the stream is paused again so nothing is read ahead unseen. */
function readChunk(stream: NodeJS.ReadStream): Promise<Buffer | null> {
  if (stream.readableEnded) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const done = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
    };
    const onData = (c: Buffer) => {
      done();
      resolve(c);
    };
    const onEnd = () => {
      done();
      resolve(null);
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}
