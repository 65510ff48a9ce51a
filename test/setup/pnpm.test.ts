// `credmux setup pnpm` and doctor's pnpm check beyond the common setup matrix (setup-files.test.ts):
// which registries get a wrapper and a `//host/path/:tokenHelper` line, what follows a logout, and
// what setup refuses to write into (a file another user owns, a wrapper directory others can enter).
// pnpm reads tokenHelper only from the user .npmrc: docs/protocols.md §13.2.
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBuilt } from '../helpers/dist.js';
import { run, show } from '../helpers/run.js';
import { newHome, type Home } from './home.js';

let h: Home;
beforeAll(() => requireBuilt());
afterEach(async () => {
  await h?.cleanup();
});

const npmrc = () => join(h.home, '.npmrc');
const wrapperDir = () => join(h.home, '.local/share/credmux/pnpm-helpers');
const tokenHelperLines = () => readFileSync(npmrc(), 'utf8').match(/^\/\/\S+:tokenHelper=\S+$/gm) ?? [];

async function doctorPnpm(env?: NodeJS.ProcessEnv) {
  const r = await h.credmux(['doctor', '--json'], env ? { env } : {});
  const checks = (JSON.parse(r.stdout) as { checks: { area: string; status: string; summary: string; details?: string[]; fix?: string }[] }).checks;
  return checks.find((c) => c.area === 'pnpm')!;
}

describe('credmux setup pnpm', () => {
  it('one wrapper and one key per registry (paths kept, trailing slash); wildcards are named, not wired', async () => {
    h = await newHome('pnpm-keys');
    await h.ok(['login', 'https://npm.example.com/team', '--token-stdin'], { input: 'tok-team' });
    await h.ok(['login', 'http://127.0.0.1:4873', '--token-stdin', '--for', 'pnpm'], { input: 'tok-local' });
    await h.ok(['login', '*.corp.example.com', '--token-stdin'], { input: 'tok-wild' });
    await h.ok(['login', 'https://git-only.example.com', '--token-stdin', '--for', 'git'], { input: 'tok-git' });
    const r = await h.ok(['setup', 'pnpm']);
    expect(r.stdout).toContain('cannot be wired: https://*.corp.example.com');
    expect(r.stdout).toMatch(/Not wired into pnpm: https:\/\/git-only\.example\.com \(for git\)/);
    const lines = tokenHelperLines();
    expect(lines.map((l) => l.slice(0, l.indexOf('=')))).toEqual(['//127.0.0.1:4873/:tokenHelper', '//npm.example.com/team/:tokenHelper']);
    expect(readdirSync(wrapperDir())).toHaveLength(2);
    // Each wrapper answers for its own registry, through the real entry.
    for (const [line, token] of [
      [lines[0]!, 'tok-local'],
      [lines[1]!, 'tok-team'],
    ] as const) {
      const wrapper = line.slice(line.indexOf('=') + 1);
      const answer = await run(wrapper, [], { env: h.env });
      expect(answer.stdout, show(answer)).toBe(`Bearer ${token}\n`);
    }
  });

  it('after a logout the next setup removes that registry: its line and its wrapper; the last one gives the file back', async () => {
    h = await newHome('pnpm-logout');
    writeFileSync(npmrc(), 'save-exact=true\n');
    await h.ok(['login', 'https://a.example.com', '--token-stdin'], { input: 'tok-a' });
    await h.ok(['login', 'https://b.example.com', '--token-stdin'], { input: 'tok-b' });
    await h.ok(['setup', 'pnpm']);
    expect(tokenHelperLines()).toHaveLength(2);
    await h.ok(['logout', 'https://a.example.com']);
    await h.ok(['setup', 'pnpm']);
    expect(tokenHelperLines().map((l) => l.slice(0, l.indexOf('=')))).toEqual(['//b.example.com/:tokenHelper']);
    expect(readdirSync(wrapperDir())).toHaveLength(1);
    await h.ok(['logout', 'https://b.example.com']);
    const last = await h.credmux(['setup', 'pnpm']);
    expect(last.code, show(last)).toBe(1); // nothing to wire
    expect(readFileSync(npmrc(), 'utf8')).toBe('save-exact=true\n');
    expect(existsSync(wrapperDir())).toBe(false);
  });

  it('writes the file NPM_CONFIG_USERCONFIG names, as pnpm reads it', async () => {
    h = await newHome('pnpm-userconfig');
    await h.ok(['login', 'https://npm.example.com', '--token-stdin'], { input: 'tok' });
    const file = join(h.root, 'elsewhere.npmrc');
    await h.ok(['setup', 'pnpm'], { env: { ...h.env, NPM_CONFIG_USERCONFIG: file } });
    expect(readFileSync(file, 'utf8')).toMatch(/^\/\/npm\.example\.com\/:tokenHelper=/m);
    expect(existsSync(npmrc())).toBe(false);
  });

  it('refuses a user .npmrc another user owns, writing nothing', async () => {
    h = await newHome('pnpm-foreign');
    await h.ok(['login', 'https://npm.example.com', '--token-stdin'], { input: 'tok' });
    // As root, a file given to nobody; as anyone else, a file root owns.
    let file = '/etc/passwd';
    if (process.getuid?.() === 0) {
      file = join(h.root, 'foreign.npmrc');
      writeFileSync(file, 'registry=https://registry.npmjs.org/\n');
      chownSync(file, 65534, 65534);
    }
    const before = readFileSync(file, 'utf8');
    const r = await h.credmux(['setup', 'pnpm'], { env: { ...h.env, NPM_CONFIG_USERCONFIG: file } });
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toMatch(/belongs to uid \d+, not to you/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(existsSync(wrapperDir())).toBe(false);
  });

  it('refuses a wrapper directory others can enter (they could swap what pnpm runs), writing nothing', async () => {
    h = await newHome('pnpm-opendir');
    await h.ok(['login', 'https://npm.example.com', '--token-stdin'], { input: 'tok' });
    await h.ok(['setup', 'pnpm']);
    const before = readFileSync(npmrc(), 'utf8');
    await h.ok(['login', 'https://npm2.example.com', '--token-stdin'], { input: 'tok2' });
    chmodSync(wrapperDir(), 0o777);
    const r = await h.credmux(['setup', 'pnpm']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain(`chmod 700 ${wrapperDir()}`);
    expect(readFileSync(npmrc(), 'utf8')).toBe(before);
    expect(readdirSync(wrapperDir())).toHaveLength(1);
  });
});

describe('credmux doctor: pnpm', () => {
  it('not wired, wired to this credmux, a wrapper gone, a wrapper directory opened up: each with its fix', async () => {
    h = await newHome('pnpm-doctor');
    await h.ok(['login', 'https://npm.example.com', '--token-stdin'], { input: 'tok' });
    let c = await doctorPnpm();
    expect([c.status, c.fix]).toEqual(['info', 'credmux setup pnpm']);

    await h.ok(['setup', 'pnpm']);
    c = await doctorPnpm();
    expect(c.status, JSON.stringify(c)).toBe('ok');

    await h.ok(['login', 'https://npm-new.example.com', '--token-stdin'], { input: 'tok2' });
    c = await doctorPnpm();
    expect([c.status, c.summary]).toEqual(['warn', expect.stringContaining('not for: https://npm-new.example.com')]);
    await h.ok(['setup', 'pnpm']);

    const wrapper = join(wrapperDir(), readdirSync(wrapperDir())[0]!);
    rmSync(wrapper);
    c = await doctorPnpm();
    expect(c.status).toBe('error');
    expect(c.details!.join('\n')).toContain(`${wrapper} does not exist or is not executable`);
    expect(c.fix).toContain('credmux setup pnpm');
    await h.ok(['setup', 'pnpm']);
    expect(statSync(wrapper).mode & 0o777).toBe(0o700);

    chmodSync(wrapperDir(), 0o755);
    c = await doctorPnpm();
    expect([c.status, c.details]).toEqual(['error', [expect.stringContaining('chmod 700')]]);
  });
});
