// What the daemon costs and saves, measured on this machine and printed (the numbers behind the
// spawn-and-wait choice in src/client/daemon-client.ts). The assertions are ratios, not absolute times, so a
// slow CI machine does not fail them, but a daemon round trip as slow as a process start would.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askDaemon } from '../../src/client/daemon-client.js';
import { stopDaemon } from '../../src/client/daemon-control.js';
import { buildFakeBundles, disposeBundles, runClient, testHome, waitUntil, daemonPids, type Bundles, type TestHome } from './helpers.js';

let bins: Bundles;
let h: TestHome;

beforeAll(async () => {
  bins = await buildFakeBundles();
  h = testHome(bins.daemon);
});
afterAll(() => {
  h?.cleanup();
  disposeBundles(bins?.dir);
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

describe('cost of a daemon round trip vs a process start', () => {
  it('measures and compares', async () => {
    const req = { op: 'get', url: 'https://bench.example/x' } as const;
    const nodeStart: number[] = [];
    for (let i = 0; i < 5; i++) nodeStart.push(await timed(() => spawnSync(process.execPath, ['-e', '0'])));

    const cold: number[] = [];
    for (let i = 0; i < 3; i++) {
      await stopDaemon(h.env);
      await waitUntil(() => daemonPids(bins.daemon, h.env).length === 0, 3_000, 'stopped');
      let via = '';
      cold.push(await timed(async () => (via = (await runClient(bins.client, req, h.env)).via)));
      expect(via).toBe('daemon');
    }

    const warmProcess: number[] = [];
    for (let i = 0; i < 5; i++) warmProcess.push(await timed(() => runClient(bins.client, req, h.env)));

    const roundTrip: number[] = [];
    for (let i = 0; i < 200; i++) {
      roundTrip.push(
        await timed(async () => {
          expect(await askDaemon(req, h.env)).toBeDefined();
        }),
      );
    }

    const report = {
      'node -e 0 (process start)': median(nodeStart),
      'helper process, daemon running': median(warmProcess),
      'helper process, no daemon (spawn + wait)': median(cold),
      'askDaemon round trip (in a warm process)': median(roundTrip),
    };
    console.log(
      Object.entries(report)
        .map(([k, v]) => `${k.padEnd(45)} ${v.toFixed(1)} ms`)
        .join('\n'),
    );
    expect(report['askDaemon round trip (in a warm process)']).toBeLessThan(report['node -e 0 (process start)'] / 4);
    expect(report['helper process, daemon running']).toBeLessThan(report['helper process, no daemon (spawn + wait)']);
  });
});
