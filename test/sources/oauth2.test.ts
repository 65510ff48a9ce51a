// oauth2: the refresh-token grant with rotation written back to the store, the device flow that gets
// the first refresh token, and the login command that ties them to a rule — against a real server.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../src/model/rule.js';
import { runDeviceFlow } from '../../src/sources/oauth2-device.js';
import { oauthLogin } from '../../src/cli/oauth2-login.js';
import { REFRESH_TOKEN_USERNAME } from '../../src/sources/types.js';
import { FileStore } from '../../src/store/file.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { errorOf, harness } from './harness.js';

let srv: TokenServer;
beforeAll(async () => {
  srv = await startTokenServer();
});
afterAll(() => srv.close());
beforeEach(() => {
  srv.reset();
  srv.refreshToken = 'rt-initial-0123456789abcdef';
  srv.rotate = true;
  srv.device = { polls: ['ok'], interval: 1 };
});

const GIT = 'https://git.test';

function rule(extra: Record<string, unknown> = {}): RuleConfig {
  return {
    id: 'git',
    match: GIT,
    username: 'oauth2',
    source: {
      type: 'oauth2',
      tokenEndpoint: `${srv.url}${ROUTES.token}`,
      deviceEndpoint: `${srv.url}${ROUTES.device}`,
      clientId: srv.clientId,
      scope: 'read:packages offline_access',
      allowInsecureHttp: true,
      ...extra,
    },
  } as RuleConfig;
}

function refreshEntry(secret = srv.refreshToken) {
  return { url: GIT, username: REFRESH_TOKEN_USERNAME, kind: 'bearer' as const, secret, updatedAt: new Date(Date.now() - 60_000).toISOString() };
}

describe('oauth2: refresh-token grant', () => {
  it('refreshes with the stored token (RFC 6749 §6 form), serves the access token, and writes the rotated refresh token back', async () => {
    const h = harness([rule()], { stored: [refreshEntry()] });
    const c = await h.token(`${GIT}/org/repo.git`);
    expect(c).toMatchObject({ kind: 'bearer', username: 'oauth2', secret: srv.issued[0] });
    const form = new URLSearchParams(srv.requests(ROUTES.token)[0]!.body);
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt-initial-0123456789abcdef',
      scope: 'read:packages offline_access',
      client_id: srv.clientId,
    });
    const stored = (await h.store.list()).filter((e) => e.username === REFRESH_TOKEN_USERNAME);
    expect(stored.map((e) => e.secret)).toEqual([srv.refreshToken]);
    expect(srv.refreshToken).not.toBe('rt-initial-0123456789abcdef');
    // The rotation is our own write: it does not count as a re-login, so the token stays cached.
    await h.token(`${GIT}/org/repo.git`);
    expect(srv.count(ROUTES.token)).toBe(1);
  });

  it('a confidential client: the secret via HTTP Basic by default, or in the form with clientAuth post', async () => {
    for (const clientAuth of ['basic', 'post'] as const) {
      srv.reset();
      const h = harness([rule({ clientSecret: { env: 'CLIENT_SECRET' }, clientAuth })], {
        stored: [refreshEntry()],
        env: { CLIENT_SECRET: srv.clientSecret },
      });
      expect((await h.token(GIT)).secret).toBe(srv.issued[0]);
      const req = srv.requests(ROUTES.token)[0]!;
      const form = new URLSearchParams(req.body);
      if (clientAuth === 'basic') {
        expect(req.headers.authorization).toMatch(/^Basic /);
        expect(form.has('client_secret')).toBe(false);
      } else {
        expect(req.headers.authorization).toBeUndefined();
        expect(form.get('client_secret')).toBe(srv.clientSecret);
      }
    }
  });

  it('the refresh token is an input: never served, whatever the caller asks', async () => {
    const h = harness([rule()], { stored: [refreshEntry()] });
    expect((await h.token(GIT)).secret).not.toContain('rt-');
    expect(await h.get(GIT, REFRESH_TOKEN_USERNAME)).toEqual({ op: 'get', credential: null });
    // Stored with no rule at all (login before the config): still never served.
    const bare = harness([], { stored: [refreshEntry()] });
    expect(await bare.get(GIT)).toEqual({ op: 'get', credential: null });
  });

  it('no refresh token stored: the error names the login command', async () => {
    const h = harness([rule()]);
    const err = await errorOf(h, GIT);
    expect(err).toEqual({
      code: 'source',
      message: 'rule "git" (https://git.test): no refresh token is stored for https://git.test; log in: credmux login https://git.test --oauth',
    });
  });

  it('a refused refresh token (invalid_grant) says to log in again; an unknown client says to check the client', async () => {
    const h = harness([rule()], { stored: [refreshEntry('rt-revoked-0123456789abcdef')] });
    const err = await errorOf(h, GIT);
    expect(err.message).toContain(
      `${srv.url}${ROUTES.token} refused the refresh token (HTTP 400, invalid_grant: refresh token is invalid or was already used); log in again: credmux login https://git.test --oauth`,
    );
    expect(err.message).not.toContain('rt-revoked');
    const bad = harness([rule({ clientId: 'someone-else' })], { stored: [refreshEntry()] });
    expect((await errorOf(bad, GIT)).message).toContain('refused the client "someone-else" (HTTP 401, invalid_client); check clientId');
  });

  it('helpers resolving in process at once (no daemon, separate caches) refresh one after another under the lock: no refresh token is used twice', async () => {
    const home = mkdtempSync(join(tmpdir(), 'credmux-oauth-'));
    const store = new FileStore(join(home, 'store'));
    await store.put(refreshEntry());
    const env = { HOME: home };
    const engines = Array.from({ length: 6 }, () => harness([rule()], { store, env }));
    srv.delayMs[ROUTES.token] = 50; // widen the window a race would need
    const results = await Promise.all(engines.map((h) => h.get(GIT)));
    for (const r of results) expect(r.op, JSON.stringify(r)).toBe('get');
    expect(srv.count(ROUTES.token)).toBe(6);
    // Every refresh presented the token the previous one rotated in: a reuse would have been invalid_grant.
    const used = srv.requests(ROUTES.token).map((r) => new URLSearchParams(r.body).get('refresh_token'));
    expect(new Set(used).size).toBe(6);
    expect((await store.list()).find((e) => e.username === REFRESH_TOKEN_USERNAME)?.secret).toBe(srv.refreshToken);
  });
});

describe('oauth2: device flow (RFC 8628)', () => {
  function flow(sleeps: number[], said: string[]) {
    return runDeviceFlow({
      deviceEndpoint: `${srv.url}${ROUTES.device}`,
      tokenEndpoint: `${srv.url}${ROUTES.token}`,
      client: { clientId: srv.clientId },
      scope: 'offline_access',
      allowInsecureHttp: true,
      env: {},
      say: (l) => said.push(l),
      sleep: async (ms) => void sleeps.push(ms),
    });
  }

  it('prints the verification URI and user code, polls at the interval, honours authorization_pending and slow_down', async () => {
    srv.device = { polls: ['authorization_pending', 'slow_down', 'authorization_pending', 'ok'], interval: 2 };
    const sleeps: number[] = [];
    const said: string[] = [];
    const r = await flow(sleeps, said);
    expect(sleeps).toEqual([2000, 2000, 7000, 7000]); // slow_down adds 5 s for every later poll
    expect(r.polls).toBe(4);
    expect(r.refreshToken).toBe(srv.refreshToken);
    expect(said.join('\n')).toContain(`open ${srv.url}/device and enter the code: WDJB-MJHT`);
    expect(said.join('\n')).not.toContain('device-code-'); // the device code is never shown
    const polls = srv.requests(ROUTES.token).map((q) => new URLSearchParams(q.body));
    expect(polls.every((f) => f.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code' && f.get('client_id') === srv.clientId)).toBe(
      true,
    );
  });

  it.each([
    ['access_denied', 'the request was denied at the verification page'],
    ['expired_token', 'the code expired before it was approved'],
  ] as const)('%s ends the login with a clear error', async (step, message) => {
    srv.device = { polls: ['authorization_pending', step], interval: 1 };
    await expect(flow([], [])).rejects.toThrow(message);
    expect(srv.count(ROUTES.token)).toBe(2);
  });

  it('credmux login --oauth for a rule: stores the refresh token where the rule reads it, and the rule then serves', async () => {
    const home = mkdtempSync(join(tmpdir(), 'credmux-login-'));
    const configDir = join(home, '.config', 'credmux');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ rules: [rule()] }));
    const store = new MemoryStore();
    const said: string[] = [];
    const r = await oauthLogin({ HOME: home }, store, { url: `${GIT}/org/repo` }, (l) => said.push(l), { sleep: async () => {} });
    expect(r.ruleId).toBe('git');
    expect(r.ref).toEqual({ stored: GIT, username: REFRESH_TOKEN_USERNAME });
    expect((await store.list()).map((e) => [e.url, e.username, e.secret])).toEqual([[GIT, REFRESH_TOKEN_USERNAME, srv.refreshToken]]);
    const h = harness([rule()], { store });
    expect((await h.token(GIT)).secret).toBe(srv.issued.at(-1));
  });

  it('login --oauth without a rule needs the endpoints as flags, and says which are missing', async () => {
    const home = mkdtempSync(join(tmpdir(), 'credmux-login-'));
    await expect(oauthLogin({ HOME: home }, new MemoryStore(), { url: GIT, clientId: 'x' }, () => {})).rejects.toThrow(
      /no oauth2 rule in .* matches https:\/\/git\.test; pass --device-endpoint, --token-endpoint \(or add them to the rule\)/,
    );
    await expect(
      oauthLogin(
        { HOME: home },
        new MemoryStore(),
        { url: GIT, clientId: 'x', deviceEndpoint: 'http://example.com/d', tokenEndpoint: 'https://example.com/t' },
        () => {},
      ),
    ).rejects.toThrow('--device-endpoint http://example.com/d uses plain http to a host that is not this machine; use https');
  });

  it('a server that issues no refresh token: the login fails and says why', async () => {
    srv.device = { polls: ['ok'], interval: 1, refreshToken: false };
    const home = mkdtempSync(join(tmpdir(), 'credmux-login-'));
    await expect(
      oauthLogin(
        { HOME: home },
        new MemoryStore(),
        {
          url: GIT,
          clientId: srv.clientId,
          deviceEndpoint: `${srv.url}${ROUTES.device}`,
          tokenEndpoint: `${srv.url}${ROUTES.token}`,
          allowInsecureHttp: true,
        },
        () => {},
        { sleep: async () => {} },
      ),
    ).rejects.toThrow('the server issued no refresh token');
  });
});
