import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/cache/backoff.js';
import type { Clock } from '../../src/cache/clock.js';
import { cacheReport, evictEverywhere } from '../../src/cache/registry.js';
import { defaultRefreshMarginMs, TokenCache, type Fetched, type TokenCacheOptions } from '../../src/cache/token-cache.js';
import { compileRules } from '../../src/engine/config.js';
import type { Credential } from '../../src/model/types.js';
import { sourceFor } from '../../src/sources/index.js';
import { RefreshingTokens } from '../../src/sources/refreshing.js';
import { MemoryStore } from '../../src/store/memory.js';

/** A clock the test moves by hand; wall and monotonic time can be moved separately. */
class FakeClock implements Clock {
  wall = Date.UTC(2030, 0, 1);
  mono = 1_000_000;
  wallMs = () => this.wall;
  monoMs = () => this.mono;
  /** Real time passing: both clocks move. */
  advance(ms: number) {
    this.wall += ms;
    this.mono += ms;
  }
  get nowS() {
    return Math.floor(this.wall / 1000);
  }
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A source that counts its calls and answers what the test queues (default: a token for 1 h). */
function source(clock: FakeClock) {
  let n = 0;
  const fetch = async (): Promise<Fetched<string>> => {
    n++;
    return { value: `token-${n}`, expiresAt: clock.nowS + 3600 };
  };
  return { fetch, calls: () => n };
}

function cache(clock: FakeClock, opts: TokenCacheOptions = {}) {
  return new TokenCache<string>({ clock, random: () => 0.5, register: false, ...opts });
}

const tick = () => new Promise((r) => setImmediate(r));

describe('TokenCache: single flight', () => {
  it('200 concurrent gets on a cold key run exactly one fetch and all get its value', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const d = deferred<Fetched<string>>();
    let calls = 0;
    const fetch = () => {
      calls++;
      return d.promise;
    };
    const all = Array.from({ length: 200 }, () => c.get('rule:1|aud', fetch));
    d.resolve({ value: 'T', expiresAt: clock.nowS + 600 });
    expect(await Promise.all(all)).toEqual(Array(200).fill('T'));
    expect(calls).toBe(1);
    expect(c.stats()).toMatchObject({ fetches: 1, misses: 200, hits: 0 });
    // And the next 200 are hits, still one fetch.
    await Promise.all(Array.from({ length: 200 }, () => c.get('rule:1|aud', fetch)));
    expect(calls).toBe(1);
    expect(c.stats().hits).toBe(200);
  });

  it('keys are independent', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    expect(await c.get('a', s.fetch)).toBe('token-1');
    expect(await c.get('b', s.fetch)).toBe('token-2');
    expect(await c.get('a', s.fetch)).toBe('token-1');
    expect(s.calls()).toBe(2);
  });

  it('a synchronous throw in fetch is a failure like any other', async () => {
    const c = cache(new FakeClock());
    await expect(
      c.get('k', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });
});

describe('TokenCache: expiry and refresh ahead', () => {
  it('serves a cached token until the refresh margin, then refreshes in the background with nobody waiting', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    let calls = 0;
    const pending = deferred<Fetched<string>>();
    const fetch = (): Promise<Fetched<string>> => {
      calls++;
      return calls === 1 ? Promise.resolve({ value: 'old', expiresAt: clock.nowS + 3600 }) : pending.promise;
    };
    expect(await c.get('k', fetch)).toBe('old');
    // 1 h lifetime: margin = max(60 s, 10%) = 6 min. At 50 min nothing happens.
    clock.advance(50 * 60_000);
    expect(await c.get('k', fetch)).toBe('old');
    expect(calls).toBe(1);
    // At 55 min (5 min left): the old token is answered at once while one refresh starts.
    clock.advance(5 * 60_000);
    const answered = await Promise.race([c.get('k', fetch), tick().then(() => 'waited')]);
    expect(answered).toBe('old');
    expect(calls).toBe(2);
    expect(c.entries()[0]?.state).toBe('refreshing');
    // More callers during the refresh: still served at once, still one refresh.
    expect(await Promise.all([c.get('k', fetch), c.get('k', fetch)])).toEqual(['old', 'old']);
    expect(calls).toBe(2);
    pending.resolve({ value: 'new', expiresAt: clock.nowS + 3600 });
    await tick();
    expect(await c.get('k', fetch)).toBe('new');
    expect(calls).toBe(2);
    expect(c.entries()[0]?.state).toBe('fresh');
  });

  it('never serves a token with less than minRemaining left: the caller waits for a new one', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    await c.get('k', s.fetch);
    clock.advance(3600_000 - 4_000); // 4 s left < 5 s
    expect(await c.get('k', s.fetch)).toBe('token-2');
  });

  it('the refresh margin is max(60 s, 10%) but at most half the lifetime', () => {
    expect(defaultRefreshMarginMs(3600_000)).toBe(360_000);
    expect(defaultRefreshMarginMs(300_000)).toBe(60_000);
    expect(defaultRefreshMarginMs(60_000)).toBe(30_000);
  });

  it('a value without expiresAt is not kept by default, but concurrent callers still share one fetch', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    let n = 0;
    const fetch = async () => ({ value: `v${++n}` });
    expect(await Promise.all([c.get('k', fetch), c.get('k', fetch)])).toEqual(['v1', 'v1']);
    expect(await c.get('k', fetch)).toBe('v2');
  });

  it('a value without expiresAt is kept for ttlWithoutExpiryMs', async () => {
    const clock = new FakeClock();
    const c = cache(clock, { ttlWithoutExpiryMs: 120_000 });
    let n = 0;
    const fetch = async () => ({ value: `v${++n}` });
    expect(await c.get('k', fetch)).toBe('v1');
    clock.advance(30_000);
    expect(await c.get('k', fetch)).toBe('v1');
    clock.advance(100_000);
    expect(await c.get('k', fetch)).toBe('v2');
  });

  it('a token that arrives already expired goes to its waiters but is not kept', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    let n = 0;
    const fetch = async () => ({ value: `v${++n}`, expiresAt: clock.nowS - 10 });
    expect(await c.get('k', fetch)).toBe('v1');
    expect(await c.get('k', fetch)).toBe('v2');
    expect(c.entries()).toEqual([]);
  });
});

describe('TokenCache: clock jumps', () => {
  it('wall clock set back an hour does not stretch a token past its real lifetime (monotonic deadline)', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    expect(await c.get('k', s.fetch)).toBe('token-1'); // expires in 1 h
    clock.wall -= 3600_000; // someone sets the clock back; by the wall clock 2 h remain
    clock.mono += 3600_000 - 1_000; // …but 59:59 really passed
    expect(await c.get('k', s.fetch)).toBe('token-2');
  });

  it('wall clock jumping forward past expiry refetches even though the monotonic clock barely moved', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    await c.get('k', s.fetch);
    clock.wall += 2 * 3600_000; // e.g. resumed from suspend: monotonic time paused, wall time did not
    expect(await c.get('k', s.fetch)).toBe('token-2');
    expect(s.calls()).toBe(2);
  });

  it('wall clock set back a little keeps serving the cached token without a fetch', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    await c.get('k', s.fetch);
    clock.wall -= 10 * 60_000;
    clock.mono += 1_000;
    expect(await c.get('k', s.fetch)).toBe('token-1');
    expect(s.calls()).toBe(1);
  });
});

describe('TokenCache: failures and backoff', () => {
  it('with nothing valid left, the error reaches every waiter, then callers get it without a fetch until the backoff passes', async () => {
    const clock = new FakeClock();
    const c = cache(clock); // random 0.5 → no jitter: 1 s, 2 s, 4 s …
    let calls = 0;
    const fetch = async (): Promise<Fetched<string>> => {
      calls++;
      throw new Error(`endpoint down #${calls}`);
    };
    const waiters = await Promise.allSettled(Array.from({ length: 10 }, () => c.get('k', fetch)));
    expect(calls).toBe(1);
    expect(waiters.every((r) => r.status === 'rejected' && String(r.reason).includes('#1'))).toBe(true);
    await expect(c.get('k', fetch)).rejects.toThrow('#1');
    expect(calls).toBe(1);
    expect(c.entries()[0]).toMatchObject({ state: 'failing', failures: 1, retryInMs: 1000 });
    clock.advance(1000);
    await expect(c.get('k', fetch)).rejects.toThrow('#2');
    clock.advance(1999);
    await expect(c.get('k', fetch)).rejects.toThrow('#2');
    clock.advance(1);
    await expect(c.get('k', fetch)).rejects.toThrow('#3');
    expect(calls).toBe(3);
  });

  it('a failed background refresh keeps serving the valid token and retries with growing, capped delays', async () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const c = cache(clock, { onBackgroundError: (_k, e) => errors.push(e), backoff: { maxMs: 8_000 } });
    let calls = 0;
    let healthy = true;
    const fetch = async (): Promise<Fetched<string>> => {
      calls++;
      if (!healthy) throw new Error('refresh failed');
      return { value: `t${calls}`, expiresAt: clock.nowS + 3600 };
    };
    await c.get('k', fetch);
    healthy = false;
    clock.advance(55 * 60_000); // inside the refresh margin, 5 min left
    const retryTimes: number[] = [];
    const start = clock.mono;
    // Poll every 100 ms for 40 s: the token keeps being served; refresh attempts follow the backoff.
    for (let t = 0; t < 400; t++) {
      const before = calls;
      expect(await c.get('k', fetch)).toBe('t1');
      await tick();
      if (calls > before) retryTimes.push(clock.mono - start);
      clock.advance(100);
    }
    expect(errors.length).toBe(retryTimes.length);
    const gaps = retryTimes.slice(1).map((t, i) => t - retryTimes[i]!);
    expect(gaps.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
    expect(gaps.slice(4).every((g) => g === 8000)).toBe(true); // capped
    // Recovery: the next attempt succeeds and the new token is served.
    healthy = true;
    clock.advance(8000);
    expect(await c.get('k', fetch)).toBe('t1');
    await tick();
    expect(await c.get('k', fetch)).toMatch(/^t\d+$/);
    expect(await c.get('k', fetch)).not.toBe('t1');
    expect(c.entries()[0]).toMatchObject({ state: 'fresh', failures: 0 });
  });

  it('when the token finally expires during a failing refresh, callers get the error', async () => {
    const clock = new FakeClock();
    const c = cache(clock, { onBackgroundError: () => {} });
    let healthy = true;
    const fetch = async (): Promise<Fetched<string>> => {
      if (!healthy) throw new Error('still down');
      return { value: 'ok', expiresAt: clock.nowS + 600 };
    };
    await c.get('k', fetch);
    healthy = false;
    clock.advance(600_000);
    await expect(c.get('k', fetch)).rejects.toThrow('still down');
  });

  it('backoffDelay grows by the factor, is capped, and jitter stays within ±jitter', () => {
    const p = { initialMs: 1000, factor: 2, maxMs: 30_000, jitter: 0.2 };
    expect([1, 2, 3, 4, 5, 6, 7, 50, 5000].map((n) => backoffDelay(n, p, () => 0.5))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
    ]);
    expect(backoffDelay(1, p, () => 0)).toBe(800);
    expect(backoffDelay(1, p, () => 0.999999)).toBe(1200);
    expect(backoffDelay(10, p, () => 0.999999)).toBe(30_000); // jitter never exceeds the cap
    expect(DEFAULT_BACKOFF.maxMs).toBeGreaterThan(DEFAULT_BACKOFF.initialMs);
  });
});

describe('TokenCache: eviction and reporting', () => {
  it('evict drops a key so the next call re-mints, and resets its backoff', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    await c.get('k', s.fetch);
    expect(c.evict('k')).toBe(true);
    expect(c.evict('k')).toBe(false);
    expect(await c.get('k', s.fetch)).toBe('token-2');
    await expect(c.get('bad', async () => Promise.reject(new Error('x')))).rejects.toThrow();
    c.evict('bad');
    expect(await c.get('bad', s.fetch)).toBe('token-3');
  });

  it('a fetch in flight when its key is evicted still answers its waiters but does not refill the cache', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const d = deferred<Fetched<string>>();
    const p = c.get('k', () => d.promise);
    c.evict('k');
    d.resolve({ value: 'from-before-erase', expiresAt: clock.nowS + 3600 });
    expect(await p).toBe('from-before-erase');
    const s = source(clock);
    expect(await c.get('k', s.fetch)).toBe('token-1');
  });

  it('a stale fetch settling after an eviction does not disturb the fetch that replaced it', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const before = deferred<Fetched<string>>();
    const after = deferred<Fetched<string>>();
    let calls = 0;
    const fetch = () => (++calls === 1 ? before.promise : after.promise);
    const p1 = c.get('k', fetch);
    c.evict('k');
    const p2 = c.get('k', fetch);
    before.resolve({ value: 'old', expiresAt: clock.nowS - 1 }); // settles first, uncacheable
    expect(await p1).toBe('old');
    const p3 = c.get('k', fetch); // must join the second fetch, not start a third
    after.resolve({ value: 'new', expiresAt: clock.nowS + 3600 });
    expect(await Promise.all([p2, p3])).toEqual(['new', 'new']);
    expect(calls).toBe(2);
  });

  it('evictWhere drops what the predicate selects', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    for (const k of ['config:1|a', 'config:1|b', 'config:2|a']) await c.get(k, s.fetch);
    expect(c.evictWhere((k) => k.startsWith('config:1|'))).toBe(2);
    expect(c.entries().map((e) => e.key)).toEqual(['config:2|a']);
  });

  it('entries() describe keys, states and expiry, never values', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    await c.get('config:7|https://aud', async () => ({ value: 'SECRET-VALUE', expiresAt: clock.nowS + 3600 }));
    const entries = c.entries();
    expect(entries).toEqual([
      { key: 'config:7|https://aud', state: 'fresh', expiresAt: clock.nowS + 3600, fetchedAt: clock.nowS, hits: 0, failures: 0 },
    ]);
    expect(JSON.stringify(entries)).not.toContain('SECRET');
  });

  it('prune forgets expired entries but keeps valid and backing-off ones', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    await c.get('short', async () => ({ value: 'a', expiresAt: clock.nowS + 60 }));
    await c.get('long', async () => ({ value: 'b', expiresAt: clock.nowS + 3600 }));
    await expect(c.get('failing', async () => Promise.reject(new Error('x')))).rejects.toThrow();
    clock.advance(120_000);
    await expect(c.get('failing2', async () => Promise.reject(new Error('x')))).rejects.toThrow();
    expect(c.prune()).toBe(2); // 'short' expired, 'failing' past its 1 s backoff
    expect(
      c
        .entries()
        .map((e) => e.key)
        .sort(),
    ).toEqual(['failing2', 'long']);
  });

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const clock = new FakeClock();
    const c = cache(clock, { maxEntries: 2 });
    const s = source(clock);
    await c.get('a', s.fetch);
    await c.get('b', s.fetch);
    await c.get('a', s.fetch); // a is now the most recent
    await c.get('c', s.fetch);
    expect(
      c
        .entries()
        .map((e) => e.key)
        .sort(),
    ).toEqual(['a', 'c']);
  });

  it('setMaxEntries shrinks to the bound at once, dropping the least recently used first', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    for (const k of ['a', 'b', 'c', 'd']) await c.get(k, s.fetch);
    await c.get('a', s.fetch); // a is now the most recent; b the least
    c.setMaxEntries(2);
    expect(
      c
        .entries()
        .map((e) => e.key)
        .sort(),
    ).toEqual(['a', 'd']);
    await c.get('e', s.fetch);
    expect(
      c
        .entries()
        .map((e) => e.key)
        .sort(),
    ).toEqual(['a', 'e']);
  });

  it('registered caches are reported and evicted process-wide (what the daemon uses)', async () => {
    const clock = new FakeClock();
    const c = new TokenCache<string>({ clock, name: 'test-registry' });
    await c.get('config:1', async () => ({ value: 'v', expiresAt: clock.nowS + 3600 }));
    await c.get('config:1', async () => ({ value: 'v', expiresAt: clock.nowS + 3600 }));
    const mine = cacheReport().entries.filter((e) => e.cache === 'test-registry');
    expect(mine).toEqual([expect.objectContaining({ key: 'config:1', hits: 1 })]);
    expect(cacheReport().hits).toBeGreaterThanOrEqual(1);
    expect(evictEverywhere((k) => k === 'config:1')).toBeGreaterThanOrEqual(1);
    expect(c.entries()).toEqual([]);
  });
});

describe('TokenCache.peek (the daemon answering without a promise)', () => {
  it('is the cached value while it is valid, counted as a hit, and undefined (counting nothing) otherwise', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    expect(c.peek('k', s.fetch)).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 0, misses: 0, fetches: 0, size: 0 });
    await c.get('k', s.fetch);
    expect(c.peek('k', s.fetch)).toBe('token-1');
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, fetches: 1 });
    clock.advance(3600_000 - 4_000); // less than minRemainingMs left: not served
    expect(c.peek('k', s.fetch)).toBeUndefined();
    expect(s.calls()).toBe(1);
  });

  it('starts the refresh-ahead a get would start, and keeps serving the valid value meanwhile', async () => {
    const clock = new FakeClock();
    const c = cache(clock);
    const s = source(clock);
    await c.get('k', s.fetch);
    clock.advance(3600_000 - 300_000); // inside the refresh margin (max(60 s, 10%) = 6 min)
    expect(c.peek('k', s.fetch)).toBe('token-1');
    expect(s.calls()).toBe(2);
    await tick();
    expect(c.peek('k', s.fetch)).toBe('token-2');
  });
});

describe('RefreshingTokens.fitRules', () => {
  it('sizes the cache so every token rule keeps its token, however many there are', async () => {
    const clock = new FakeClock();
    const c = new TokenCache<Credential>({ clock, random: () => 0.5, register: false });
    const rules = compileRules({
      rules: Array.from({ length: 1500 }, (_, i) => ({
        id: `t${i}`,
        match: `https://t${i}.example`,
        source: { type: 'exchange', endpoint: 'https://mint.example/token', secret: { env: 'KEY' } },
      })),
    });
    new RefreshingTokens({ store: new MemoryStore(), env: {}, now: () => clock.nowS, cache: c }).fitRules(rules, sourceFor);
    let mints = 0;
    const mint = async (): Promise<Fetched<Credential>> => ({
      value: { kind: 'bearer', username: '__token__', secret: `tok-${++mints}` },
      expiresAt: clock.nowS + 3600,
    });
    for (const r of rules) await c.get(r.id, mint);
    expect(c.stats().size).toBe(1500);
    for (const r of rules) await c.get(r.id, mint);
    expect(mints).toBe(1500); // the second round was all hits: nothing evicted and minted again
  });
});
