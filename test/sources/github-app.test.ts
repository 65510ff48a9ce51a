// github-app: an RS256 app JWT (signed with jose) → installation access token, against a fake GitHub
// REST API under GitHub Enterprise Server's /api/v3 prefix (test/helpers/github-server.ts) that
// verifies the JWT's signature with the app's public key and its iss/iat/exp as GitHub does.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/engine/config.js';
import type { RuleConfig } from '../../src/model/rule.js';
import { startGitHubServer, type GitHubServer } from '../helpers/github-server.js';
import { errorOf, harness, storedKey } from './harness.js';

let gh: GitHubServer;
beforeAll(async () => {
  gh = await startGitHubServer();
});
afterAll(() => gh.close());
beforeEach(() => gh.reset());

const GIT = 'https://github.com/acme';

function rule(source: Record<string, unknown>): RuleConfig {
  return {
    id: 'gh-app',
    match: GIT,
    source: {
      type: 'github-app',
      appId: gh.clientId,
      privateKey: { env: 'GH_APP_KEY' },
      installation: { repository: 'acme/app' },
      apiUrl: gh.apiUrl,
      allowInsecureHttp: true,
      ...source,
    },
  } as RuleConfig;
}

const keyEnv = () => ({ GH_APP_KEY: gh.privateKeyPem });

describe('github-app: installation access tokens', () => {
  it('finds the installation from the repository, mints a narrowed token, serves it as x-access-token until expires_at', async () => {
    const h = harness([rule({ repositories: ['app'], permissions: { contents: 'read' } })], { env: keyEnv() });
    const c = await h.token(`${GIT}/app.git`);
    expect(c).toMatchObject({ kind: 'basic', username: 'x-access-token', secret: gh.issued[0] });
    const [lookup, mint] = gh.requests();
    expect(lookup!.method).toBe('GET');
    expect(lookup!.path).toBe('/api/v3/repos/acme/app/installation');
    expect(mint!.method).toBe('POST');
    expect(mint!.path).toBe('/api/v3/app/installations/4242/access_tokens');
    expect(JSON.parse(mint!.body)).toEqual({ repositories: ['app'], permissions: { contents: 'read' } });
    expect(mint!.headers.accept).toBe('application/vnd.github+json');
    expect(mint!.headers['x-github-api-version']).toBe('2022-11-28');
    // The JWT GitHub verified: iss the client ID, iat backdated 60 s, exp within 10 minutes.
    const claims = mint!.claims!;
    expect(claims.iss).toBe(gh.clientId);
    expect(claims.iat).toBe(h.clock.nowS - 60);
    expect((claims.exp as number) - h.clock.nowS).toBeLessThanOrEqual(600);
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(660);
    expect(c.expiresAt).toBe(Date.parse(gh.answers[0]!.expires_at as string) / 1000);
    expect(c.expiresAt! - h.clock.nowS).toBeGreaterThan(3500);
    // Cached: no second mint.
    expect((await h.token(`${GIT}/lib.git`)).secret).toBe(c.secret);
    expect(gh.requests()).toHaveLength(2);
  });

  it('a numeric app id is sent as iss as it is; an installation id needs no lookup', async () => {
    const h = harness([rule({ appId: gh.appId, installation: { id: 4242 } })], { env: keyEnv() });
    await h.token(`${GIT}/app.git`);
    expect(gh.requests().map((r) => r.path)).toEqual(['/api/v3/app/installations/4242/access_tokens']);
    expect(gh.requests()[0]!.claims!.iss).toBe(gh.appId);
    expect(gh.requests()[0]!.body).toBe('{}');
  });

  it('org and user installations are looked up once per process, then reused for the next mint', async () => {
    const h = harness(
      [
        { ...rule({ installation: { org: 'acme' } }), id: 'org' },
        { ...rule({ installation: { user: 'alice' } }), id: 'user', match: 'https://github.com/alice' },
      ],
      { env: keyEnv() },
    );
    await h.token(`${GIT}/app.git`);
    await h.token('https://github.com/alice/dotfiles.git');
    expect(gh.requests().map((r) => r.path)).toEqual([
      '/api/v3/orgs/acme/installation',
      '/api/v3/app/installations/4242/access_tokens',
      '/api/v3/users/alice/installation',
      '/api/v3/app/installations/5151/access_tokens',
    ]);
    const again = harness([{ ...rule({ installation: { org: 'acme' } }), id: 'org' }], { env: keyEnv() });
    await again.token(`${GIT}/app.git`);
    expect(gh.requests().at(-1)!.path).toBe('/api/v3/app/installations/4242/access_tokens');
    expect(gh.requests()).toHaveLength(5);
  });

  it('a key stored with `credmux login --token-stdin` as one line of base64 of the PEM', async () => {
    const h = harness([rule({ privateKey: { stored: 'https://github.com/apps/credmux' } })], {
      stored: [storedKey('https://github.com/apps/credmux', Buffer.from(gh.privateKeyPem).toString('base64'))],
    });
    expect((await h.token(`${GIT}/app.git`)).secret).toBe(gh.issued[0]);
  });
});

describe('github-app: failures name the rule and the fix, never the key or a token', () => {
  it('another key than the app’s: GitHub refuses the JWT (401), the error says what to check', async () => {
    // A repository no earlier test looked up: found installation ids are kept per process.
    const h = harness([rule({ installation: { repository: 'acme/site' } })], { env: { GH_APP_KEY: gh.wrongKeyPem } });
    const { message } = await errorOf(h, `${GIT}/app.git`);
    expect(message).toContain(
      `rule "gh-app" (${GIT}): ${gh.apiUrl}/repos/acme/site/installation refused the app JWT (HTTP 401: A JSON web token could not be decoded)`,
    );
    expect(message).toContain(
      `check that appId "${gh.clientId}" is the app's client ID or app ID, that privateKey is one of its current keys, and this machine's clock`,
    );
    expect(gh.issued).toEqual([]);
  });

  it('the app is not installed on the repository', async () => {
    const h = harness([rule({ installation: { repository: 'acme/secret' } })], { env: keyEnv() });
    expect((await errorOf(h, `${GIT}/app.git`)).message).toContain(
      'the app is not installed on acme/secret (HTTP 404: Not Found at ' +
        gh.apiUrl +
        '/repos/acme/secret/installation); install it there, or fix "installation" in the rule',
    );
  });

  it('permissions beyond the installation’s: GitHub’s 422 and that they may only narrow', async () => {
    const h = harness([rule({ permissions: { administration: 'write' } })], { env: keyEnv() });
    const { message } = await errorOf(h, `${GIT}/app.git`);
    expect(message).toContain('refused to mint the token (HTTP 422: The permissions requested are not granted to this installation.)');
    expect(message).toContain('"repositories" and "permissions" may only narrow what the installation was granted');
  });

  it('no key, and a key that is not one: the login command, never the value', async () => {
    const missing = harness([rule({ privateKey: { stored: 'https://github.com/apps/credmux' } })]);
    expect((await errorOf(missing, `${GIT}/app.git`)).message).toContain(
      'no GitHub App private key: the private key stored for https://github.com/apps/credmux is missing; fix: credmux login https://github.com/apps/credmux --token-stdin',
    );
    const junk = 'not-a-key-but-a-secret-looking-string-0123456789';
    const bad = harness([rule({})], { env: { GH_APP_KEY: junk } });
    const { message } = await errorOf(bad, `${GIT}/app.git`);
    expect(message).toContain('the private key in $GH_APP_KEY is not a PEM private key (nor base64 of one)');
    expect(message).not.toContain(junk);
    expect(gh.requests()).toHaveLength(0);
  });

  it('a GitHub outage: retried with backoff', async () => {
    gh.setMode('500');
    const h = harness([rule({ installation: { id: 4242 } })], { env: keyEnv() });
    expect((await errorOf(h, `${GIT}/app.git`)).message).toContain('answered HTTP 500; credmux keeps retrying with backoff');
  });
});

describe('github-app: config schema', () => {
  const parse = (source: Record<string, unknown>) => () =>
    parseConfig(
      JSON.stringify({ rules: [{ match: 'https://github.com', source: { type: 'github-app', appId: 1, privateKey: { env: 'K' }, ...source } }] }),
    );
  it('exactly one way to name the installation', () => {
    expect(parse({ installation: { id: 1 } })).not.toThrow();
    expect(parse({ installation: { repository: 'acme/app' } })).not.toThrow();
    expect(parse({ installation: {} })).toThrow(/installation/);
    expect(parse({ installation: { id: 1, org: 'acme' } })).toThrow(/installation/);
    expect(parse({ installation: { repository: 'acme/..' } })).toThrow(/installation/);
    expect(parse({ installation: { org: '..' } })).toThrow(/installation/);
    expect(parse({ installation: { id: 1 }, repositories: ['..'] })).toThrow(/repositories/);
  });
  it('permissions are read, write or admin; apiUrl is https (or loopback http when opted in)', () => {
    expect(parse({ installation: { id: 1 }, permissions: { contents: 'own' } })).toThrow(/permissions/);
    expect(parse({ installation: { id: 1 }, apiUrl: 'http://ghe.example.test/api/v3' })).toThrow(/apiUrl.*plain http/);
    expect(parse({ installation: { id: 1 }, apiUrl: 'https://ghe.example.test/api/v3' })).not.toThrow();
  });
});
