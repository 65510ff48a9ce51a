// An in-process engine wired as the daemon wires it (one token cache, the real sources, the real HTTP
// client against the test token server), but with a clock the test moves, so refresh-ahead, backoff
// and expiry are exercised without waiting.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/cache/clock.js';
import { TokenCache } from '../../src/cache/token-cache.js';
import { compileRules, parseConfig } from '../../src/engine/config.js';
import type { RuleConfig } from '../../src/model/rule.js';
import { engineFrom, type Engine } from '../../src/engine/engine.js';
import type { Env } from '../../src/platform/paths.js';
import type { Credential, EngineResult, StoredEntry } from '../../src/model/types.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { SecretStore } from '../../src/store/types.js';

export class FakeClock implements Clock {
  wall = Date.now();
  mono = 1_000_000;
  wallMs = () => this.wall;
  monoMs = () => this.mono;
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
  get nowS(): number {
    return Math.floor(this.wall / 1000);
  }
}

export interface Harness {
  engine: Engine;
  store: SecretStore;
  clock: FakeClock;
  cache: TokenCache<Credential>;
  get(url: string, username?: string): Promise<EngineResult>;
  /** The credential, or throws with the engine's error message. */
  token(url: string): Promise<Credential>;
}

export function harness(rules: RuleConfig[], opts: { env?: Env; store?: SecretStore; stored?: StoredEntry[] } = {}): Harness {
  const clock = new FakeClock();
  const store = opts.store ?? new MemoryStore(opts.stored ?? []);
  // Through the real parser: the schema and the semantic checks see what a user's file would say.
  const config = parseConfig(JSON.stringify({ rules }));
  const compiled = compileRules(config);
  const cache = new TokenCache<Credential>({ name: 'test', clock, register: false, random: () => 0.5 });
  const engine = engineFrom({
    store,
    rules: () => compiled,
    // A private HOME: the oauth2 source keeps its refresh lock under $XDG_STATE_HOME.
    env: { HOME: mkdtempSync(join(tmpdir(), 'credmux-src-')), PATH: process.env.PATH, ...opts.env },
    now: () => clock.nowS,
    tokenCache: cache,
  });
  const get = (url: string, username?: string) => engine.handle(username === undefined ? { op: 'get', url } : { op: 'get', url, username });
  return {
    engine,
    store,
    clock,
    cache,
    get,
    async token(url) {
      const r = await get(url);
      if (r.op === 'error') throw new Error(r.error.message);
      if (r.op !== 'get' || !r.credential) throw new Error(`no credential for ${url}`);
      return r.credential;
    },
  };
}

/** The error message of a get that must fail. */
export async function errorOf(h: Harness, url: string): Promise<{ code: string; message: string }> {
  const r = await h.get(url);
  if (r.op !== 'error') throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r.error;
}

export function storedKey(url: string, secret: string, username = '__token__'): StoredEntry {
  return { url, username, kind: 'bearer', secret, updatedAt: new Date(Date.now() - 60_000).toISOString() };
}
