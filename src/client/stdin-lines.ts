// Reads stdin one line at a time, for a helper that holds a conversation (cargo: it writes a request,
// waits for the answer, and may write another). With ./stdin.ts's reads: blocking reads of fd 0 and no
// stream, unless the parent handed over a non-blocking pipe.
import { readBlocking, readChunk } from './stdin.js';

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
      const n = readBlocking(0, this.chunk, 0);
      if (n !== 'would-block') return n === 0 ? null : Buffer.from(this.chunk.subarray(0, n));
      this.async = true; // a non-blocking pipe: wait for data through the stream instead
    }
    return readChunk(process.stdin);
  }
}
