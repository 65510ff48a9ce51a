// The point of the daemon for token sources: 200 helper processes started at once — Bazel fetching
// in parallel — on a cold or expired token cache cause exactly ONE upstream exchange, and all 200
// get the same token. Built entries, a real daemon (CREDMUX_DAEMON unset), a private runtime dir.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import { daemonStatus, startDaemon } from '../../src/client/daemon-control.js';
import { daemonFiles } from '../../src/ipc/paths.js';
import { requireBuilt } from '../helpers/dist.js';
import { bazelGet, daemonTestEnv, type BazelAnswer } from '../helpers/daemon-env.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';

const BURST = 200;
let srv: TokenServer;

function daemonEnv(rules: unknown[]): Record<string, string> {
  return daemonTestEnv(rules, { PYX_API_KEY: srv.apiKey });
}

function pyxRule(id: string, match: string) {
  return {
    id,
    match,
    source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { env: 'PYX_API_KEY' }, expect: 'jwt', allowInsecureHttp: true },
  };
}

/** A helper's answer, with the bearer token it carried. */
interface Answer extends BazelAnswer {
  token?: string;
}

async function bazelToken(env: Record<string, string>, uri: string): Promise<Answer> {
  const a = await bazelGet(env, uri);
  return { ...a, token: a.authorization?.replace(/^Bearer /, '') };
}

async function burst(env: Record<string, string>, uri: string): Promise<{ answers: Answer[]; ms: string }> {
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: BURST }, () => bazelToken(env, uri)));
  const longest = Math.max(...answers.map((a) => a.ms));
  return { answers, ms: `${Math.round(performance.now() - t0)} ms (the longest helper ${longest} ms)` };
}

/** Every helper answered, with one and the same token. */
function expectOneToken(answers: Answer[]): string {
  const failed = answers.filter((a) => a.code !== 0 || !a.token);
  expect(failed.map((a) => a.stderr).slice(0, 3), `${failed.length} of ${answers.length} failed`).toEqual([]);
  const tokens = new Set(answers.map((a) => a.token));
  expect(tokens.size).toBe(1);
  return [...tokens][0]!;
}

/** How many requests the daemon answered (its status), to prove the helpers went through it. */
async function daemonGets(env: Env): Promise<number> {
  const s = await daemonStatus(env);
  return s.running ? s.requests.get : -1;
}

beforeAll(async () => {
  requireBuilt();
  srv = await startTokenServer();
});

afterAll(async () => {
  await srv.close();
});

describe('through the daemon, failures stay secret-free', () => {
  it("a refused API key: the helper's error and the daemon's log name rule and endpoint, never the key", { timeout: 60_000 }, async () => {
    srv.reset();
    srv.setMode(ROUTES.pyx, '401');
    const env = daemonEnv([pyxRule('pyx', 'https://api.pyx.test')]);
    await startDaemon(env);
    const r = await bazelToken(env, 'https://api.pyx.test/simple/');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`rule "pyx" (https://api.pyx.test): ${srv.url}${ROUTES.pyx} refused the secret in $PYX_API_KEY (HTTP 401`);
    expect(await daemonGets(env)).toBe(1); // answered by the daemon, not in process
    const log = readFileSync(daemonFiles(env).logFile, 'utf8');
    expect(log).toContain('rule \\"pyx\\"');
    expect(log).not.toContain(srv.apiKey);
    expect(r.stderr).not.toContain(srv.apiKey);
  });
});

describe(`${BURST} concurrent helper processes → one upstream exchange (daemon)`, () => {
  it('cold token cache (daemon running): exactly one exchange, all get the same token', { timeout: 120_000 }, async () => {
    srv.reset();
    const env = daemonEnv([pyxRule('pyx', 'https://api.pyx.test')]);
    await startDaemon(env);
    const before = srv.count(ROUTES.pyx);
    const { answers, ms } = await burst(env, 'https://api.pyx.test/simple/acme/');
    const viaDaemon = await daemonGets(env);
    console.log(
      `[token-sources] cold cache, daemon up: ${BURST} helpers in ${ms} → ${srv.count(ROUTES.pyx) - before} exchange(s); ${viaDaemon} answered by the daemon`,
    );
    // Before the tokens: a helper that resolved in process minted its own, and this says how many did.
    expect(viaDaemon, 'helpers answered by the daemon').toBe(BURST);
    const token = expectOneToken(answers);
    expect(srv.count(ROUTES.pyx) - before).toBe(1);
    expect(token).toBe(srv.issued.at(-1));
  });

  it('expired token: exactly one new exchange for the whole burst', { timeout: 120_000 }, async () => {
    srv.reset();
    const env = daemonEnv([pyxRule('pyx', 'https://api.pyx.test')]);
    await startDaemon(env);
    srv.ttl = 7; // usable while more than 5 s remain: expired for the cache after ~2 s
    const first = await bazelToken(env, 'https://api.pyx.test/simple/');
    expect(first.code, first.stderr).toBe(0);
    expect(srv.count(ROUTES.pyx)).toBe(1);
    await new Promise((r) => setTimeout(r, 2_500));
    srv.ttl = 600;
    const { answers, ms } = await burst(env, 'https://api.pyx.test/simple/acme/');
    const viaDaemon = (await daemonGets(env)) - 1;
    console.log(
      `[token-sources] expired token, daemon up: ${BURST} helpers in ${ms} → ${srv.count(ROUTES.pyx) - 1} exchange(s); ${viaDaemon} answered by the daemon`,
    );
    expect(viaDaemon, 'helpers answered by the daemon').toBe(BURST);
    const token = expectOneToken(answers);
    expect(token).not.toBe(first.token);
    expect(srv.count(ROUTES.pyx)).toBe(2);
  });

  it('nothing running yet (the helpers start the daemon themselves): measured and reported', { timeout: 120_000 }, async () => {
    srv.reset();
    const env = daemonEnv([pyxRule('pyx', 'https://api.pyx.test')]);
    delete env.CREDMUX_DAEMON_BIN; // the helpers find dist/lib/credmux-daemon.cjs next to their bundles
    const { answers, ms } = await burst(env, 'https://api.pyx.test/simple/acme/');
    const failed = answers.filter((a) => a.code !== 0 || !a.token);
    const exchanges = srv.count(ROUTES.pyx);
    const viaDaemon = await daemonGets(env);
    console.log(
      `[token-sources] cold daemon + cold cache: ${BURST} helpers in ${ms} → ${exchanges} exchange(s); ${viaDaemon} answered by the daemon, ${BURST - viaDaemon} in process`,
    );
    expect(failed.map((a) => `exit ${a.code}: ${a.stderr}`).slice(0, 3), `${failed.length} of ${BURST} failed`).toEqual([]);
    // Helpers that could not reach a daemon within their wait resolve in process (one exchange each);
    // every one the daemon answered shares a single exchange.
    expect(exchanges).toBe(1 + (BURST - viaDaemon));
  });
});
