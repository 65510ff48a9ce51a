// oidc: a CI identity token from GitHub Actions, a GitLab id_tokens variable, an env var or a token
// file, exchanged at a mint endpoint or by RFC 8693 token exchange — against a real server that
// verifies the identity's signature, issuer and audience.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../src/model/rule.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { errorOf, harness } from './harness.js';

let srv: TokenServer;
beforeAll(async () => {
  srv = await startTokenServer();
});
afterAll(() => srv.close());
beforeEach(() => srv.reset());

const REG = 'https://pkgs.acme.test';

function rule(identity: Record<string, unknown>, extra: Record<string, unknown> = {}): RuleConfig {
  return {
    id: 'ci',
    match: REG,
    source: { type: 'oidc', identity, endpoint: `${srv.url}${ROUTES.mint}`, allowInsecureHttp: true, ...extra },
  } as RuleConfig;
}

function githubEnv() {
  return {
    ACTIONS_ID_TOKEN_REQUEST_URL: `${srv.url}${ROUTES.github}?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: srv.githubRequestToken,
  };
}

describe('oidc: GitHub Actions → mint (pyx Trusted Access shape)', () => {
  it('GETs <url>&audience=<aud> with the request token, POSTs {"token": <jwt>} to the mint endpoint, serves its {"token"}', async () => {
    const h = harness([rule({ provider: 'github', audience: 'credmux-test' })], { env: githubEnv() });
    const c = await h.token(`${REG}/simple/`);
    expect(c.secret).toBe(srv.issued[0]);
    expect(decodeJwt(c.secret).via).toBe('mint');
    expect(c.expiresAt).toBe(decodeJwt(c.secret).exp);
    const gh = srv.requests(ROUTES.github)[0]!;
    expect(gh.method).toBe('GET');
    expect(gh.url).toBe(`${ROUTES.github}?api-version=2.0&audience=credmux-test`);
    expect(gh.headers.authorization).toBe(`Bearer ${srv.githubRequestToken}`);
    const mint = srv.requests(ROUTES.mint)[0]!;
    expect(mint.headers['content-type']).toBe('application/json');
    expect(decodeJwt((JSON.parse(mint.body) as { token: string }).token).aud).toBe('credmux-test');
  });

  it('outside a job with id-token: write, the error says what to add', async () => {
    const h = harness([rule({ provider: 'github', audience: 'credmux-test' })]);
    expect((await errorOf(h, REG)).message).toContain('add "permissions: id-token: write" to the workflow or job');
    expect(srv.total()).toBe(0);
  });

  it('a wrong audience is refused by the mint endpoint (403): the error says to check the trust, naming the audience', async () => {
    const h = harness([rule({ provider: 'github', audience: 'someone-else' })], { env: githubEnv() });
    const err = await errorOf(h, REG);
    expect(err.message).toBe(
      `rule "ci" (https://pkgs.acme.test): ${srv.url}${ROUTES.mint} refused the CI identity token (HTTP 403); check that it trusts this workload (issuer, subject/repository, branch, audience "someone-else")`,
    );
  });

  it('the GitHub endpoint failing: named without its query string, request token never shown', async () => {
    srv.setMode(ROUTES.github, '500');
    const h = harness([rule({ provider: 'github', audience: 'credmux-test' })], { env: githubEnv() });
    const err = await errorOf(h, REG);
    expect(err.message).toContain(`${srv.url}${ROUTES.github} answered HTTP 500`);
    expect(err.message).not.toContain('api-version');
    expect(err.message).not.toContain(srv.githubRequestToken);
  });
});

describe('oidc: identity from GitLab id_tokens, an env var, a file', () => {
  it('GitLab: the id_tokens variable; unset → says how to declare it', async () => {
    const h = harness([rule({ provider: 'gitlab', var: 'PYX_ID_TOKEN' })], { env: { PYX_ID_TOKEN: await srv.oidcToken() } });
    expect((await h.token(REG)).secret).toBe(srv.issued[0]);
    const unset = harness([rule({ provider: 'gitlab', var: 'PYX_ID_TOKEN' })]);
    expect((await errorOf(unset, REG)).message).toContain(
      '$PYX_ID_TOKEN is not set; declare it in the job: id_tokens: { PYX_ID_TOKEN: { aud: <audience> } }',
    );
  });

  it('a token file is re-read on every exchange (projected tokens rotate in place)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-oidc-'));
    const file = join(dir, 'token');
    writeFileSync(file, `${await srv.oidcToken()}\n`);
    const h = harness([rule({ provider: 'file', path: file })]);
    expect((await h.token(REG)).secret).toBe(srv.issued[0]);
    writeFileSync(file, await srv.oidcToken({ expSeconds: -60 }));
    await h.engine.handle({ op: 'erase', url: REG }); // force a new exchange
    expect((await errorOf(h, REG)).message).toMatch(/the identity token in .*\/token expired at .* \(is the token file still being refreshed\?\)/);
    const missing = harness([rule({ provider: 'file', path: join(dir, 'absent') })]);
    expect((await errorOf(missing, REG)).message).toContain('(ENOENT); is the projected volume mounted and readable?');
  });

  it('an env var that does not hold a JWT is refused before anything is sent', async () => {
    const h = harness([rule({ provider: 'env', var: 'ID' })], { env: { ID: 'not-a-jwt' } });
    expect((await errorOf(h, REG)).message).toContain('the identity token in $ID is not a JWT');
    expect(srv.total()).toBe(0);
  });
});

describe('oidc: RFC 8693 token exchange', () => {
  it('POSTs the form (grant_type, subject_token, subject_token_type=jwt, audience, scope) and serves access_token', async () => {
    const id = await srv.oidcToken();
    const h = harness(
      [
        rule(
          { provider: 'env', var: 'CI_ID' },
          { endpoint: `${srv.url}${ROUTES.token}`, grant: 'token-exchange', audience: 'registry', scope: 'pull', clientId: 'ci-client' },
        ),
      ],
      { env: { CI_ID: id } },
    );
    const c = await h.token(REG);
    expect(decodeJwt(c.secret).via).toBe('token-exchange');
    expect(Object.fromEntries(new URLSearchParams(srv.requests(ROUTES.token)[0]!.body))).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: id,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      audience: 'registry',
      scope: 'pull',
      client_id: 'ci-client',
    });
  });

  it('an untrusted identity (invalid_grant) is reported with the server description, the identity never', async () => {
    const foreign = await srv.oidcToken({ aud: 'elsewhere' });
    const h = harness([rule({ provider: 'env', var: 'CI_ID' }, { endpoint: `${srv.url}${ROUTES.token}`, grant: 'token-exchange' })], {
      env: { CI_ID: foreign },
    });
    const err = await errorOf(h, REG);
    expect(err.message).toContain('refused the CI identity token (HTTP 400, invalid_grant: subject token not trusted)');
    expect(err.message).not.toContain(foreign);
  });

  it('the cache key carries the audience: two rules differing only in it never share a token', async () => {
    const id = await srv.oidcToken();
    const mk = (ruleId: string, audience: string) =>
      ({
        ...rule({ provider: 'env', var: 'CI_ID' }, { endpoint: `${srv.url}${ROUTES.token}`, grant: 'token-exchange', audience }),
        id: ruleId,
        match: `https://${ruleId}.test`,
      }) as RuleConfig;
    const h = harness([mk('a', 'one'), mk('b', 'two')], { env: { CI_ID: id } });
    const a = await h.token('https://a.test');
    const b = await h.token('https://b.test');
    expect(a.secret).not.toBe(b.secret);
    expect(h.cache.entries().map((e) => e.key.replace(/\|[0-9a-f]{8}\|env=[0-9a-f]{16}$/, ''))).toEqual(['config:a|aud=one', 'config:b|aud=two']);
    for (const e of h.cache.entries()) expect(e.key).not.toContain(id.slice(0, 20));
  });
});
