// The shipped pieces together: the real git entry and the real daemon (openEngine, file store), laid
// out as scripts/build.mjs lays them out (bin/ next to lib/engine.cjs), so the entry finds the daemon
// next to itself with no CREDMUX_DAEMON_BIN.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import { daemonStatus } from '../../src/client/daemon-control.js';
import { bundle, daemonPids, disposeBundles, exited, testHome, waitUntil, type TestHome } from './helpers.js';

let bundleDir: string | undefined;
let daemonBin: string;
let gitBin: string;
const homes: TestHome[] = [];

beforeAll(async () => {
  // The build's layout: every bundle in lib/, found by the others through __dirname.
  const { dir, paths } = await bundle({
    'lib/credmux-daemon.cjs': 'src/bin/credmux-daemon.ts',
    'lib/git-credential-credmux.cjs': 'src/bin/git-credential-credmux.ts',
    'lib/engine.cjs': 'src/lib/engine.ts',
  });
  bundleDir = dir;
  daemonBin = paths['lib/credmux-daemon.cjs']!;
  gitBin = paths['lib/git-credential-credmux.cjs']!;
});

afterEach(() => {
  for (const h of homes.splice(0)) h.cleanup();
});
afterAll(() => disposeBundles(bundleDir));

function home(extra: Env = {}): Env {
  const h = testHome(daemonBin, { CREDMUX_STORE: 'file', ...extra });
  delete h.env.CREDMUX_DAEMON_BIN; // the entry must find bin/credmux-daemon next to itself
  homes.push(h);
  return h.env;
}

function git(env: Env, op: string, input: string): Record<string, string> {
  const r = spawnSync(process.execPath, [gitBin, op], { env: env as NodeJS.ProcessEnv, input, encoding: 'utf8', timeout: 15_000 });
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/**
 * A helper that finds no daemon answers in process and starts one in the background; these tests are
 * about what the daemon answers, so they make one first and wait for it.
 */
async function warmUp(env: Env): Promise<void> {
  git(env, 'get', 'protocol=https\nhost=warm-up.example\n\n');
  await waitFor(env);
}

async function waitFor(env: Env): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await daemonStatus(env)).running) {
    if (Date.now() > deadline) throw new Error('no daemon came up');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function requests(env: Env) {
  const s = await daemonStatus(env);
  if (!s.running) throw new Error(s.reason);
  return s;
}

describe('git-credential-credmux with the real daemon and engine', () => {
  it('store and get go through one daemon; a SIGKILLed daemon loses nothing stored', async () => {
    const env = home();
    await warmUp(env);
    git(env, 'store', 'protocol=https\nhost=git.example\nusername=alice\npassword=p4ss-w0rd-x\n\n');
    const s1 = await requests(env);
    expect(s1.requests).toMatchObject({ store: 1 });
    expect(git(env, 'get', 'protocol=https\nhost=git.example\npath=org/repo.git\n\n')).toEqual({ username: 'alice', password: 'p4ss-w0rd-x' });
    expect((await requests(env)).requests).toMatchObject({ store: 1, get: 1 });
    expect(daemonPids(daemonBin, env)).toEqual([s1.pid]);

    process.kill(s1.pid, 'SIGKILL');
    await waitUntil(() => exited(s1.pid), 10_000, 'daemon gone');
    expect(git({ ...env, CREDMUX_DAEMON: '0' }, 'get', 'protocol=https\nhost=git.example\n\n')).toEqual({
      username: 'alice',
      password: 'p4ss-w0rd-x',
    });
    expect(git(env, 'get', 'protocol=https\nhost=git.example\n\n')).toEqual({ username: 'alice', password: 'p4ss-w0rd-x' });
    await waitFor(env); // that call answered in process and started a new daemon in the background
    const s2 = await requests(env);
    expect(s2.pid).not.toBe(s1.pid);
  });

  it('picks up a config change and a store written by another process without a restart', async () => {
    const env = home({ CMX_TEST_TOKEN: 'env-tok-123' });
    await warmUp(env);
    expect(git(env, 'get', 'protocol=https\nhost=env.example\n\n')).toEqual({});
    const { pid } = await requests(env);
    const cfgDir = join(env.HOME!, '.config', 'credmux');
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(
      join(cfgDir, 'config.tmp'),
      JSON.stringify({ rules: [{ id: 'ci', match: 'https://env.example', source: { type: 'env', var: 'CMX_TEST_TOKEN' } }] }),
    );
    renameSync(join(cfgDir, 'config.tmp'), join(cfgDir, 'config.json'));
    expect(git(env, 'get', 'protocol=https\nhost=env.example\n\n')).toMatchObject({ password: 'env-tok-123' });

    // Another process writes the store directly (no daemon): the daemon sees it on the next request.
    git({ ...env, CREDMUX_DAEMON: '0' }, 'store', 'protocol=https\nhost=other.example\nusername=bob\npassword=b0b-secret\n\n');
    expect(git(env, 'get', 'protocol=https\nhost=other.example\n\n')).toEqual({ username: 'bob', password: 'b0b-secret' });
    const s = await requests(env);
    expect(s.pid).toBe(pid);
    expect(s.requests.get).toBe(3);
  });

  it('sees an in-place rewrite of the same size with the mtime carried over (cp -p) of the config, the store and netrc', async () => {
    const env = home({ CMX_TOKEN_A: 'env-tok-AAAA', CMX_TOKEN_B: 'env-tok-BBBB' });
    const cfgDir = join(env.HOME!, '.config', 'credmux');
    mkdirSync(cfgDir, { recursive: true });
    const netrc = join(env.HOME!, 'netrc');
    const config = (v: string) =>
      JSON.stringify({
        rules: [
          { id: 'ci', match: 'https://env.example', source: { type: 'env', var: v } },
          { id: 'nr', match: 'https://n.example', source: { type: 'netrc', file: netrc } },
        ],
      });
    writeFileSync(join(cfgDir, 'config.json'), config('CMX_TOKEN_A'));
    writeFileSync(netrc, 'machine n.example login bob password nnnn-1111\n', { mode: 0o600 });
    git({ ...env, CREDMUX_DAEMON: '0' }, 'store', 'protocol=https\nhost=s.example\nusername=al\npassword=sss-AAAA\n\n');
    await warmUp(env);
    expect(git(env, 'get', 'protocol=https\nhost=env.example\n\n')).toMatchObject({ password: 'env-tok-AAAA' });
    expect(git(env, 'get', 'protocol=https\nhost=n.example\n\n')).toMatchObject({ password: 'nnnn-1111' });
    expect(git(env, 'get', 'protocol=https\nhost=s.example\n\n')).toMatchObject({ password: 'sss-AAAA' });
    const { pid } = await requests(env);

    // Each file replaced in place by one of the same size, its mtime carried over: same inode, size and mtime.
    const store = join(env.HOME!, '.local', 'share', 'credmux', 'credentials.json');
    const swaps: [string, string][] = [
      [join(cfgDir, 'config.json'), config('CMX_TOKEN_B')],
      [netrc, readFileSync(netrc, 'utf8').replace('nnnn-1111', 'nnnn-2222')],
      [store, readFileSync(store, 'utf8').replace('sss-AAAA', 'sss-BBBB')],
    ];
    for (const [file, text] of swaps) {
      const next = `${file}.next`;
      writeFileSync(next, text, { mode: 0o600 });
      const before = statSync(file);
      expect(spawnSync('touch', ['-r', file, next]).status).toBe(0);
      expect(spawnSync('cp', ['-p', next, file]).status).toBe(0);
      const after = statSync(file);
      expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    }
    expect(git(env, 'get', 'protocol=https\nhost=env.example\n\n')).toMatchObject({ password: 'env-tok-BBBB' });
    expect(git(env, 'get', 'protocol=https\nhost=n.example\n\n')).toMatchObject({ password: 'nnnn-2222' });
    expect(git(env, 'get', 'protocol=https\nhost=s.example\n\n')).toMatchObject({ password: 'sss-BBBB' });
    expect((await requests(env)).pid).toBe(pid); // the same daemon saw all three
  });
});
