// The one temp-file + rename writer (src/platform/atomic-write.ts), both forms: exact mode, the temp
// file beside the target and gone after a failure, and a planted link at the temp path refused.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/platform/atomic-write.js';

const forms = [
  ['async', (t: string, d: string, o?: Parameters<typeof writeFileAtomicSync>[2]) => writeFileAtomic(t, d, o)],
  ['sync', async (t: string, d: string, o?: Parameters<typeof writeFileAtomicSync>[2]) => writeFileAtomicSync(t, d, o)],
] as const;

describe.each(forms)('writeFileAtomic (%s)', (_name, write) => {
  it('replaces the file with exactly the mode asked for, whatever the umask, and leaves no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-atomic-'));
    const target = join(dir, 'f');
    writeFileSync(target, 'old');
    const old = process.umask(0o277);
    try {
      await write(target, 'new', { mode: 0o644 });
    } finally {
      process.umask(old);
    }
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(statSync(target).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('removes its temp file when the rename fails, and the target is untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-atomic-'));
    const target = join(dir, 'd');
    mkdirSync(join(target, 'x'), { recursive: true }); // renaming a file over a non-empty directory fails
    await expect(write(target, 'data')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['d']);
  });

  it('does not follow a link planted at its temp path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-atomic-'));
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    symlinkSync(victim, join(dir, 'f.tmp'));
    await expect(write(join(dir, 'f'), 'data', { tmp: join(dir, 'f.tmp') })).rejects.toThrow(/EEXIST/);
    expect(readFileSync(victim, 'utf8')).toBe('keep');
  });
});
