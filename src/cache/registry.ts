// Every token cache in this process, so the daemon can report them (`credmux daemon status`) and drop
// them when a store/erase passes through, without the engine having to hand its caches out. Weak
// references: a cache nobody uses any more is not kept alive by being listed here.
import type { CacheEntryInfo, CacheStats } from './token-cache.js';

export interface ReportingCache {
  readonly name: string;
  entries(): CacheEntryInfo[];
  stats(): CacheStats;
  evictWhere(pred: (key: string, info: CacheEntryInfo) => boolean): number;
  /** Forgets entries that hold nothing valid (the daemon calls it now and then). */
  prune(): number;
}

const caches = new Set<WeakRef<ReportingCache>>();

export function registerCache(cache: ReportingCache): void {
  caches.add(new WeakRef(cache));
}

export function liveCaches(): ReportingCache[] {
  const out: ReportingCache[] = [];
  for (const ref of caches) {
    const c = ref.deref();
    if (c) out.push(c);
    else caches.delete(ref);
  }
  return out;
}

/** Fetches started by every cache so far (cheap: no entry is listed). */
export function totalFetches(): number {
  let n = 0;
  for (const c of liveCaches()) n += c.stats().fetches;
  return n;
}

export interface CacheReport extends CacheStats {
  /** Entries of every cache, never a value. */
  entries: (CacheEntryInfo & { cache: string })[];
}

export function cacheReport(): CacheReport {
  const report: CacheReport = { hits: 0, misses: 0, fetches: 0, failures: 0, size: 0, entries: [] };
  for (const c of liveCaches()) {
    const s = c.stats();
    report.hits += s.hits;
    report.misses += s.misses;
    report.fetches += s.fetches;
    report.failures += s.failures;
    report.size += s.size;
    for (const e of c.entries()) report.entries.push({ cache: c.name, ...e });
  }
  return report;
}

/** Drops entries in every cache (all of them without a predicate); returns how many. */
export function evictEverywhere(pred: (key: string, info: CacheEntryInfo) => boolean = () => true): number {
  let n = 0;
  for (const c of liveCaches()) n += c.evictWhere(pred);
  return n;
}
