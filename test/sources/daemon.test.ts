// The point of the daemon for token sources: 200 helper processes started at once — Bazel fetching
// in parallel — on a cold or expired token cache cause exactly ONE upstream exchange, and all 200
// get the same token. Built entries, a real daemon (CREDMUX_DAEMON unset), a private runtime dir.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import { daemonStatus, startDaemon, stopDaemon } from '../../src/client/daemon-control.js';
import { daemonFiles } from '../../src/ipc/paths.js';
import { distBin, REPO_ROOT, requireBuilt } from '../helpers/dist.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';

const BURST = 200;
let srv: TokenServer;
const envs: Env[] = [];

function daemonEnv(rules: unknown[]): Record<string, string> {
  // Short paths: the socket path must fit in sun_path.
  const home = mkdtempSync(join(tmpdir(), 'cmx-h-'));
  const runtime = mkdtempSync(join(tmpdir(), 'cmx-r-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    CREDMUX_STORE: 'file',
    CREDMUX_DAEMON_BIN: join(REPO_ROOT, 'dist', 'lib', 'credmux-daemon.cjs'),
    CREDMUX_IDLE_TIMEOUT: '120', // a daemon this suite fails to stop still goes away on its own
    PYX_API_KEY: srv.apiKey,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  mkdirSync(join(home, '.config', 'credmux'), { recursive: true });
  writeFileSync(join(home, '.config', 'credmux', 'config.json'), JSON.stringify({ rules }));
  envs.push(env);
  return env;
}

function pyxRule(id: string, match: string) {
  return {
    id,
    match,
    source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { env: 'PYX_API_KEY' }, expect: 'jwt', allowInsecureHttp: true },
  };
}

interface Answer {
  code: number | null;
  token?: string;
  stderr: string;
  /** From spawn to exit: the longest shows how long the first helpers waited on the one exchange. */
  ms: number;
}

function bazelGet(env: Record<string, string>, uri: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // The launcher, as Bazel runs it.
    const t0 = performance.now();
    const child = spawn(distBin('credmux-bazel'), ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let token: string | undefined;
      try {
        token = (JSON.parse(out) as { headers: { Authorization: string[] } }).headers.Authorization[0]?.replace(/^Bearer /, '');
      } catch {
        // reported through code/stderr
      }
      resolve({ code, token, stderr: err, ms: Math.round(performance.now() - t0) });
    });
    child.stdin.end(JSON.stringify({ uri }));
  });
}

async function burst(env: Record<string, string>, uri: string): Promise<{ answers: Answer[]; ms: string }> {
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: BURST }, () => bazelGet(env, uri)));
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
  for (const env of envs) {
    try {
      await stopDaemon(env);
    } catch {
      // fall back to the pid file the daemon writes under the runtime dir
      try {
        process.kill(Number(readFileSync(daemonFiles(env).pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // not running
      }
    }
  }
  await srv.close();
});

describe('through the daemon, failures stay secret-free', () => {
  it("a refused API key: the helper's error and the daemon's log name rule and endpoint, never the key", { timeout: 60_000 }, async () => {
    srv.reset();
    srv.setMode(ROUTES.pyx, '401');
    const env = daemonEnv([pyxRule('pyx', 'https://api.pyx.test')]);
    await startDaemon(env);
    const r = await bazelGet(env, 'https://api.pyx.test/simple/');
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
    const first = await bazelGet(env, 'https://api.pyx.test/simple/');
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
