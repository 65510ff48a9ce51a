// The launchers start Node without NODE_EXTRA_CA_CERTS (Node 20 parses that bundle at startup, and
// a helper answered by the daemon makes no TLS connection), and hand it back to the daemon they start.
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

const CA = '/etc/ssl/certs/ca-certificates.crt';
let sb: Sandbox | undefined;
afterAll(async () => sb?.cleanup());

function environOf(pid: number): Map<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

describe('launchers', () => {
  it('move NODE_EXTRA_CA_CERTS aside for the helper and restore it for the daemon they spawn', async () => {
    sb = await createSandbox('launcher');
    await sb.login('https://ca.example.com', 'u', 'pw');
    // Through a symlink, as pip's keyring dir and npm's .bin reach them.
    const link = join(sb.root, 'git-credential-linked');
    symlinkSync(sb.bin('git-credential-credmux'), link);
    // A `node` first on PATH that records the environment the launcher starts Node with.
    const shim = join(sb.root, 'shim');
    mkdirSync(shim);
    const seen = join(sb.root, 'node-env.txt');
    writeFileSync(join(shim, 'node'), `#!/bin/sh\nenv > '${seen}'\nexec '${process.execPath}' "$@"\n`);
    chmodSync(join(shim, 'node'), 0o755);
    const env = { ...sb.env, NODE_EXTRA_CA_CERTS: CA, PATH: `${shim}:${sb.env.PATH}` };
    const r = await sb.run(link, ['get'], { input: 'protocol=https\nhost=ca.example.com\n\n', env });
    expect(r.stdout).toBe('username=u\npassword=pw\n');
    const helperEnv = readFileSync(seen, 'utf8');
    expect(helperEnv).not.toMatch(/^NODE_EXTRA_CA_CERTS=/m);
    expect(helperEnv).toContain(`CREDMUX_EXTRA_CA_CERTS=${CA}`);
    // That call answered in process and started the daemon in the background: wait for it.
    // `daemon status` exits 1 while none runs yet: read its JSON either way.
    let status = JSON.parse((await sb.run(sb.bin('credmux'), ['daemon', 'status', '--json'])).stdout);
    for (let t = 0; t < 150 && !status.running; t++) {
      // up to 15 s: the suite runs many files on 2 cores
      await new Promise((r) => setTimeout(r, 100));
      status = JSON.parse((await sb.run(sb.bin('credmux'), ['daemon', 'status', '--json'])).stdout);
    }
    expect(status.running).toBe(true);
    const daemonEnv = environOf(status.pid);
    expect(daemonEnv.get('NODE_EXTRA_CA_CERTS')).toBe(CA);
    expect(daemonEnv.has('CREDMUX_EXTRA_CA_CERTS')).toBe(false);
  });
});
