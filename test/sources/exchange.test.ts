// exchange (API key → short-lived JWT, the pyx shape) through the real engine, token cache and HTTP
// client against a real token server: the request shapes, expiry, the cache's refresh-ahead, single
// flight and backoff, every failure mode, and that no secret is ever served raw or shown.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../src/model/rule.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { errorOf, harness, storedKey } from './harness.js';

let srv: TokenServer;
beforeAll(async () => {
  srv = await startTokenServer();
});
afterAll(() => srv.close());
beforeEach(() => srv.reset());

const API = 'https://api.pyx.test';
const INDEX = 'https://api.pyx.test/simple/acme/main/';

function pyxRule(extra: Record<string, unknown> = {}): RuleConfig {
  return {
    id: 'pyx',
    match: API,
    source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { stored: API }, allowInsecureHttp: true, ...extra },
  } as RuleConfig;
}

function pyx(extra: Record<string, unknown> = {}) {
  const h = harness([pyxRule(extra)], { stored: [storedKey(API, srv.apiKey)] });
  srv.now = () => h.clock.wall; // the server issues exp on the test's clock
  return h;
}

describe('exchange: the request shapes', () => {
  it('pyx: POST with Authorization: Bearer <stored API key> and an empty body → the JWT, expiring at its exp', async () => {
    const h = pyx();
    const c = await h.token(INDEX);
    expect(c.kind).toBe('bearer');
    expect(c.username).toBe('__token__');
    expect(c.secret).toBe(srv.issued[0]);
    expect(c.expiresAt).toBe(decodeJwt(c.secret).exp);
    const [req] = srv.requests(ROUTES.pyx);
    expect(req!.method).toBe('POST');
    expect(req!.headers.authorization).toBe(`Bearer ${srv.apiKey}`);
    expect(req!.body).toBe('');
    expect(req!.url).toBe(ROUTES.pyx); // the secret is never put in the URL
  });

  it('reads the secret from an env var, e.g. PYX_API_KEY', async () => {
    const h = harness([pyxRule({ secret: { env: 'PYX_API_KEY' } })], { env: { PYX_API_KEY: srv.apiKey } });
    expect((await h.token(INDEX)).secret).toBe(srv.issued[0]);
  });

  it('json style: the secret in the named field of a JSON template; token from "token"; expires_in honoured when it is earlier', async () => {
    srv.ttl = 3600;
    srv.expiresIn = 600;
    const h = harness(
      [
        {
          id: 'json',
          match: 'https://pkgs.test',
          source: {
            type: 'exchange',
            endpoint: `${srv.url}${ROUTES.exchangeJson}?tenant=a`,
            secret: { env: 'KEY' },
            style: 'json',
            secretField: 'api_key',
            fields: { client: 'credmux' },
            allowInsecureHttp: true,
          },
        } as RuleConfig,
      ],
      { env: { KEY: srv.apiKey } },
    );
    const c = await h.token('https://pkgs.test/x');
    const req = srv.requests(ROUTES.exchangeJson)[0]!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ client: 'credmux', api_key: srv.apiKey });
    expect(req.headers.authorization).toBeUndefined();
    // exp is an hour away, expires_in ten minutes: the earlier wins.
    expect(c.expiresAt).toBeGreaterThanOrEqual(h.clock.nowS + 599);
    expect(c.expiresAt).toBeLessThanOrEqual(h.clock.nowS + 600);
  });

  it('form style with a configured tokenField; ttlSeconds caps the life', async () => {
    const h = harness(
      [
        {
          id: 'form',
          match: 'https://pkgs.test',
          source: {
            type: 'exchange',
            endpoint: `${srv.url}${ROUTES.exchangeForm}`,
            secret: { env: 'KEY' },
            style: 'form',
            secretField: 'key',
            tokenField: 'access_token',
            ttlSeconds: 30,
            allowInsecureHttp: true,
          },
        } as RuleConfig,
      ],
      { env: { KEY: srv.apiKey } },
    );
    const c = await h.token('https://pkgs.test/');
    expect(new URLSearchParams(srv.requests(ROUTES.exchangeForm)[0]!.body).get('key')).toBe(srv.apiKey);
    expect(c.expiresAt).toBe(h.clock.nowS + 30);
  });

  it('the stored API key is an input, never an answer: not for the rule URL, nor a URL only the key pattern covers', async () => {
    const h = harness([{ ...pyxRule(), match: `${API}/simple` } as RuleConfig], {
      stored: [storedKey(API, srv.apiKey), storedKey('https://other.test', 'unrelated-secret-123')],
    });
    expect((await h.token(`${API}/simple/x/`)).secret).toBe(srv.issued[0]);
    const elsewhere = await h.get(`${API}/files/x.whl`);
    expect(elsewhere).toEqual({ op: 'get', credential: null });
    // Unrelated stored credentials still answer.
    expect((await h.token('https://other.test/')).secret).toBe('unrelated-secret-123');
  });
});

describe('exchange: through the token cache', () => {
  it('100 concurrent requests on a cold cache cause exactly one exchange', async () => {
    const h = pyx();
    srv.delayMs[ROUTES.pyx] = 200; // all of them arrive while the one exchange is in flight
    const results = await Promise.all(Array.from({ length: 100 }, () => h.token(INDEX)));
    expect(srv.count(ROUTES.pyx)).toBe(1);
    expect(new Set(results.map((c) => c.secret))).toEqual(new Set([srv.issued[0]]));
  });

  it('refreshes ahead of expiry in the background: no caller waits, and the next ones get the new token', async () => {
    srv.ttl = 120; // refresh margin = max(60 s, 10%) = 60 s
    const h = pyx();
    const first = await h.token(INDEX);
    h.clock.advance(61_000); // 59 s left: refresh due, token still valid
    srv.delayMs[ROUTES.pyx] = 500; // a slow upstream must not slow anyone down
    const waits: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      expect((await h.token(INDEX)).secret).toBe(first.secret);
      waits.push(performance.now() - t0);
    }
    expect(Math.max(...waits)).toBeLessThan(100); // served from the cache while the refresh runs
    await expect.poll(() => srv.issued.length, { timeout: 3_000 }).toBe(2); // one refresh, not twenty
    await expect.poll(async () => (await h.token(INDEX)).secret, { timeout: 3_000 }).toBe(srv.issued[1]);
    expect(srv.count(ROUTES.pyx)).toBe(2);
    expect(h.cache.stats().misses).toBe(1); // only the very first call ever waited
  });

  it('a failing upstream: the still-valid token keeps being served, retries back off, and once it expires the error names rule, endpoint and fix', async () => {
    srv.ttl = 120;
    const h = pyx();
    const first = await h.token(INDEX);
    srv.setMode(ROUTES.pyx, '500');
    h.clock.advance(61_000);
    for (let i = 0; i < 30; i++) expect((await h.token(INDEX)).secret).toBe(first.secret);
    await expect.poll(() => h.cache.entries()[0]?.failures).toBe(1);
    expect(srv.count(ROUTES.pyx)).toBe(2); // 30 calls, one retry: backing off
    h.clock.advance(1_100); // first backoff step is 1 s (jitter fixed at ±0 here)
    expect((await h.token(INDEX)).secret).toBe(first.secret);
    await expect.poll(() => srv.count(ROUTES.pyx)).toBe(3);
    h.clock.advance(60_000); // now expired: nothing valid left
    const err = await errorOf(h, INDEX);
    expect(err.code).toBe('source');
    expect(err.message).toContain('rule "pyx"');
    expect(err.message).toContain(`${srv.url}${ROUTES.pyx} answered HTTP 500`);
    expect(err.message).toContain('retrying with backoff');
    srv.setMode(ROUTES.pyx, 'ok');
    h.clock.advance(10_000);
    expect((await h.token(INDEX)).secret).toBe(srv.issued[1]); // recovers by itself
  });

  it.each([
    ['an HTML error page', 'garbage'],
    ['a non-JWT where a JWT is expected', 'not-jwt'],
    ['a 401', '401'],
  ] as const)('during a refresh, %s also keeps the valid token served, with backoff', async (_name, mode) => {
    const h = pyx({ expect: 'jwt' });
    const first = await h.token(INDEX);
    srv.setMode(ROUTES.pyx, mode);
    h.clock.advance(61_000);
    for (let i = 0; i < 10; i++) expect((await h.token(INDEX)).secret).toBe(first.secret);
    await expect.poll(() => h.cache.entries()[0]?.failures).toBe(1);
    expect(srv.count(ROUTES.pyx)).toBe(2);
  });

  it('an upstream that stalls during a refresh holds up no caller', async () => {
    const h = pyx();
    const first = await h.token(INDEX);
    srv.setMode(ROUTES.pyx, 'stall');
    h.clock.advance(61_000);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) expect((await h.token(INDEX)).secret).toBe(first.secret);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(h.cache.entries()[0]?.state).toBe('refreshing');
    await expect.poll(() => srv.count(ROUTES.pyx)).toBe(2); // the refresh did go out (and hangs there)
  });

  it('erase (any protocol, credmux logout) for the rule URL evicts: the next get mints anew', async () => {
    const h = pyx();
    await h.token(INDEX);
    await h.token(INDEX);
    expect(srv.count(ROUTES.pyx)).toBe(1);
    // git's erase after a 401 carries the token it was given; nothing stored matches, but the cache must drop it.
    const r = await h.engine.handle({ op: 'erase', url: INDEX, username: '__token__', secret: srv.issued[0] });
    expect(r).toEqual({ op: 'erase', removed: 0 });
    expect((await h.token(INDEX)).secret).toBe(srv.issued[1]);
    expect(srv.count(ROUTES.pyx)).toBe(2);
  });

  it('a new API key stored by another process (credmux login while a daemon serves) drops the token minted from the old one', async () => {
    const h = pyx();
    await h.token(INDEX);
    // Written straight to the store, as a `credmux login` in another process would: no onChange here.
    await h.store.put({ ...storedKey(API, srv.apiKey), updatedAt: new Date().toISOString() });
    expect((await h.token(INDEX)).secret).toBe(srv.issued[1]);
    expect(srv.count(ROUTES.pyx)).toBe(2);
    await h.token(INDEX);
    expect(srv.count(ROUTES.pyx)).toBe(2); // and then it is cached again
  });
});

describe('exchange: failure modes (cold cache), each with the rule id, the endpoint without its query, and the fix', () => {
  const cases: [string, () => void, RegExp][] = [
    ['5xx', () => srv.setMode(ROUTES.pyx, '503'), /answered HTTP 503, server_error; credmux keeps retrying with backoff/],
    ['garbage (an HTML error page)', () => srv.setMode(ROUTES.pyx, 'garbage'), /answered HTTP 200 without a JSON object \(text\/html, \d+ bytes\)/],
    ['an empty body', () => srv.setMode(ROUTES.pyx, 'empty'), /answered HTTP 200 without a JSON object \(empty body\)/],
    [
      '401: says which login to redo',
      () => srv.setMode(ROUTES.pyx, '401'),
      /refused the secret stored for https:\/\/api\.pyx\.test \(HTTP 401, invalid_token: the credential was refused\); fix: credmux login https:\/\/api\.pyx\.test --token-stdin/,
    ],
    ['403', () => srv.setMode(ROUTES.pyx, '403'), /refused the secret stored for https:\/\/api\.pyx\.test \(HTTP 403/],
    ['a cross-origin redirect', () => srv.setMode(ROUTES.pyx, 'redirect-away'), /redirected to another origin \(http:\/\/localhost:1\); refused/],
  ];
  it.each(cases)('%s', async (_name, arrange, expected) => {
    arrange();
    const h = harness([pyxRule({ endpoint: `${srv.url}${ROUTES.pyx}?org=acme&sig=query-secret` })], { stored: [storedKey(API, srv.apiKey)] });
    const err = await errorOf(h, INDEX);
    expect(err.code).toBe('source');
    expect(err.message).toMatch(/^rule "pyx" \(https:\/\/api\.pyx\.test\): /);
    expect(err.message).toContain(`${srv.url}${ROUTES.pyx}`);
    expect(err.message).toMatch(expected);
    expect(err.message).not.toContain('query-secret');
    expect(err.message).not.toContain(srv.apiKey);
  });

  it('a non-JWT where the rule expects one', async () => {
    srv.setMode(ROUTES.pyx, 'not-jwt');
    const h = pyx({ expect: 'jwt' });
    expect((await errorOf(h, INDEX)).message).toContain('the token is not a JWT, and the rule says "expect": "jwt"');
    // Without expect, an opaque token is fine (it just has no known expiry).
    const lax = pyx();
    const c = await lax.token(INDEX);
    expect(c.secret).toBe('opaque-not-a-jwt-token');
    expect(c.expiresAt).toBeUndefined();
  });

  it('no API key stored: names the command that stores it', async () => {
    const h = harness([pyxRule()]);
    const err = await errorOf(h, INDEX);
    expect(err.message).toBe(
      `rule "pyx" (https://api.pyx.test): no secret to exchange at ${srv.url}${ROUTES.pyx}: the secret stored for https://api.pyx.test is missing; fix: credmux login https://api.pyx.test --token-stdin`,
    );
    expect(srv.count(ROUTES.pyx)).toBe(0);
  });

  it('env var unset: says which variable', async () => {
    const h = harness([pyxRule({ secret: { env: 'PYX_API_KEY' } })]);
    expect((await errorOf(h, INDEX)).message).toContain('the secret in $PYX_API_KEY is missing; fix: set PYX_API_KEY');
  });

  it('an upstream that stalls is cut off by the time bound (10 s), and the error says so', { timeout: 20_000 }, async () => {
    srv.setMode(ROUTES.pyx, 'stall');
    const h = pyx();
    const t0 = Date.now();
    const err = await errorOf(h, INDEX);
    const took = Date.now() - t0;
    expect(err.message).toContain(`${srv.url}${ROUTES.pyx} did not answer within 10 s`);
    expect(took).toBeGreaterThanOrEqual(9_500);
    expect(took).toBeLessThan(13_000);
  });

  it('a failure is not retried by every caller: while backing off, callers get the last error without a request', async () => {
    srv.setMode(ROUTES.pyx, '500');
    const h = pyx();
    for (let i = 0; i < 10; i++) await errorOf(h, INDEX);
    expect(srv.count(ROUTES.pyx)).toBe(1);
  });
});
