// On whichever Node runs the suite (CI runs it on 20, 22, 24 and 26): every entry answers cold (no
// daemon yet: it starts one) and warm, with nothing on stderr — git, Docker and pip show a helper's
// stderr to their users — also when Node is told to report or throw on every deprecation, pending
// ones included (process.binding was one: DEP0111). `credmux daemon start` works the same way.
import { describe, expect, it, onTestFinished } from 'vitest';
import { warmCalls } from '../../scripts/warm-calls.mjs';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { ENTRIES, type Entry } from '../helpers/dist.js';
import { waitUntil } from '../daemon/helpers.js';

const HOST = 'quiet.example.com';
const SECRET = 'quiet-secret-1';
// Every entry's call as its tool makes it: the list the bench times and the build trains on.
const CALLS = warmCalls(HOST, SECRET).map((c) => [c.entry as Entry, c] as const);

it('every entry but the human CLI has a call here', () => {
  expect(CALLS.map(([entry]) => entry).sort()).toEqual(ENTRIES.filter((e) => e !== 'credmux').sort());
});

const MODES: [string, NodeJS.ProcessEnv][] = [
  ['plain', {}],
  ['NODE_PENDING_DEPRECATION=1', { NODE_PENDING_DEPRECATION: '1' }],
  ['--pending-deprecation --throw-deprecation', { NODE_OPTIONS: '--pending-deprecation --throw-deprecation' }],
];

/** A sandbox of its own for one test, its daemon stopped and its files removed when the test ends. */
async function sandboxForTest(name: string): Promise<Sandbox> {
  const sb = await createSandbox(name);
  onTestFinished(() => sb.cleanup());
  return sb;
}

async function daemonRunning(sb: Sandbox, env: NodeJS.ProcessEnv): Promise<boolean> {
  const r = await sb.run(sb.bin('credmux'), ['daemon', 'status', '--json'], { env });
  return (JSON.parse(r.stdout || '{}') as { running?: boolean }).running === true;
}

describe.each(MODES)(`Node ${process.version}, %s`, (_mode, extra) => {
  it.each(CALLS)('%s answers cold, starting the daemon, then warm; stderr stays empty', async (name, call) => {
    const sb = await sandboxForTest('quiet');
    await sb.login(`https://${HOST}`, 'alice', SECRET);
    const env = { ...sb.env, ...call.env, ...extra };
    const input = call.input ?? '';
    expect(await daemonRunning(sb, env)).toBe(false);

    const cold = await sb.run(sb.bin(name), call.argv, { input, env });
    expect({ code: cold.code, stderr: cold.stderr }).toEqual({ code: 0, stderr: '' });
    expect(cold.stdout).toContain(call.expect);
    // The cold call answered in process and started the daemon in the background.
    await waitUntil(() => daemonRunning(sb, env), 15_000, 'the daemon the cold call started');

    const warm = await sb.run(sb.bin(name), call.argv, { input, env });
    expect({ code: warm.code, stderr: warm.stderr }).toEqual({ code: 0, stderr: '' });
    expect(warm.stdout).toContain(call.expect);
    const status = JSON.parse((await sb.run(sb.bin('credmux'), ['daemon', 'status', '--json'], { env })).stdout) as { requests: { get: number } };
    expect(status.requests.get).toBe(1); // the warm call was the daemon's (the cold one answered in process)
  });

  it('credmux daemon start starts one, quietly', async () => {
    const sb = await sandboxForTest('quiet-start');
    const env = { ...sb.env, ...extra };
    const r = await sb.run(sb.bin('credmux'), ['daemon', 'start'], { env });
    expect(r.code).toBe(0);
    // Its one line of news goes to stderr (stdout stays for data); nothing else may.
    expect(r.stderr).toMatch(/^Started credmux daemon \S+ \(pid \d+\) on \S+\n$/);
    expect(await daemonRunning(sb, env)).toBe(true);
  });
});
