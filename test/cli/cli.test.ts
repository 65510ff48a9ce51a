// The human CLI as a new user meets it: login, get, list, logout on the file store, in a fresh HOME.
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, run } from './run-bin.js';

const SECRET = 's3cret-Zq81';

describe('credmux login / get / list / logout', () => {
  it('stores a password, shows it only when asked, lists it without the secret, and removes it', async () => {
    const env = isolatedEnv();
    const login = await run('credmux', ['login', 'https://pkgs.example.com', '--username', 'alice', '--password-stdin'], env, `${SECRET}\n`);
    expect(login.code).toBe(0);
    expect(login.stderr).toContain('file store');
    expect(login.stdout + login.stderr).not.toContain(SECRET);

    const shown = await run('credmux', ['get', 'https://pkgs.example.com/simple/', '--json', '--show-secret'], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ found: true, credential: { kind: 'basic', username: 'alice', secret: SECRET } });

    const hidden = await run('credmux', ['get', 'https://pkgs.example.com/simple/'], env);
    expect(hidden.code).toBe(0);
    expect(hidden.stdout).toContain('alice');
    expect(hidden.stdout).not.toContain(SECRET);

    for (const args of [['list'], ['list', '--json']]) {
      const listed = await run('credmux', args, env);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('https://pkgs.example.com');
      expect(listed.stdout).toContain('alice');
      expect(listed.stdout).not.toContain(SECRET);
    }

    const logout = await run('credmux', ['logout', 'https://pkgs.example.com'], env);
    expect(logout.code).toBe(0);
    const after = await run('credmux', ['get', 'https://pkgs.example.com/simple/', '--json'], env);
    expect(after.code).toBe(1);
    expect(JSON.parse(after.stdout).found).toBe(false);
    expect((await run('credmux', ['logout', 'https://pkgs.example.com'], env)).code).toBe(1);
  });

  it('stores a token as Bearer, presented with the given username to Basic-only protocols', async () => {
    const env = isolatedEnv();
    expect((await run('credmux', ['login', 'https://ghcr.io', '--token-stdin', '--username', 'x-access-token'], env, 'tok-123\n')).code).toBe(0);
    const bazel = await run('credmux-bazel', ['get'], env, '{"uri":"https://ghcr.io/v2/"}');
    expect(JSON.parse(bazel.stdout)).toEqual({ headers: { Authorization: ['Bearer tok-123'] } });
    const docker = await run('docker-credential-credmux', ['get'], env, 'ghcr.io');
    expect(JSON.parse(docker.stdout)).toEqual({ ServerURL: 'ghcr.io', Username: 'x-access-token', Secret: 'tok-123' });
  });

  it('keeps the file 0600 in a 0700 directory, and 40 concurrent logins leave exactly 40 entries', async () => {
    const env = isolatedEnv();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        run('credmux', ['login', `https://host${i}.example.com`, '--username', `user${i}`, '--password-stdin'], env, `pw${i}\n`),
      ),
    );
    expect(results.map((r) => r.code)).toEqual(Array(40).fill(0));
    const listed = JSON.parse((await run('credmux', ['list', '--json'], env)).stdout);
    expect(listed.entries).toHaveLength(40);
    expect(new Set(listed.entries.map((e: { url: string }) => e.url)).size).toBe(40);
    const file = listed.store.location as string;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
  }, 60_000);

  it('refuses a corrupted credentials file with a clear error, backs it up, and never empties it', async () => {
    const env = isolatedEnv();
    await run('credmux', ['login', 'https://a.example.com', '--username', 'u', '--password-stdin'], env, 'pw\n');
    const file = JSON.parse((await run('credmux', ['list', '--json'], env)).stdout).store.location as string;
    const garbage = '{"version":1,"entries":[{"url": trunc';
    writeFileSync(file, garbage);
    const login = await run('credmux', ['login', 'https://b.example.com', '--username', 'u', '--password-stdin'], env, 'pw2\n');
    expect(login.code).toBe(4);
    expect(login.stderr).toContain(file);
    expect(login.stderr).toMatch(/corrupt/i);
    expect(readFileSync(file, 'utf8')).toBe(garbage);
    const backups = readdirSync(join(file, '..')).filter((f) => f.includes('corrupt'));
    expect(backups.length).toBeGreaterThan(0);
    const served = await run('git-credential-credmux', ['get'], env, 'protocol=https\nhost=a.example.com\n\n');
    expect(served.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toBe(garbage);
  });

  it('with no D-Bus session bus, CREDMUX_STORE=auto picks the file store in under 1 s and says so', async () => {
    const env = isolatedEnv({ CREDMUX_STORE: 'auto' });
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const t0 = performance.now();
    const r = await run('credmux', ['login', 'https://pkgs.example.com', '--username', 'alice', '--password-stdin'], env, 'pw\n');
    const elapsed = performance.now() - t0;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/file store.*D-Bus/);
    expect(elapsed).toBeLessThan(1000);
  });

  it('reports an invalid config with the JSON path and what to write instead', async () => {
    const env = isolatedEnv();
    const dir = join(env.HOME!, '.config', 'credmux');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        rules: [
          { match: 'https://a.example.com', source: { type: 'envv' } },
          { match: 'ftp://x', source: { type: 'netrc' } },
        ],
      }),
    );
    const r = await run('credmux', ['list'], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('/rules/0/source/type');
    expect(r.stderr).toMatch(/must be one of "env", "netrc"/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules: [{ match: 'ftp://x', source: { type: 'netrc' } }] }));
    const r2 = await run('credmux', ['list'], env);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain('/rules/0/match');
    expect(r2.stderr).toContain('https://');
  });

  it('serves an env-var rule from the config and reports a missing variable with the fix', async () => {
    const env = isolatedEnv({ CI_TOKEN: 'env-secret-9' });
    const dir = join(env.HOME!, '.config', 'credmux');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ rules: [{ id: 'ci', match: '*.corp.example', username: 'ci', source: { type: 'env', var: 'CI_TOKEN' } }] }),
    );
    const r = await run('credmux-bazel', ['get'], env, '{"uri":"https://pkgs.corp.example/x"}');
    expect(JSON.parse(r.stdout)).toEqual({ headers: { Authorization: ['Bearer env-secret-9'] } });
    const bad = await run('credmux-bazel', ['get'], { ...env, CI_TOKEN: '' }, '{"uri":"https://pkgs.corp.example/x"}');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('CI_TOKEN');
  });

  it('reads netrc through, by host', async () => {
    const env = isolatedEnv();
    writeFileSync(join(env.HOME!, '.netrc'), 'machine files.example.com login bob password nrpw\n');
    chmodSync(join(env.HOME!, '.netrc'), 0o600);
    const dir = join(env.HOME!, '.config', 'credmux');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules: [{ match: 'https://files.example.com', source: { type: 'netrc' } }] }));
    const r = await run('git-credential-credmux', ['get'], env, 'protocol=https\nhost=files.example.com\n\n');
    expect(r.stdout).toBe('username=bob\npassword=nrpw\n');
  });

  it('has --help on every command and documented exit codes for usage errors', async () => {
    const env = isolatedEnv();
    for (const cmd of [[], ['login'], ['logout'], ['list'], ['get']]) {
      const r = await run('credmux', [...cmd, '--help'], env);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('credmux');
    }
    expect((await run('credmux', ['--help'], env)).stdout).toContain('Exit codes');
    expect((await run('credmux', ['frobnicate'], env)).code).toBe(2);
    expect((await run('credmux', ['login'], env)).code).toBe(2);
    const noUser = await run('credmux', ['login', 'https://x.example.com', '--password-stdin'], env, 'pw\n');
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toContain('--username');
    const badUrl = await run('credmux', ['login', 'ftp://x.example.com', '--username', 'u', '--password-stdin'], env, 'pw\n');
    expect(badUrl.code).toBe(2);
  });

  it('speaks each protocol through the explicit forms credmux bazel|git|docker|keyring', async () => {
    const env = isolatedEnv();
    await run('credmux', ['login', 'https://pkgs.example.com', '--username', 'alice', '--password-stdin'], env, `${SECRET}\n`);
    expect(
      JSON.parse((await run('credmux', ['bazel', 'get'], env, '{"uri":"https://pkgs.example.com/a"}')).stdout).headers.Authorization,
    ).toHaveLength(1);
    expect((await run('credmux', ['git', 'get'], env, 'protocol=https\nhost=pkgs.example.com\n\n')).stdout).toBe(
      `username=alice\npassword=${SECRET}\n`,
    );
    expect(JSON.parse((await run('credmux', ['docker', 'get'], env, 'pkgs.example.com')).stdout).Secret).toBe(SECRET);
    expect((await run('credmux', ['keyring', 'get', 'https://pkgs.example.com/simple/', 'alice'], env)).stdout).toBe(`${SECRET}\n`);
  });
});
