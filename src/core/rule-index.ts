// Narrows thousands of rules to the few that could match a host, so a daemon holding 10,000 rules
// answers in microseconds: exact hosts by hash, wildcards by walking the request host's parent domains.
// The matcher still decides; this only skips rules whose host cannot match.
import type { Pattern, RequestTarget } from './url.js';

/** The items stored under one host, in their original order, with their positions for merging. */
interface Bucket<T> {
  items: T[];
  at: number[];
}

export class RuleIndex<T> {
  private readonly exact = new Map<string, Bucket<T>>();
  private readonly wildcard = new Map<string, Bucket<T>>();
  /** How many labels the wildcard suffixes have: a request host's other suffixes are not looked up. */
  private readonly wildcardDepths = new Set<number>();

  constructor(items: readonly T[], patternOf: (item: T) => Pattern) {
    items.forEach((item, i) => {
      const p = patternOf(item);
      const map = p.wildcard ? this.wildcard : this.exact;
      if (p.wildcard) this.wildcardDepths.add(labels(p.host));
      const bucket = map.get(p.host);
      if (bucket) {
        bucket.items.push(item);
        bucket.at.push(i);
      } else map.set(p.host, { items: [item], at: [i] });
    });
  }

  /**
   * The items whose host could match the target's, in their original order (ties go to the earliest).
   * Callers must not change the array: with a single host's items it is the index's own.
   */
  candidatesFor(target: RequestTarget): readonly T[] {
    let found: Bucket<T>[] | undefined;
    let only = this.exact.get(target.host);
    if (this.wildcardDepths.size > 0) {
      // `*.example.com` is stored under `example.com` and covers it and every subdomain. Only the
      // suffixes with as many labels as some wildcard are cut out and looked up: each is a new string
      // to hash, and a busy daemon does this for every request.
      const host = target.host;
      let depth = labels(host);
      for (let start = 0; ; depth--) {
        const bucket = this.wildcardDepths.has(depth) ? this.wildcard.get(start === 0 ? host : host.slice(start)) : undefined;
        if (bucket) {
          if (!only) only = bucket;
          else (found ??= [only]).push(bucket);
        }
        const dot = host.indexOf('.', start);
        if (dot < 0) break;
        start = dot + 1;
      }
    }
    if (!found) return only?.items ?? [];
    return merge(found);
  }
}

/** Several hosts' items as one list in original order (the rare request that several wildcards cover). */
function merge<T>(buckets: Bucket<T>[]): T[] {
  const hits: { at: number; item: T }[] = [];
  for (const b of buckets) b.items.forEach((item, k) => hits.push({ at: b.at[k]!, item }));
  return hits.sort((x, y) => x.at - y.at).map((h) => h.item);
}

function labels(host: string): number {
  let n = 1;
  for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) n++;
  return n;
}
