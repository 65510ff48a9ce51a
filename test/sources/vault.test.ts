// vault: log in to a (fake, loopback) Vault — AppRole, JWT/OIDC, Kubernetes, a token you have, or a
// Vault Agent's — read a KV v2 secret or a leased dynamic one, renew the lease through the token
// cache's refresh-ahead, and say what went wrong in Vault's own terms without ever showing a secret.
// An in-process engine with a clock the test moves (harness.ts); the server's clock follows it.
import { chmodSync, chownSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/engine/config.js';
import type { RuleConfig } from '../../src/model/rule.js';
import { IS_ROOT } from '../helpers/second-user.js';
import { makeTestTls } from '../helpers/tls.js';
import { startVaultServer, type FakeVault } from '../helpers/vault-server.js';
import { errorOf, harness, type Harness } from './harness.js';

let vault: FakeVault;
beforeAll(async () => {
  vault = await startVaultServer();
});
afterAll(() => vault.close());
beforeEach(() => vault.reset());

const REG = 'https://registry.acme.test';
let serial = 0;

/** A rule of its own per test: logins are kept per rule, and each test starts from none. */
function rule(source: Record<string, unknown>, extra: Record<string, unknown> = {}): RuleConfig {
  return {
    id: `vault-${++serial}`,
    match: REG,
    source: { type: 'vault', address: vault.url, allowInsecureHttp: true, ...source },
    ...extra,
  } as RuleConfig;
}

const approle = () => ({ method: 'approle', roleId: vault.approle.roleId, secretId: { env: 'VAULT_SECRET_ID' } });
const KV = { kv: { mount: 'secret', path: 'ci/registry' }, field: 'password', usernameField: 'username' };
const DB = { path: 'database/creds/readonly', field: 'password', usernameField: 'username' };

/** The harness with the server's clock tied to the harness's. */
function h(rules: RuleConfig[], env: Record<string, string> = {}): Harness {
  const x = harness(rules, { env: { VAULT_SECRET_ID: vault.approle.secretId, ...env } });
  vault.now = () => x.clock.wall;
  return x;
}

describe('vault: AppRole login and a KV v2 secret', () => {
  it('logs in once, reads <mount>/data/<path> with the client token, serves username + password (basic)', async () => {
    const x = h([rule({ auth: approle(), ...KV })]);
    const c = await x.token(`${REG}/v2/`);
    expect(c).toMatchObject({ kind: 'basic', username: 'ci-bot', secret: 'kv-password-v2' });
    // No lease on KV: read again after 300 s, so a rotated secret is picked up.
    expect(c.expiresAt).toBe(x.clock.nowS + 300);
    const login = vault.requests.find((r) => r.path === '/v1/auth/approle/login')!;
    expect(login.method).toBe('POST');
    expect(JSON.parse(login.body)).toEqual({ role_id: vault.approle.roleId, secret_id: vault.approle.secretId });
    const read = vault.requests.find((r) => r.path === '/v1/secret/data/ci/registry')!;
    expect(read.method).toBe('GET');
    expect(read.headers['x-vault-token']).toBe(vault.logins[0]);
    expect(read.headers['x-vault-request']).toBe('true');
    expect(read.headers['x-vault-namespace']).toBeUndefined();
    // Cached: no second login, no second read.
    await x.token(`${REG}/v2/x`);
    expect(vault.requests).toHaveLength(2);
    // Past the 300 s: read again with the same (still valid) login.
    vault.kv.get('ci/registry')!.push({ username: 'ci-bot', password: 'kv-password-v3' });
    x.clock.advance(301_000);
    expect((await x.token(`${REG}/v2/`)).secret).toBe('kv-password-v3');
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(1);
    expect(vault.count('GET', '/v1/secret/data/ci/registry')).toBe(2);
  });

  it('a pinned version is read with ?version=N; ttlSeconds bounds how long it is served', async () => {
    const x = h([rule({ auth: approle(), ...KV, kv: { mount: 'secret', path: 'ci/registry', version: 1 }, ttlSeconds: 60 })]);
    const c = await x.token(REG);
    expect(c.secret).toBe('kv-password-v1');
    expect(c.expiresAt).toBe(x.clock.nowS + 60);
    expect(vault.requests.at(-1)!.query).toBe('?version=1');
  });

  it('without usernameField the field is a bearer token, presented with the rule username', async () => {
    vault.kv.set('ci/token', [{ token: 'ghp_kvstoredtoken0123456789' }]);
    const x = h([rule({ auth: approle(), kv: { mount: 'secret', path: 'ci/token' }, field: 'token' }, { username: 'x-access-token' })]);
    expect(await x.token(REG)).toMatchObject({ kind: 'bearer', username: 'x-access-token', secret: 'ghp_kvstoredtoken0123456789' });
  });

  it('the X-Vault-Namespace header carries the namespace (the rule, else $VAULT_NAMESPACE)', async () => {
    vault.namespace = 'team-a';
    const x = h([rule({ auth: approle(), ...KV, namespace: 'team-a' })]);
    expect((await x.token(REG)).secret).toBe('kv-password-v2');
    expect(vault.requests.every((r) => r.headers['x-vault-namespace'] === 'team-a')).toBe(true);
    const y = h([rule({ auth: approle(), ...KV })], { VAULT_NAMESPACE: 'team-a' });
    expect((await y.token(REG)).secret).toBe('kv-password-v2');
  });

  it('the address comes from $VAULT_ADDR when the rule has none', async () => {
    const r = rule({ auth: approle(), ...KV });
    delete (r.source as { address?: string }).address;
    expect((await h([r], { VAULT_ADDR: vault.url }).token(REG)).secret).toBe('kv-password-v2');
    expect((await errorOf(h([r]), REG)).message).toContain('no Vault address: set "address" in the rule, or VAULT_ADDR where the helper runs');
  });

  it('HTTPS with a private CA (NODE_EXTRA_CA_CERTS, as the launcher hands it on)', async () => {
    const tls = makeTestTls();
    const secure = await startVaultServer({ tls });
    try {
      const r = {
        id: `vault-${++serial}`,
        match: REG,
        source: { type: 'vault', address: secure.url, auth: { method: 'token' }, ...KV },
      } as RuleConfig;
      const x = harness([r], { env: { VAULT_TOKEN: secure.rootToken, CREDMUX_EXTRA_CA_CERTS: tls.caFile } });
      expect((await x.token(REG)).secret).toBe('kv-password-v2');
      const untrusted = harness([{ ...r, id: `vault-${++serial}` }], { env: { VAULT_TOKEN: secure.rootToken } });
      const e = await errorOf(untrusted, REG);
      expect(e.message).toContain('TLS verification of');
      expect(e.message).not.toContain(secure.rootToken);
    } finally {
      await secure.close();
    }
  });
});

describe('vault: dynamic secrets and their leases', () => {
  it("a lease's duration is the expiry; ahead of its end the lease is renewed (PUT sys/leases/renew) and the same value served longer", async () => {
    vault.dbLease = { ttl: 600, maxTtl: 86400, renewable: true };
    vault.approle.role = { paths: ['database/creds/'], tokenTtl: 7200, tokenMaxTtl: 86400, renewable: true };
    const x = h([rule({ auth: approle(), ...DB })]);
    const first = await x.token(REG);
    const issued = vault.issued[0]!;
    expect(first).toMatchObject({ kind: 'basic', username: issued.username, secret: issued.password, expiresAt: x.clock.nowS + 600 });
    // Into the refresh margin (max(60 s, 10 %) of 600 s): the value is still served, one renewal runs behind it.
    x.clock.advance(545_000);
    expect((await x.token(REG)).secret).toBe(issued.password);
    await vi.waitFor(() => expect(vault.count('PUT', '/v1/sys/leases/renew')).toBe(1));
    const renew = vault.requests.find((r) => r.path === '/v1/sys/leases/renew')!;
    expect(JSON.parse(renew.body)).toEqual({ lease_id: issued.leaseId, increment: 600 });
    expect(renew.headers['x-vault-token']).toBe(vault.logins[0]);
    await vi.waitFor(async () => expect((await x.token(REG)).expiresAt).toBe(x.clock.nowS + 600));
    const after = await x.token(REG);
    expect(after.secret).toBe(issued.password);
    expect(vault.issued).toHaveLength(1); // the same credential, not a new one
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(1);
  });

  it('a lease at its max TTL is not renewed into a short life: a new secret is read', async () => {
    vault.dbLease = { ttl: 600, maxTtl: 580, renewable: true };
    vault.approle.role = { paths: ['database/creds/'], tokenTtl: 7200, tokenMaxTtl: 86400, renewable: true };
    const x = h([rule({ auth: approle(), ...DB })]);
    await x.token(REG);
    x.clock.advance(545_000);
    await x.token(REG);
    await vi.waitFor(() => expect(vault.issued).toHaveLength(2));
    expect(vault.count('PUT', '/v1/sys/leases/renew')).toBe(1);
    await vi.waitFor(async () => expect((await x.token(REG)).secret).toBe(vault.issued[1]!.password));
  });

  it("a leased value is served no longer than the login's token lives; that token is renewed (renew-self), then the lease", async () => {
    vault.dbLease = { ttl: 3600, maxTtl: 86400, renewable: true };
    vault.approle.role = { paths: ['database/creds/'], tokenTtl: 600, tokenMaxTtl: 86400, renewable: true };
    const x = h([rule({ auth: approle(), ...DB })]);
    const first = await x.token(REG);
    expect(first.expiresAt).toBe(x.clock.nowS + 600); // the token's end, not the lease's
    x.clock.advance(545_000);
    await x.token(REG);
    await vi.waitFor(() => expect(vault.count('PUT', '/v1/sys/leases/renew')).toBe(1));
    const renewSelf = vault.requests.find((r) => r.path === '/v1/auth/token/renew-self')!;
    expect(JSON.parse(renewSelf.body)).toEqual({ increment: '600s' });
    await vi.waitFor(async () => expect((await x.token(REG)).expiresAt).toBe(x.clock.nowS + 600));
    expect((await x.token(REG)).secret).toBe(first.secret);
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(1);
  });

  it('a token past its max TTL means a new login, and a new secret (the old lease dies with the old token)', async () => {
    vault.dbLease = { ttl: 3600, maxTtl: 86400, renewable: true };
    vault.approle.role = { paths: ['database/creds/'], tokenTtl: 600, tokenMaxTtl: 600, renewable: true };
    const x = h([rule({ auth: approle(), ...DB })]);
    const first = await x.token(REG);
    x.clock.advance(545_000);
    await x.token(REG);
    await vi.waitFor(() => expect(vault.issued).toHaveLength(2));
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(2);
    expect(vault.count('PUT', '/v1/sys/leases/renew')).toBe(0);
    await vi.waitFor(async () => expect((await x.token(REG)).secret).not.toBe(first.secret));
  });

  it('after a logout (the cache evicted), a new secret is read rather than the old lease renewed', async () => {
    const x = h([rule({ auth: approle(), ...DB })]);
    const first = await x.token(REG);
    await x.engine.handle({ op: 'erase', url: REG });
    const second = await x.token(REG);
    expect(second.secret).not.toBe(first.secret);
    expect(vault.count('PUT', '/v1/sys/leases/renew')).toBe(0);
  });

  it('params are POSTed as the JSON body (aws/sts/<role> with a ttl); the lease it grants is the expiry', async () => {
    const x = h(
      [rule({ auth: { method: 'token' }, path: 'aws/sts/deploy', params: { ttl: '900s' }, field: 'secret_key', usernameField: 'access_key' })],
      {
        VAULT_TOKEN: vault.rootToken,
      },
    );
    const c = await x.token(REG);
    expect(c).toMatchObject({ kind: 'basic', username: 'ASIAFAKEACCESSKEY123', expiresAt: x.clock.nowS + 900 });
    const r = vault.requests.at(-1)!;
    expect(r.method).toBe('POST');
    expect(JSON.parse(r.body)).toEqual({ ttl: '900s' });
  });
});

describe('vault: the other ways in', () => {
  it('jwt: the CI identity token at auth/jwt/login with the role; the server verifies signature, audience and subject', async () => {
    const x = h([rule({ auth: { method: 'jwt', role: 'ci', identity: { provider: 'env', var: 'CI_ID_TOKEN' } }, ...KV })], {
      CI_ID_TOKEN: await vault.ciJwt(),
    });
    expect((await x.token(REG)).secret).toBe('kv-password-v2');
    const login = JSON.parse(vault.requests.find((r) => r.path === '/v1/auth/jwt/login')!.body) as { role: string; jwt: string };
    expect(login.role).toBe('ci');
  });

  it('jwt: an identity the role does not trust (wrong audience) — "refused", what to check, never the JWT', async () => {
    const jwt = await vault.ciJwt({ aud: 'someone-else' });
    const x = h([rule({ auth: { method: 'jwt', role: 'ci', identity: { provider: 'env', var: 'CI_ID_TOKEN' } }, ...KV })], { CI_ID_TOKEN: jwt });
    const e = await errorOf(x, REG);
    expect(e.message).toContain('Vault JWT/OIDC login refused at');
    expect(e.message).toContain('HTTP 400: error validating token');
    expect(e.message).toContain('check that the role "ci" at auth/jwt trusts this identity');
    expect(e.message).not.toContain(jwt);
  });

  it('jwt: an expired identity is named before Vault is asked', async () => {
    const x = h([rule({ auth: { method: 'jwt', identity: { provider: 'env', var: 'CI_ID_TOKEN' } }, ...KV })], {
      CI_ID_TOKEN: await vault.ciJwt({ expSeconds: -60 }),
    });
    expect((await errorOf(x, REG)).message).toMatch(/the identity token in \$CI_ID_TOKEN expired at .*re-run the job/);
    expect(vault.requests).toHaveLength(0);
  });

  it('kubernetes: the service-account token file at auth/kubernetes/login with the role, re-read at each login', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-sa-'));
    writeFileSync(join(dir, 'token'), await vault.serviceAccountJwt());
    const x = h([rule({ auth: { method: 'kubernetes', role: 'app', tokenFile: join(dir, 'token') }, ...KV })]);
    expect((await x.token(REG)).secret).toBe('kv-password-v2');
    expect(JSON.parse(vault.requests[0]!.body)).toMatchObject({ role: 'app' });
    writeFileSync(join(dir, 'token'), await vault.serviceAccountJwt({ sub: 'system:serviceaccount:other:intruder' }));
    const y = h([rule({ auth: { method: 'kubernetes', role: 'app', tokenFile: join(dir, 'token') }, ...KV })]);
    const e = await errorOf(y, REG);
    expect(e.message).toContain('Vault Kubernetes login: permission denied at');
    expect(e.message).toContain('check that the role "app" at auth/kubernetes is bound to this service account and namespace');
  });

  it('token: $VAULT_TOKEN, else ~/.vault-token — only when it is yours and no one else can write it', async () => {
    const r = rule({ ...KV });
    expect((await h([r], { VAULT_TOKEN: vault.rootToken }).token(REG)).secret).toBe('kv-password-v2');
    expect(vault.requests.at(-1)!.headers['x-vault-token']).toBe(vault.rootToken);

    const home = mkdtempSync(join(tmpdir(), 'credmux-vt-'));
    const file = join(home, '.vault-token');
    const withHome = () => h([rule({ ...KV })], { HOME: home });
    expect((await errorOf(withHome(), REG)).message).toContain(
      'no Vault token: VAULT_TOKEN is unset and there is no ~/.vault-token; run vault login',
    );
    writeFileSync(file, `${vault.rootToken}\n`, { mode: 0o600 });
    expect((await withHome().token(REG)).secret).toBe('kv-password-v2');
    chmodSync(file, 0o666);
    const loose = await errorOf(withHome(), REG);
    expect(loose.message).toContain(`${file} is writable by group or others; refused: run chmod 600`);
    expect(loose.message).not.toContain(vault.rootToken);
    chmodSync(file, 0o600);
    if (IS_ROOT) {
      chownSync(file, 4321, 4321);
      expect((await errorOf(withHome(), REG)).message).toContain(`${file} belongs to uid 4321, not to you`);
    } else {
      console.log('[vault] not root: the ~/.vault-token owner check was not staged as another uid');
    }
    const other = mkdtempSync(join(tmpdir(), 'credmux-vt-'));
    writeFileSync(join(other, 'planted'), vault.rootToken, { mode: 0o600 });
    const linkHome = mkdtempSync(join(tmpdir(), 'credmux-vt-'));
    symlinkSync(join(other, 'planted'), join(linkHome, '.vault-token'));
    expect((await errorOf(h([rule({ ...KV })], { HOME: linkHome }), REG)).message).toContain('a symbolic link, refused');
  });

  it('a revoked login token: one new login, then the read succeeds', async () => {
    const x = h([rule({ auth: approle(), ...KV, ttlSeconds: 10 })]);
    await x.token(REG);
    vault.revoke(vault.logins[0]!);
    x.clock.advance(11_000);
    expect((await x.token(REG)).secret).toBe('kv-password-v2');
    expect(vault.count('POST', '/v1/auth/approle/login')).toBe(2);
  });
});

describe('vault: through a Vault Agent on its Unix socket', () => {
  it('no token of ours: the agent adds its auto-auth token; X-Vault-Request is sent (require_request_header)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmx-agent-'));
    const sock = join(dir, 'agent.sock');
    await vault.listenAgent(sock);
    const r = { id: `vault-${++serial}`, match: REG, source: { type: 'vault', agent: { socket: sock }, ...KV } } as RuleConfig;
    const x = h([r]);
    expect(await x.token(REG)).toMatchObject({ kind: 'basic', username: 'ci-bot', secret: 'kv-password-v2' });
    const read = vault.requests.at(-1)!;
    expect(read.via).toBe('agent');
    expect(read.headers['x-vault-token']).toBe(vault.agentToken); // added by the agent, not sent by us
    expect(read.headers['x-vault-request']).toBe('true');
  });

  it('a socket in a directory others can write, or owned by another user, is refused before any byte is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmx-agent-'));
    const sock = join(dir, 'agent.sock');
    await vault.listenAgent(sock);
    const r = () => ({ id: `vault-${++serial}`, match: REG, source: { type: 'vault', agent: { socket: sock }, ...KV } }) as RuleConfig;
    chmodSync(dir, 0o777);
    const before = vault.requests.length;
    expect((await errorOf(h([r()]), REG)).message).toContain(`the directory ${dir} holding the agent socket could be changed by another user`);
    chmodSync(dir, 0o700);
    if (IS_ROOT) {
      chownSync(sock, 4321, 4321);
      const e = await errorOf(h([r()]), REG);
      expect(e.message).toContain(`${sock} belongs to uid 4321, not to you (uid 0), root or the rule's "agent.uid"`);
      // Named as the agent's user, it is trusted.
      const trusted = { ...r(), source: { type: 'vault', agent: { socket: sock, uid: 4321 }, ...KV } } as RuleConfig;
      chownSync(dir, 4321, 4321);
      expect((await h([trusted]).token(REG)).secret).toBe('kv-password-v2');
    } else {
      console.log('[vault] not root: the agent socket owner check was not staged as another uid');
    }
    expect(vault.requests.length - before).toBe(IS_ROOT ? 1 : 0);
    const missing = {
      id: `vault-${++serial}`,
      match: REG,
      source: { type: 'vault', agent: { socket: join(dir, 'nope.sock') }, ...KV },
    } as RuleConfig;
    expect((await errorOf(h([missing]), REG)).message).toContain(`no Vault Agent socket at ${join(dir, 'nope.sock')} (ENOENT)`);
  });
});

describe('vault: failures by name, never a secret', () => {
  const secrets = () => [vault.approle.secretId, vault.rootToken, ...vault.logins];
  function clean(message: string) {
    for (const s of secrets()) expect(message).not.toContain(s);
  }

  it('sealed (503): says so, and that credmux keeps retrying', async () => {
    vault.sealed = true;
    const e = await errorOf(h([rule({ auth: approle(), ...KV })]), REG);
    expect(e.code).toBe('source');
    expect(e.message).toContain(`Vault AppRole login: Vault at ${vault.url} is sealed (HTTP 503); it must be unsealed`);
    expect(e.message).toContain('credmux keeps retrying with backoff');
  });

  it('permission denied (403 with errors[]): the path and the capability the policy lacks', async () => {
    vault.kv.set('other/thing', [{ password: 'x' }]);
    const e = await errorOf(h([rule({ auth: approle(), kv: { mount: 'secret', path: 'other/thing' }, field: 'password' })]), REG);
    expect(e.message).toMatch(/^rule "vault-\d+" \(https:\/\/registry\.acme\.test\): reading secret\/data\/other\/thing: permission denied at /);
    expect(e.message).toContain(
      '(HTTP 403: permission denied); the policies of the approle role lack capabilities ["read"] on secret/data/other/thing',
    );
    clean(e.message);
  });

  it('a refused token (token method): may have expired or been revoked, and how to get a new one', async () => {
    const t = vault.makeToken(['secret/data/ci/'], 60);
    vault.revoke(t);
    const e = await errorOf(h([rule({ ...KV })], { VAULT_TOKEN: t }), REG);
    expect(e.message).toContain('the Vault token may have expired or been revoked (run vault login, or set VAULT_TOKEN)');
    expect(e.message).not.toContain(t);
  });

  it('a missing path (404), a deleted version, a missing field', async () => {
    const miss = await errorOf(h([rule({ auth: approle(), kv: { mount: 'secret', path: 'ci/nothing' }, field: 'password' })]), REG);
    expect(miss.message).toContain('nothing at');
    expect(miss.message).toContain('is there a secret "ci/nothing" in the KV version 2 engine mounted at "secret"?');
    const field = await errorOf(h([rule({ auth: approle(), ...KV, field: 'passwd' })]), REG);
    expect(field.message).toContain('has no string field "passwd" for the password (fields: username, password); set "field" to one of them');
    clean(field.message);
    expect(field.message).not.toContain('kv-password');
    vault.kv.get('ci/registry')!.push(null);
    const deleted = await errorOf(h([rule({ auth: approle(), ...KV, kv: { mount: 'secret', path: 'ci/registry', version: 3 } })]), REG);
    expect(deleted.message).toContain('version 3 of the secret was deleted');
  });

  it('a wrong secret_id (400 "invalid role or secret ID"): which input to replace', async () => {
    const e = await errorOf(h([rule({ auth: approle(), ...KV })], { VAULT_SECRET_ID: 'wrong-secret-id-0123456789' }), REG);
    expect(e.message).toContain('Vault AppRole login refused at');
    expect(e.message).toContain('(HTTP 400: invalid role or secret ID); check the role_id and the AppRole secret_id in $VAULT_SECRET_ID');
    expect(e.message).not.toContain('wrong-secret-id-0123456789');
  });

  it('a missing stored secret_id: the login command that stores one', async () => {
    const x = h([rule({ auth: { ...approle(), secretId: { stored: 'https://vault.acme.test/approle' } }, ...KV })]);
    expect((await errorOf(x, REG)).message).toContain(
      'the AppRole secret_id stored for https://vault.acme.test/approle is missing; fix: credmux login',
    );
  });

  it('an unreachable server: the address and the retry', async () => {
    const e = await errorOf(h([rule({ auth: approle(), ...KV, address: 'http://127.0.0.1:1' })]), REG);
    expect(e.message).toContain('http://127.0.0.1:1/v1/auth/approle/login refused the connection');
    expect(e.message).toContain('credmux keeps retrying with backoff');
  });
});

describe('vault: config checks', () => {
  const parse = (source: Record<string, unknown>) => () =>
    parseConfig(JSON.stringify({ rules: [{ match: REG, source: { type: 'vault', ...source } }] }));

  it('accepts each auth method and both kinds of read', () => {
    for (const auth of [
      { method: 'token' },
      { method: 'token', token: { env: 'MY_VAULT_TOKEN' } },
      { method: 'approle', roleId: { stored: 'https://vault.acme.test' }, secretId: { env: 'SID' }, mount: 'ci/approle' },
      { method: 'jwt', identity: { provider: 'github', audience: 'vault' } },
      { method: 'kubernetes', role: 'app' },
      { method: 'agent' },
    ]) {
      expect(parse({ address: 'https://vault.acme.test:8200', auth, ...KV }), JSON.stringify(auth)).not.toThrow();
    }
    expect(parse({ agent: { socket: '/run/vault/agent.sock' }, ...DB })).not.toThrow();
  });

  it('refuses what would go wrong, naming the JSON path and what to write', () => {
    expect(parse({ address: 'https://v.test', field: 'password' })).toThrow(/\/rules\/0\/source: say what to read: "kv" .* or "path"/);
    expect(parse({ address: 'https://v.test', ...KV, path: 'a/b' })).toThrow(/say what to read/);
    expect(parse({ address: 'http://vault.acme.test', ...KV })).toThrow(
      /\/rules\/0\/source\/address: .*plain http to a host that is not this machine/,
    );
    expect(parse({ address: 'https://v.test', ...DB, path: 'database/../sys/raw' })).toThrow(/\/source\/path: .*"\.\." segment/);
    expect(parse({ address: 'https://v.test', ...DB, path: '/database/creds/x' })).toThrow(/\/source\/path: .*write a Vault path without a leading/);
    expect(parse({ agent: { socket: '/run/a.sock' }, address: 'https://v.test', ...KV })).toThrow(
      /\/source\/address: with "agent" every call goes through/,
    );
    expect(parse({ address: 'https://v.test', ...KV, params: { a: 1 } })).toThrow(/\/source\/params: a KV read takes no parameters/);
    expect(parse({ address: 'https://v.test', auth: { method: 'approle' }, ...KV })).toThrow(/\/source\/auth: missing "roleId"/);
    expect(parse({ address: 'https://v.test', auth: { method: 'kubernetes', role: 'a', identity: {} }, ...KV })).toThrow(/unknown key "identity"/);
  });
});

describe('vault: env names', () => {
  it('a rule leaving address, namespace and token unset reads the caller’s VAULT_ADDR, VAULT_NAMESPACE and VAULT_TOKEN', async () => {
    const { envNamesOf } = await import('../../src/sources/env-names.js');
    const compiled = (source: Record<string, unknown>) =>
      ({ id: 'v', match: REG, pattern: {} as never, source: { type: 'vault', ...source } }) as never;
    expect(envNamesOf(compiled({ ...KV }))).toEqual(['VAULT_ADDR', 'VAULT_NAMESPACE', 'VAULT_TOKEN']);
    expect(envNamesOf(compiled({ address: 'https://v.test', namespace: 'a', auth: approle(), ...KV }))).toEqual(['VAULT_SECRET_ID']);
    expect(envNamesOf(compiled({ agent: { socket: '/s' }, namespace: 'a', ...KV }))).toEqual([]);
  });
});
