// The vault source through the four original doors, driving the BUILT entries (dist/bin) as Bazel,
// git, Docker and pip/uv run them, against the fake Vault (test/helpers/vault-server.ts): in process
// (no daemon) for each way in, then through a real daemon — a burst of helpers sharing one login and
// one read, and a dynamic secret's lease renewed ahead of its end with the same value served on.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { daemonStatus, startDaemon } from '../../src/client/daemon-control.js';
import { isolatedEnv, run } from '../cli/run-bin.js';
import { waitUntil } from '../daemon/helpers.js';
import { REPO_ROOT, requireBuilt } from '../helpers/dist.js';
import { daemonTestEnv } from '../helpers/daemon-env.js';
import { startVaultServer, type FakeVault } from '../helpers/vault-server.js';

let vault: FakeVault;
beforeAll(async () => {
  requireBuilt();
  vault = await startVaultServer();
});
afterAll(() => vault.close());
beforeEach(() => vault.reset());

const HOST = 'registry.acme.test';
const KV = { kv: { mount: 'secret', path: 'ci/registry' }, field: 'password', usernameField: 'username' };

function withConfig(env: Record<string, string>, rules: unknown[]): Record<string, string> {
  const dir = join(env.HOME!, '.config', 'credmux');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules }, null, 2));
  return env;
}

function vaultRule(source: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { id: 'vault', match: `https://${HOST}`, source: { type: 'vault', address: vault.url, allowInsecureHttp: true, ...source }, ...extra };
}

/**
 * Asks all four protocols for the host, as each tool does: keyring with the username pip/uv know, or
 * (null) `--mode creds`, as they ask when the URL names none.
 */
async function askAll(env: Record<string, string>, keyringUser: string | null) {
  const [bazel, git, docker, keyring] = await Promise.all([
    run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${HOST}/v2/team/app/manifests/1.0` })),
    run('git-credential-credmux', ['get'], env, `protocol=https\nhost=${HOST}\npath=team/app.git\n\n`),
    run('docker-credential-credmux', ['get'], env, HOST),
    run(
      'keyring',
      keyringUser === null ? ['--mode', 'creds', 'get', `https://${HOST}/simple/`] : ['get', `https://${HOST}/simple/`, keyringUser],
      env,
    ),
  ]);
  for (const [name, r] of Object.entries({ bazel, git, docker, keyring })) expect(r!.code, `${name}: ${r!.stderr}${r!.stdout}`).toBe(0);
  return {
    bazel: JSON.parse(bazel!.stdout) as { headers: { Authorization: string[] }; expires?: string },
    git: Object.fromEntries(
      git!.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>,
    docker: JSON.parse(docker!.stdout) as { ServerURL: string; Username: string; Secret: string },
    keyring: keyring!.stdout.trim().split('\n').at(-1)!,
    keyringUser: keyringUser ?? keyring!.stdout.split('\n')[0]!,
  };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('vault through Bazel, git, Docker and keyring (built entries, in process)', () => {
  it('AppRole (secret_id stored with credmux login) + KV v2: user and password in every protocol; the secret_id is never served', async () => {
    const env = withConfig(isolatedEnv(), [
      vaultRule({ auth: { method: 'approle', roleId: vault.approle.roleId, secretId: { stored: 'https://vault.acme.test/approle' } }, ...KV }),
    ]);
    const login = await run('credmux', ['login', 'https://vault.acme.test/approle', '--token-stdin'], env, `${vault.approle.secretId}\n`);
    expect(login.code, login.stderr).toBe(0);
    const out = await askAll(env, 'ci-bot');
    expect(out.bazel.headers.Authorization).toEqual([basic('ci-bot', 'kv-password-v2')]);
    expect(out.git).toMatchObject({ username: 'ci-bot', password: 'kv-password-v2' });
    expect(out.docker).toEqual({ ServerURL: HOST, Username: 'ci-bot', Secret: 'kv-password-v2' });
    expect(out.keyring).toBe('kv-password-v2');
    // Each helper logged in (in process: no daemon to share with) with the stored secret_id.
    const logins = vault.requests.filter((r) => r.path === '/v1/auth/approle/login');
    expect(logins).toHaveLength(4);
    for (const l of logins) expect(JSON.parse(l.body)).toEqual({ role_id: vault.approle.roleId, secret_id: vault.approle.secretId });
    const secretIdServed = await run('credmux', ['get', 'https://vault.acme.test/approle'], env);
    expect(secretIdServed.stdout + secretIdServed.stderr).not.toContain(vault.approle.secretId);
  });

  it('JWT/OIDC (the CI identity) + a leased database credential: the lease end reaches Bazel as expires and git as password_expiry_utc', async () => {
    vault.dbLease = { ttl: 1800, maxTtl: 86400, renewable: true };
    const env = withConfig(isolatedEnv({ CI_ID_TOKEN: await vault.ciJwt() }), [
      vaultRule({
        auth: { method: 'jwt', role: 'ci', identity: { provider: 'gitlab', var: 'CI_ID_TOKEN' } },
        path: 'database/creds/readonly',
        field: 'password',
        usernameField: 'username',
      }),
    ]);
    const before = Math.floor(Date.now() / 1000);
    const out = await askAll(env, null);
    const after = Math.floor(Date.now() / 1000);
    const byUser = new Map(vault.issued.map((c) => [c.username, c.password]));
    const [u, p] = Buffer.from(out.bazel.headers.Authorization[0]!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    expect(byUser.get(u!)).toBe(p);
    const expires = Date.parse(out.bazel.expires!) / 1000;
    expect(expires).toBeGreaterThanOrEqual(before + 1800);
    expect(expires).toBeLessThanOrEqual(after + 1800);
    expect(byUser.get(out.git.username!)).toBe(out.git.password);
    expect(Number(out.git.password_expiry_utc)).toBeGreaterThanOrEqual(before + 1800);
    expect(byUser.get(out.docker.Username)).toBe(out.docker.Secret);
    expect(byUser.get(out.keyringUser)).toBe(out.keyring);
    expect(vault.count('POST', '/v1/auth/jwt/login')).toBe(4);
  });

  it('a token from $VAULT_TOKEN + a KV field used as a bearer token: Bazel gets Bearer, the others __token__', async () => {
    vault.kv.set('ci/token', [{ token: 'glpat-kvtoken0123456789abcdef' }]);
    const env = withConfig(isolatedEnv({ VAULT_TOKEN: vault.rootToken }), [vaultRule({ kv: { mount: 'secret', path: 'ci/token' }, field: 'token' })]);
    const out = await askAll(env, '__token__');
    expect(out.bazel.headers.Authorization).toEqual(['Bearer glpat-kvtoken0123456789abcdef']);
    expect(out.git).toMatchObject({ username: '__token__', password: 'glpat-kvtoken0123456789abcdef' });
    expect(out.docker.Secret).toBe('glpat-kvtoken0123456789abcdef');
    expect(out.keyring).toBe('glpat-kvtoken0123456789abcdef');
    expect(vault.requests.every((r) => r.headers['x-vault-token'] === vault.rootToken)).toBe(true);
  });

  it('through a Vault Agent socket: no token of ours, every protocol served', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'cmx-va-')), 'agent.sock');
    await vault.listenAgent(sock);
    const env = withConfig(isolatedEnv(), [{ id: 'vault', match: `https://${HOST}`, source: { type: 'vault', agent: { socket: sock }, ...KV } }]);
    const out = await askAll(env, 'ci-bot');
    expect(out.docker).toEqual({ ServerURL: HOST, Username: 'ci-bot', Secret: 'kv-password-v2' });
    expect(out.git.password).toBe('kv-password-v2');
    const reads = vault.requests.filter((r) => r.path === '/v1/secret/data/ci/registry');
    expect(reads).toHaveLength(4);
    expect(reads.every((r) => r.via === 'agent' && r.headers['x-vault-token'] === vault.agentToken)).toBe(true);
  });

  it('a sealed Vault: each protocol fails in its own shape, naming the rule and the seal, never a secret', async () => {
    vault.sealed = true;
    const env = withConfig(isolatedEnv({ VAULT_SECRET_ID: vault.approle.secretId }), [
      vaultRule({ auth: { method: 'approle', roleId: vault.approle.roleId, secretId: { env: 'VAULT_SECRET_ID' } }, ...KV }),
    ]);
    const rs = await Promise.all([
      run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${HOST}/x` })),
      run('git-credential-credmux', ['get'], env, `protocol=https\nhost=${HOST}\n\n`),
      run('docker-credential-credmux', ['get'], env, HOST),
      run('keyring', ['get', `https://${HOST}/simple/`, 'ci-bot'], env),
    ]);
    for (const [i, r] of rs.entries()) {
      expect(r.code, String(i)).toBe(1);
      const shown = i === 2 ? r.stdout : r.stderr; // Docker's helper protocol reports errors on stdout
      expect(shown).toContain(`rule "vault" (https://${HOST})`);
      expect(shown).toContain('is sealed (HTTP 503)');
      expect(r.stdout + r.stderr).not.toContain(vault.approle.secretId);
    }
  });
});

describe('a vault rule costs a helper that does not use it nothing', () => {
  it('asking for another rule loads the engine only: no undici, jose, TLS, crypto or sockets', () => {
    const env = withConfig(isolatedEnv({ STATIC_TOKEN: 'static-token-value' }), [
      { id: 'static', match: 'https://static.test', source: { type: 'env', var: 'STATIC_TOKEN' } },
      vaultRule({
        auth: { method: 'approle', roleId: 'r', secretId: { env: 'VAULT_SECRET_ID' } },
        path: 'database/creds/readonly',
        field: 'password',
      }),
      { id: 'agent', match: 'https://agent.test', source: { type: 'vault', agent: { socket: '/run/vault/agent.sock' }, ...KV } },
    ]);
    const out = join(mkdtempSync(join(tmpdir(), 'credmux-loaded-')), 'loaded.json');
    const r = spawnSync(
      process.execPath,
      ['-r', join(REPO_ROOT, 'test/perf/record-loaded.cjs'), join(REPO_ROOT, 'dist/lib/credmux-bazel.cjs'), 'get'],
      { env: { ...env, RECORD_LOADED_OUT: out }, input: JSON.stringify({ uri: 'https://static.test/x' }), encoding: 'utf8' },
    );
    expect(r.stdout).toContain('Bearer static-token-value');
    const { files, builtins } = JSON.parse(readFileSync(out, 'utf8')) as { files: string[]; builtins: string[] };
    expect(files.filter((f) => !f.endsWith('record-loaded.cjs')).map((f) => f.replace(/^.*\/dist\//, 'dist/'))).toEqual([
      'dist/lib/credmux-bazel.cjs',
      'dist/lib/engine.cjs',
    ]);
    expect(builtins.filter((b) => /^(net|tls|_tls_wrap|crypto|http|https|child_process|fs\/promises)$/.test(b))).toEqual([]);
  });
});

describe('vault through a daemon', () => {
  const bazelGet = (env: Record<string, string>) =>
    run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${HOST}/v2/` })).then((r) => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { headers: { Authorization: string[] }; expires?: string };
    });

  it('20 helpers at once: one login, one read, one answer for all', { timeout: 60_000 }, async () => {
    const env = daemonTestEnv(
      [vaultRule({ auth: { method: 'approle', roleId: vault.approle.roleId, secretId: { env: 'VAULT_SECRET_ID' } }, ...KV })],
      {
        VAULT_SECRET_ID: vault.approle.secretId,
      },
    );
    await startDaemon(env);
    const answers = await Promise.all(Array.from({ length: 20 }, () => bazelGet(env)));
    expect(new Set(answers.map((a) => a.headers.Authorization[0]))).toEqual(new Set([basic('ci-bot', 'kv-password-v2')]));
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(1);
    expect(vault.count('GET', '/v1/secret/data/ci/registry')).toBe(1);
    const s = await daemonStatus(env);
    expect(s.running && s.requests.get).toBe(20);
  });

  it(
    'a dynamic secret: its lease is renewed ahead of its end and the same credential served with the later expiry',
    { timeout: 90_000 },
    async () => {
      // 24 s: the cache refreshes once 12 s remain (half of a short life) and serves the value while more than 5 s do.
      vault.dbLease = { ttl: 24, maxTtl: 3600, renewable: true };
      const env = daemonTestEnv([vaultRule({ path: 'database/creds/readonly', field: 'password', usernameField: 'username' })], {
        VAULT_TOKEN: vault.rootToken,
      });
      await startDaemon(env);
      const first = await bazelGet(env);
      const issued = vault.issued[0]!;
      expect(first.headers.Authorization).toEqual([basic(issued.username, issued.password)]);
      // Ask until the daemon's refresh-ahead has renewed the lease (an event the server records), as tools keep asking.
      await waitUntil(
        async () => {
          await bazelGet(env);
          return vault.count('PUT', '/v1/sys/leases/renew') > 0;
        },
        40_000,
        'a lease renewal',
      );
      const renew = vault.requests.find((r) => r.path === '/v1/sys/leases/renew')!;
      expect(JSON.parse(renew.body)).toEqual({ lease_id: issued.leaseId, increment: 24 });
      let later = first;
      await waitUntil(
        async () => {
          later = await bazelGet(env);
          return Date.parse(later.expires!) > Date.parse(first.expires!);
        },
        10_000,
        'the renewed expiry',
      );
      expect(later.headers.Authorization).toEqual(first.headers.Authorization);
      expect(vault.issued).toHaveLength(1);
    },
  );
});
