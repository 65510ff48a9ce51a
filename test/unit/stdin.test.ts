// readStdin: the whole input, whatever its size up to the limit, from one buffer or several.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readStdin, STDIN_LIMIT } from '../../src/client/stdin.js';

const dir = mkdtempSync(join(tmpdir(), 'credmux-stdin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readFrom(content: Buffer, limit = STDIN_LIMIT) {
  const file = join(dir, `in-${content.length}`);
  writeFileSync(file, content);
  const fd = openSync(file, 'r');
  try {
    return await readStdin(limit, fd);
  } finally {
    closeSync(fd);
  }
}

/** Bytes that differ from position to position, so a chunk joined in the wrong place shows. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

describe('readStdin', () => {
  it.each([0, 1, 39, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 3 * 64 * 1024, 200_000])('%i bytes: all of them, in order', async (n) => {
    const content = pattern(n);
    const r = await readFrom(content);
    expect(r.ok).toBe(true);
    if (r.ok) expect(Buffer.compare(r.data, content)).toBe(0);
  });

  it('the limit itself is read; one byte more is refused', async () => {
    expect((await readFrom(pattern(1000), 1000)).ok).toBe(true);
    expect(await readFrom(pattern(1001), 1000)).toEqual({ ok: false, reason: 'too-large' });
    expect(await readFrom(pattern(STDIN_LIMIT + 1))).toEqual({ ok: false, reason: 'too-large' });
  });
});
