// wakeAfter: the helper's bounds on a call to the daemon (src/client/connection.ts) ride on it, so it
// must fire while the process has other work alive, never keep a process alive by itself, and stay
// quiet once cancelled. Bounds are generous (a shared 2-core CI machine): fired at all, not early, and
// not absurdly late.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { wakeAfter } from '../../src/platform/wake-after.js';

const root = join(import.meta.dirname, '../..');

describe('wakeAfter', () => {
  it('calls back once, no sooner than asked', async () => {
    const t0 = performance.now();
    let calls = 0;
    const at = await new Promise<number>((resolve) => {
      wakeAfter(40, () => {
        calls++;
        resolve(performance.now() - t0);
      });
    });
    expect(at).toBeGreaterThanOrEqual(39);
    expect(at).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toBe(1);
  });

  it('cancelled, it never calls back', async () => {
    let called = false;
    const w = wakeAfter(10, () => (called = true));
    w.cancel();
    // A later wake-up that does fire: by then the cancelled one's time has long passed.
    await new Promise<void>((resolve) => wakeAfter(80, resolve));
    expect(called).toBe(false);
  });

  it('many at once each come at their own time, in order', async () => {
    const order: number[] = [];
    await Promise.all([60, 20, 40].map((ms) => new Promise<void>((resolve) => wakeAfter(ms, () => (order.push(ms), resolve())))));
    expect(order).toEqual([20, 40, 60]);
  });

  it('does not keep a process alive by itself, and fires while something else does', async () => {
    // The module itself, bundled for plain child processes.
    const dir = mkdtempSync(join(tmpdir(), 'credmux-wake-'));
    const lib = join(dir, 'wake-after.cjs');
    await build({
      entryPoints: [join(root, 'src/platform/wake-after.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: lib,
      logLevel: 'error',
    });
    const run = (body: string) =>
      spawnSync(process.execPath, ['-e', `const { wakeAfter } = require(${JSON.stringify(lib)}); const t0 = Date.now(); ${body}`], {
        encoding: 'utf8',
        timeout: 30_000,
      });
    try {
      // Only a 20 s wake-up pending: the process ends at once, without it.
      const alone = run(
        `wakeAfter(20000, () => console.log('fired')); process.on('exit', () => console.log(Date.now() - t0 < 10000 ? 'ended' : 'kept alive'));`,
      );
      expect(alone.stdout.trim()).toBe('ended');
      // A server keeps the process alive for a while: a 100 ms wake-up comes, then the process ends.
      const held = run(`const s = require('node:net').createServer().listen(0); wakeAfter(100, () => { console.log('fired'); s.close(); });`);
      expect(held.stdout.trim()).toBe('fired');
      expect(held.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
