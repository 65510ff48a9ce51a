// A cache of short-lived tokens keyed by rule identity (+ audience) — never by a secret.
//
// - Refresh ahead: once less than max(60 s, 10% of the lifetime) remains (at most half of it), the
//   still-valid value is served and one refresh runs in the background: no caller waits while a
//   valid value exists.
// - Single flight: one fetch per key is in flight however many callers wait for it.
// - Backoff: a failed fetch is retried no sooner than an exponentially growing, jittered, capped
//   delay. A valid value keeps being served meanwhile; when nothing valid is left, callers get the
//   last error until the delay has passed (a broken endpoint is not hammered by every request).
// - Expiry is judged by the wall clock *and* a monotonic deadline, whichever says less remains, so a
//   wall clock set back never stretches a token's life (see clock.ts).
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { registerCache, type ReportingCache } from './registry.js';

export interface Fetched<T> {
  value: T;
  /** Unix seconds; absent when the source does not say (see `ttlWithoutExpiryMs`). */
  expiresAt?: number;
}

/** Gets a value; `current` is the one still served when this is a refresh ahead of its expiry. */
export type Fetcher<T> = (current?: T) => Promise<Fetched<T>>;

export interface TokenCacheOptions {
  /** Shown in status reports. */
  name?: string;
  clock?: Clock;
  random?: () => number;
  backoff?: Partial<BackoffPolicy>;
  /** A value is served only while more than this remains of it (ms): callers need time to use it. Default 5 s. */
  minRemainingMs?: number;
  /** How long before expiry a background refresh starts, given the lifetime (ms). Default: max(60 s, 10%), at most half the lifetime. */
  refreshMarginMs?: (lifetimeMs: number) => number;
  /** How long to keep a value that came without `expiresAt` (ms). Default 0: not kept (still single-flight). */
  ttlWithoutExpiryMs?: number;
  /** Least recently used entries beyond this are dropped. Default 1000. */
  maxEntries?: number;
  /** A background refresh failed (the valid value keeps being served). Must not throw. */
  onBackgroundError?: (key: string, error: unknown) => void;
  /** List this cache in the process-wide registry the daemon reports from. Default true. */
  register?: boolean;
}

export type EntryState = 'fresh' | 'refresh-due' | 'refreshing' | 'fetching' | 'expired' | 'failing';

/** What status shows about an entry: never the value. */
export interface CacheEntryInfo {
  key: string;
  state: EntryState;
  /** Unix seconds, when a value is held and its expiry is known. */
  expiresAt?: number;
  /** Unix seconds of the last successful fetch. */
  fetchedAt?: number;
  hits: number;
  /** Consecutive failed fetches. */
  failures: number;
  /** Milliseconds until the next fetch is allowed, while backing off. */
  retryInMs?: number;
}

export interface CacheStats {
  /** Answers served from a valid cached value. */
  hits: number;
  /** Calls that had to wait for a fetch (their own or one already in flight). */
  misses: number;
  /** Fetches started (foreground and background). */
  fetches: number;
  /** Fetches that failed. */
  failures: number;
  size: number;
}

interface Entry<T> {
  /** Present once a fetch succeeded with a cacheable value. */
  held?: {
    value: T;
    /** Wall-clock expiry (ms since epoch); Infinity = never. */
    expiresWallMs: number;
    /** The same expiry on the monotonic clock. */
    expiresMonoMs: number;
    lifetimeMs: number;
    fetchedWallMs: number;
  };
  inflight?: Promise<T>;
  failures: number;
  retryAtMonoMs: number;
  lastError?: { error: unknown };
  hits: number;
  /** When it was last asked for, as a count of calls: the least recently used idle entry goes first. */
  used: number;
}

interface Now {
  wall: number;
  mono: number;
}

export function defaultRefreshMarginMs(lifetimeMs: number): number {
  return Math.min(Math.max(60_000, lifetimeMs * 0.1), lifetimeMs / 2);
}

export class TokenCache<T> implements ReportingCache {
  readonly name: string;
  private readonly map = new Map<string, Entry<T>>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly policy: BackoffPolicy;
  private readonly minRemainingMs: number;
  private readonly refreshMarginMs: (lifetimeMs: number) => number;
  private readonly ttlWithoutExpiryMs: number;
  private maxEntries: number;
  private readonly onBackgroundError: (key: string, error: unknown) => void;
  private counters = { hits: 0, misses: 0, fetches: 0, failures: 0 };
  private calls = 0;

  constructor(opts: TokenCacheOptions = {}) {
    this.name = opts.name ?? 'tokens';
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.policy = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.minRemainingMs = opts.minRemainingMs ?? 5_000;
    this.refreshMarginMs = opts.refreshMarginMs ?? defaultRefreshMarginMs;
    this.ttlWithoutExpiryMs = opts.ttlWithoutExpiryMs ?? 0;
    this.maxEntries = opts.maxEntries ?? 1000;
    this.onBackgroundError = opts.onBackgroundError ?? (() => {});
    if (opts.register !== false) registerCache(this);
  }

  /** The value for `key`: cached while valid, else from `fetch` (shared with concurrent callers). */
  get(key: string, fetch: Fetcher<T>): Promise<T> {
    const now = this.now();
    let e = this.map.get(key);
    if (e?.held && this.remainingMs(e, now) > this.minRemainingMs) return Promise.resolve(this.hit(key, e, e.held.value, now, fetch));
    this.counters.misses++;
    if (!e) {
      // Every field from the start: one hidden class, fields in the object (a cache holds thousands).
      e = { held: undefined, inflight: undefined, failures: 0, retryAtMonoMs: -Infinity, lastError: undefined, hits: 0, used: ++this.calls };
      this.insert(key, e);
    } else {
      this.touch(e);
    }
    if (e.inflight) return e.inflight;
    if (e.lastError && now.mono < e.retryAtMonoMs) return Promise.reject(e.lastError.error);
    return this.start(key, e, fetch, false);
  }

  /**
   * get() for a valid cached value, without a promise (a refresh starts when one is due, as in get()).
   * Undefined, counting nothing, when get() would have to wait.
   */
  peek(key: string, fetch: Fetcher<T>): T | undefined {
    const now = this.now();
    const e = this.map.get(key);
    return e?.held && this.remainingMs(e, now) > this.minRemainingMs ? this.hit(key, e, e.held.value, now, fetch) : undefined;
  }

  /** A valid value is held: count it, keep it recent, and refresh ahead when due. */
  private hit(key: string, e: Entry<T>, value: T, now: Now, fetch: Fetcher<T>): T {
    this.counters.hits++;
    e.hits++;
    this.touch(e);
    if (!e.inflight && now.mono >= e.retryAtMonoMs && this.refreshDue(e, now)) {
      this.start(key, e, fetch, true);
    }
    return value;
  }

  /** Drops one key (an in-flight fetch still answers its waiters but no longer fills the cache). */
  evict(key: string): boolean {
    return this.map.delete(key);
  }

  evictWhere(pred: (key: string, info: CacheEntryInfo) => boolean): number {
    const now = this.now();
    let n = 0;
    for (const [key, e] of [...this.map]) {
      if (pred(key, this.info(key, e, now))) {
        this.map.delete(key);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.map.clear();
  }

  /** Changes the bound on entries; beyond it, least recently used idle entries go (now and on insert). */
  setMaxEntries(max: number): void {
    this.maxEntries = max;
    while (this.map.size > max && this.dropLeastRecent()) {
      // one at a time, oldest first
    }
  }

  /** Forgets entries that hold nothing valid, fetch nothing and are not backing off. */
  prune(): number {
    const now = this.now();
    let n = 0;
    for (const [key, e] of [...this.map]) {
      const valid = e.held !== undefined && this.remainingMs(e, now) > this.minRemainingMs;
      if (!valid && !e.inflight && now.mono >= e.retryAtMonoMs) {
        this.map.delete(key);
        n++;
      }
    }
    return n;
  }

  entries(): CacheEntryInfo[] {
    const now = this.now();
    return [...this.map].map(([key, e]) => this.info(key, e, now));
  }

  stats(): CacheStats {
    return { ...this.counters, size: this.map.size };
  }

  private now(): Now {
    return { wall: this.clock.wallMs(), mono: this.clock.monoMs() };
  }

  /** Whichever clock says less time remains wins: wall set back or a paused monotonic clock can't extend a token. */
  private remainingMs(e: Entry<T>, now: Now): number {
    if (!e.held) return -Infinity;
    return Math.min(e.held.expiresWallMs - now.wall, e.held.expiresMonoMs - now.mono);
  }

  /** A value kept forever (ttlWithoutExpiryMs = Infinity) is never refreshed ahead. */
  private refreshDue(e: Entry<T>, now: Now): boolean {
    if (!e.held || !Number.isFinite(e.held.lifetimeMs)) return false;
    return this.remainingMs(e, now) <= this.refreshMarginMs(e.held.lifetimeMs);
  }

  private start(key: string, e: Entry<T>, fetch: Fetcher<T>, refresh: boolean): Promise<T> {
    this.counters.fetches++;
    // `new Promise` turns a synchronous throw in fetch() into a rejection like any other failure.
    // A refresh ahead hands the fetch the value still being served: a source may extend it (renew a
    // Vault lease) instead of minting another.
    const current = refresh ? e.held?.value : undefined;
    const p = new Promise<Fetched<T>>((resolve) => resolve(fetch(current))).then(
      (fetched) => {
        if (e.inflight === p) e.inflight = undefined;
        this.succeeded(key, e, fetched);
        return fetched.value;
      },
      (error: unknown) => {
        if (e.inflight === p) e.inflight = undefined;
        this.failed(key, e, error);
        throw error;
      },
    );
    e.inflight = p;
    // A refresh has no waiter to hand its error to; report it instead of leaving it unhandled.
    if (refresh) p.catch((error: unknown) => this.onBackgroundError(key, error));
    return p;
  }

  private isCurrent(key: string, e: Entry<T>): boolean {
    return this.map.get(key) === e;
  }

  private succeeded(key: string, e: Entry<T>, fetched: Fetched<T>): void {
    if (!this.isCurrent(key, e)) return; // evicted while fetching: answer the waiters, keep nothing
    const now = this.now();
    e.failures = 0;
    e.lastError = undefined;
    e.retryAtMonoMs = -Infinity;
    let lifetimeMs: number;
    let expiresWallMs: number;
    if (typeof fetched.expiresAt === 'number' && Number.isFinite(fetched.expiresAt)) {
      expiresWallMs = fetched.expiresAt * 1000;
      lifetimeMs = expiresWallMs - now.wall;
    } else {
      lifetimeMs = this.ttlWithoutExpiryMs;
      expiresWallMs = now.wall + lifetimeMs;
    }
    if (!(lifetimeMs > this.minRemainingMs)) {
      // Already (nearly) expired, or not to be kept: the waiters get it, the next caller fetches anew.
      e.held = undefined;
      this.map.delete(key);
      return;
    }
    e.held = { value: fetched.value, expiresWallMs, expiresMonoMs: now.mono + lifetimeMs, lifetimeMs, fetchedWallMs: now.wall };
  }

  private failed(key: string, e: Entry<T>, error: unknown): void {
    this.counters.failures++;
    if (!this.isCurrent(key, e)) return;
    e.failures++;
    e.lastError = { error };
    e.retryAtMonoMs = this.clock.monoMs() + backoffDelay(e.failures, this.policy, this.random);
  }

  private insert(key: string, e: Entry<T>): void {
    if (this.map.size >= this.maxEntries) this.dropLeastRecent();
    this.map.set(key, e);
  }

  /**
   * Drops the least recently used idle entry; false when every entry is fetching. A scan, but only
   * when the cache is full: recency is a counter stamped on each use, so a hit costs no reordering.
   */
  private dropLeastRecent(): boolean {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [k, e] of this.map) {
      if (!e.inflight && e.used < at) {
        oldest = k;
        at = e.used;
      }
    }
    return oldest !== undefined && this.map.delete(oldest);
  }

  private touch(e: Entry<T>): void {
    e.used = ++this.calls;
  }

  private info(key: string, e: Entry<T>, now: Now): CacheEntryInfo {
    const remaining = this.remainingMs(e, now);
    const valid = e.held !== undefined && remaining > this.minRemainingMs;
    const backingOff = now.mono < e.retryAtMonoMs;
    let state: EntryState;
    if (e.inflight) state = valid ? 'refreshing' : 'fetching';
    else if (valid && this.refreshDue(e, now)) state = 'refresh-due';
    else if (valid) state = 'fresh';
    else if (e.failures > 0) state = 'failing';
    else state = 'expired';
    const info: CacheEntryInfo = { key, state, hits: e.hits, failures: e.failures };
    if (e.held) {
      if (Number.isFinite(e.held.expiresWallMs)) info.expiresAt = Math.floor(e.held.expiresWallMs / 1000);
      info.fetchedAt = Math.floor(e.held.fetchedWallMs / 1000);
    }
    if (backingOff) info.retryInMs = Math.ceil(e.retryAtMonoMs - now.mono);
    return info;
  }
}
