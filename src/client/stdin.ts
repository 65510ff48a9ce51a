// Reads all of stdin with a size cap, synchronously when possible: helpers are started per request,
// and a blocking read avoids creating process.stdin (a stream, plus tty/net machinery) at all.
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
    let n: number;
    try {
      n = readSync(fd, buf, used, buf.length - used, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // parent gave us a non-blocking pipe
        if (used > 0) chunks.push(buf.subarray(0, used));
        return readStdinAsync(chunks, total, limit);
      }
      if (code === 'EOF') break;
      throw e;
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

function readStdinAsync(chunks: Buffer[], total: number, limit: number): Promise<StdinResult> {
  return new Promise((resolve, reject) => {
    const stream = process.stdin;
    stream.on('data', (chunk: Buffer) => {
      total += chunk.length;
      chunks.push(chunk);
      if (total > limit) {
        stream.destroy();
        resolve({ ok: false, reason: 'too-large' });
      }
    });
    stream.on('end', () => resolve({ ok: true, data: Buffer.concat(chunks, total) }));
    stream.on('error', reject);
  });
}
