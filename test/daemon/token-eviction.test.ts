// What a store or an erase passing through the daemon does to its cached tokens, with the shipped
// daemon and engine (file store, exchange rules) against a real token server: the tokens of the rules
// that URL touches are dropped and minted anew on the next get; every other token stays cached.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import type { EngineRequest, EngineResult } from '../../src/model/types.js';
import { askDaemon } from '../../src/client/daemon-client.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { bundle, disposeBundles, testHome, type TestHome } from './helpers.js';

let bundleDir: string | undefined;
let daemonBin: string;
let srv: TokenServer;
const homes: TestHome[] = [];

beforeAll(async () => {
  // The build's layout: the daemon loads undici and jose from lib/token-deps.cjs beside it when it first mints.
  const { dir, paths } = await bundle({ 'lib/credmux-daemon.cjs': 'src/bin/credmux-daemon.ts', 'lib/token-deps.cjs': 'src/lib/token-deps.ts' });
  bundleDir = dir;
  daemonBin = paths['lib/credmux-daemon.cjs']!;
  srv = await startTokenServer();
  srv.ttl = 3600; // nothing expires or refreshes ahead during the test: only evictions re-mint
});
afterEach(() => {
  for (const h of homes.splice(0)) h.cleanup();
});
afterAll(async () => {
  disposeBundles(bundleDir);
  await srv?.close();
});

const A = 'https://a.tokens.example';
const B = 'https://b.tokens.example';

/** A home whose config has one exchange rule per URL, each minting from the API key stored for it. */
function home(): Env {
  const h = testHome(daemonBin, { CREDMUX_STORE: 'file' });
  homes.push(h);
  const dir = join(h.env.HOME!, '.config', 'credmux');
  mkdirSync(dir, { recursive: true });
  const rule = (id: string, match: string) => ({
    id,
    match,
    source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { stored: match }, allowInsecureHttp: true },
  });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules: [rule('a', A), rule('b', B)] }));
  return h.env;
}

async function ask(req: EngineRequest, env: Env): Promise<EngineResult> {
  const r = await askDaemon(req, env, { startWaitMs: 15_000 });
  if (!r) throw new Error('the daemon did not answer');
  return r;
}

async function token(url: string, env: Env): Promise<string> {
  const r = await ask({ op: 'get', url: `${url}/simple/` }, env);
  if (r.op !== 'get' || !r.credential) throw new Error(`no token for ${url}: ${JSON.stringify(r)}`);
  return r.credential.secret;
}

describe('a store or erase through the daemon', () => {
  it('drops the tokens of the rules that URL touches and keeps the others', async () => {
    const env = home();
    for (const url of [A, B]) {
      const stored = await ask({ op: 'store', url, credential: { kind: 'bearer', username: 'api-key', secret: srv.apiKey } }, env);
      expect(stored).toEqual({ op: 'store', stored: true });
    }
    const a1 = await token(A, env);
    const b1 = await token(B, env);
    expect(srv.count(ROUTES.pyx)).toBe(2);
    expect(await token(A, env)).toBe(a1); // cached
    expect(srv.count(ROUTES.pyx)).toBe(2);

    // git erases the credential a server refused: here B's token, which nothing stored backs.
    expect(await ask({ op: 'erase', url: `${B}/simple/`, username: '__token__', secret: b1 }, env)).toEqual({ op: 'erase', removed: 0 });
    const b2 = await token(B, env);
    expect(b2).not.toBe(b1);
    expect(await token(A, env)).toBe(a1);
    expect(srv.count(ROUTES.pyx)).toBe(3);

    // A store under A's URL (a password for one path of that host): A's token goes, its API key stays.
    const store = { op: 'store', url: `${A}/private/repo.git`, credential: { kind: 'basic', username: 'someone', secret: 'pw-0123456789' } } as const;
    expect(await ask(store, env)).toEqual({ op: 'store', stored: true });
    const a2 = await token(A, env);
    expect(a2).not.toBe(a1);
    expect(await token(B, env)).toBe(b2);
    expect(srv.count(ROUTES.pyx)).toBe(4);

    // The same store again changes nothing (git stores every credential after using it): nothing is dropped.
    expect(await ask(store, env)).toEqual({ op: 'store', stored: false });
    expect(await token(A, env)).toBe(a2);
    expect(await token(B, env)).toBe(b2);
    expect(srv.count(ROUTES.pyx)).toBe(4);
  });
});
