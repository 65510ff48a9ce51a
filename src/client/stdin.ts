// Reads all of stdin with a size cap, synchronously when possible: helpers are started per request,
// and a blocking read avoids creating process.stdin (a stream, plus tty/net machinery) at all. The
// two reads here are also what ./stdin-lines.ts reads a conversation with.
import { fstatSync, readSync } from 'node:fs';

export const STDIN_LIMIT = 1024 * 1024;

export type StdinResult = { ok: true; data: Buffer } | { ok: false; reason: 'too-large' };

/** `fd`: stdin, or (for tests) any readable descriptor. */
export async function readStdin(limit = STDIN_LIMIT, fd = 0): Promise<StdinResult> {
  let isTty: boolean;
  try {
    isTty = fstatSync(fd).isCharacterDevice();
  } catch {
    return { ok: true, data: Buffer.alloc(0) }; // no stdin at all (closed fd)
  }
  // A person at a terminal running `keyring get …` or `… capability` must not be made to type EOF.
  if (isTty) return { ok: true, data: Buffer.alloc(0) };
  // One buffer for the whole input when it fits (a helper's request is a few hundred bytes): read
  // until EOF into it, then hand out a view, no copy. Past it, chunks are collected and joined.
  let buf = Buffer.allocUnsafe(64 * 1024);
  let used = 0;
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const n = readBlocking(fd, buf, used);
    if (n === 'would-block') {
      if (used > 0) chunks.push(buf.subarray(0, used));
      return readRestFromStream(chunks, total, limit);
    }
    if (n === 0) break;
    used += n;
    total += n;
    if (total > limit) return { ok: false, reason: 'too-large' };
    if (used === buf.length) {
      chunks.push(buf);
      buf = Buffer.allocUnsafe(64 * 1024);
      used = 0;
    }
  }
  if (chunks.length === 0) return { ok: true, data: buf.subarray(0, used) };
  if (used > 0) chunks.push(buf.subarray(0, used));
  return { ok: true, data: Buffer.concat(chunks, total) };
}

/** The rest of stdin once it turned out non-blocking, through process.stdin, after `chunks` (`total` bytes). */
async function readRestFromStream(chunks: Buffer[], total: number, limit: number): Promise<StdinResult> {
  for (let chunk; (chunk = await readChunk(process.stdin)) !== null;) {
    total += chunk.length;
    chunks.push(chunk);
    if (total > limit) {
      process.stdin.destroy();
      return { ok: false, reason: 'too-large' };
    }
  }
  return { ok: true, data: Buffer.concat(chunks, total) };
}

/**
 * One blocking read into `buf` from `offset`: the bytes read (0 at the end of input, or when there is
 * no such descriptor), or 'would-block' when the parent handed over a non-blocking pipe with nothing
 * in it yet — readSync cannot wait on that, the caller goes on with process.stdin (readChunk).
 */
export function readBlocking(fd: number, buf: Buffer, offset: number): number | 'would-block' {
  try {
    return readSync(fd, buf, offset, buf.length - offset, null);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') return 'would-block';
    if (code === 'EOF' || code === 'EBADF') return 0;
    throw e;
  }
}

/** One chunk from a stream, or null at its end; the stream is paused again so nothing is read ahead unseen. */
export function readChunk(stream: NodeJS.ReadStream): Promise<Buffer | null> {
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
