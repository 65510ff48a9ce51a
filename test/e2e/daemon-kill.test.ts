// Invariant 5 (docs/architecture.md "Invariants") with the real entries: 50 helper processes across
// the four protocols while the daemon is SIGKILLed in the middle — every one gets the right answer,
// and a new daemon serves the next.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuilt } from '../helpers/dist.js';
import { show, type RunResult } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

const PW = 'K1ll-Test-Pw';
let sb: Sandbox;

beforeAll(async () => {
  requireBuilt();
  sb = await createSandbox('daemon-kill');
  await sb.login('https://reg.example.com', 'alice', PW);
});
afterAll(async () => sb?.cleanup());

async function status(): Promise<{ running: boolean; pid?: number; requests?: { get: number } }> {
  return JSON.parse((await sb.run(sb.bin('credmux'), ['daemon', 'status', '--json'])).stdout);
}

async function waitRunning(notPid?: number): Promise<{ pid: number; requests: { get: number } }> {
  for (let t = 0; t < 100; t++) {
    const s = await status();
    if (s.running && s.pid !== notPid) return s as { pid: number; requests: { get: number } };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no daemon came up');
}

const CALLS: { name: string; run: () => Promise<RunResult>; ok: (r: RunResult) => boolean }[] = [
  {
    name: 'bazel',
    run: () => sb.run(sb.bin('credmux-bazel'), ['get'], { input: '{"uri":"https://reg.example.com/v2/x"}' }),
    ok: (r) => r.code === 0 && r.stdout === `{"headers":{"Authorization":["Basic ${Buffer.from(`alice:${PW}`).toString('base64')}"]}}\n`,
  },
  {
    name: 'git',
    run: () => sb.run(sb.bin('git-credential-credmux'), ['get'], { input: 'protocol=https\nhost=reg.example.com\n\n' }),
    ok: (r) => r.code === 0 && r.stdout === `username=alice\npassword=${PW}\n`,
  },
  {
    name: 'docker',
    run: () => sb.run(sb.bin('docker-credential-credmux'), ['get'], { input: 'reg.example.com' }),
    ok: (r) => r.code === 0 && r.stdout === `{"ServerURL":"reg.example.com","Username":"alice","Secret":"${PW}"}\n`,
  },
  {
    name: 'keyring',
    run: () => sb.run(sb.bin('keyring'), ['get', 'https://reg.example.com/simple/', 'alice']),
    ok: (r) => r.code === 0 && r.stdout === `${PW}\n`,
  },
];

describe('the daemon SIGKILLed under 50 helpers of all four protocols', () => {
  it('every helper gets the right answer, and a new daemon serves the next call', async () => {
    expect((await sb.run(sb.bin('credmux'), ['daemon', 'start'])).code).toBe(0);
    const first = await waitRunning();
    const pending: { name: string; p: Promise<RunResult> }[] = [];
    for (let i = 0; i < 50; i++) {
      const call = CALLS[i % 4]!;
      pending.push({ name: call.name, p: call.run() });
      if (i === 24) {
        await new Promise((r) => setTimeout(r, 30)); // some are in flight at the daemon now
        process.kill(first.pid, 'SIGKILL');
      }
    }
    const results = await Promise.all(pending.map(async ({ name, p }) => ({ name, r: await p })));
    for (const [i, { name, r }] of results.entries()) {
      const call = CALLS.find((c) => c.name === name)!;
      expect(call.ok(r), `call ${i} (${name})\n${show(r)}`).toBe(true);
    }
    // The next call starts (or finds) a new daemon, which then serves.
    expect(CALLS[1]!.ok(await CALLS[1]!.run())).toBe(true);
    const second = await waitRunning(first.pid);
    expect(second.pid).not.toBe(first.pid);
    const before = second.requests.get;
    expect(CALLS[0]!.ok(await CALLS[0]!.run())).toBe(true);
    expect((await waitRunning(first.pid)).requests.get).toBe(before + 1);
  }, 60_000);
});
