// Reads all of stdin with a size cap, synchronously when possible: helpers are started per request,
// and a blocking read avoids creating process.stdin (a stream, plus tty/net machinery) at all.
import { fstatSync, readSync } from 'node:fs';

export const STDIN_LIMIT = 1024 * 1024;

export type StdinResult = { ok: true; data: Buffer } | { ok: false; reason: 'too-large' };

export async function readStdin(limit = STDIN_LIMIT): Promise<StdinResult> {
  let isTty: boolean;
  try {
    isTty = fstatSync(0).isCharacterDevice();
  } catch {
    return { ok: true, data: Buffer.alloc(0) }; // no stdin at all (closed fd)
  }
  // A person at a terminal running `keyring get …` or `… capability` must not be made to type EOF.
  if (isTty) return { ok: true, data: Buffer.alloc(0) };
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return readStdinAsync(chunks, total, limit); // parent gave us a non-blocking pipe
      if (code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    total += n;
    if (total > limit) return { ok: false, reason: 'too-large' };
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
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
