// A daemon serves helpers started from many environments: a rule that reads an environment variable
// must answer each caller with the CALLER's value, never the value of whoever started the daemon.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

let sb: Sandbox | undefined;
afterAll(async () => sb?.cleanup());

describe('caller environment through the daemon', () => {
  it('answers env-var rules with each caller’s own value, and evaluates them in the daemon', async () => {
    sb = await createSandbox('caller-env');
    const dir = join(sb.home, '.config', 'credmux');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ rules: [{ id: 'ci', match: 'https://ci.example.com', source: { type: 'env', var: 'CI_TOKEN' } }] }),
    );
    const ask = (token: string | undefined) =>
      sb!.run(sb!.bin('credmux-bazel'), ['get'], {
        input: '{"uri":"https://ci.example.com/x"}',
        env: { ...sb!.env, ...(token === undefined ? {} : { CI_TOKEN: token }) },
      });
    // The daemon is started from an environment with CI_TOKEN=first.
    expect((await sb.run(sb.bin('credmux'), ['daemon', 'start'], { env: { ...sb.env, CI_TOKEN: 'first' } })).code).toBe(0);
    expect(JSON.parse((await ask('first')).stdout)).toEqual({ headers: { Authorization: ['Bearer first'] } });
    expect(JSON.parse((await ask('second')).stdout)).toEqual({ headers: { Authorization: ['Bearer second'] } });
    const unset = await ask(undefined);
    expect(unset.code).not.toBe(0);
    expect(unset.stderr).toContain('CI_TOKEN');
    const status = JSON.parse((await sb.credmux(['daemon', 'status', '--json'])).stdout);
    expect(status.running).toBe(true);
    // All three were answered by the daemon, not in process.
    expect(status.requests.get).toBeGreaterThanOrEqual(3);
    expect(status.requests.contextMismatch).toBe(0);
  });
});
