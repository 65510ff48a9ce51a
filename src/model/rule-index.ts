// Narrows thousands of rules to the few that could match a host, so a daemon holding 10,000 rules
// answers in microseconds: exact hosts by hash, wildcards by walking the request host's parent domains.
// The matcher still decides; this only skips rules whose host cannot match.
import { addTo, allOf, type OneOrMany } from './one-or-many.js';
import type { Pattern, RequestTarget } from './url.js';

export class RuleIndex<T> {
  /** The items under each host, in their original order: the item itself for most hosts (a daemon
   * holds one per rule and stored entry), an array for a host with several. */
  private readonly exact = new Map<string, OneOrMany<T>>();
  private readonly wildcard = new Map<string, OneOrMany<T>>();
  /** How many labels the wildcard suffixes have: a request host's other suffixes are not looked up. */
  private readonly wildcardDepths = new Set<number>();
  /** Each item's position, for the rare request several hosts' items answer; made on first need. */
  private positions: Map<T, number> | undefined;

  /** `items` are distinct objects (a rule or an entry each), none of them an array. */
  constructor(
    private readonly items: readonly T[],
    patternOf: (item: T) => Pattern,
  ) {
    for (const item of items) {
      const p = patternOf(item);
      const map = p.wildcard ? this.wildcard : this.exact;
      if (p.wildcard) this.wildcardDepths.add(labels(p.host));
      addTo(map, p.host, item);
    }
  }

  /**
   * The items whose host could match the target's, in their original order (ties go to the earliest).
   * Callers must not change the array: with several items under a single host it is the index's own.
   */
  candidatesFor(target: RequestTarget): readonly T[] {
    let found: (readonly T[])[] | undefined;
    let only = this.exact.get(target.host);
    if (this.wildcardDepths.size > 0) {
      // `*.example.com` is stored under `example.com` and covers it and every subdomain. Only the
      // suffixes with as many labels as some wildcard are cut out and looked up: each is a new string
      // to hash, and a busy daemon does this for every request.
      const host = target.host;
      let depth = labels(host);
      for (let start = 0; ; depth--) {
        const bucket = this.wildcardDepths.has(depth) ? this.wildcard.get(start === 0 ? host : host.slice(start)) : undefined;
        if (bucket !== undefined) {
          if (only === undefined) only = bucket;
          else (found ??= [allOf(only)]).push(allOf(bucket));
        }
        const dot = host.indexOf('.', start);
        if (dot < 0) break;
        start = dot + 1;
      }
    }
    if (!found) return allOf(only);
    return this.merge(found);
  }

  /** Several hosts' items as one list in original order (the rare request that several wildcards cover). */
  private merge(buckets: (readonly T[])[]): T[] {
    if (!this.positions) {
      const positions = new Map<T, number>();
      this.items.forEach((item, i) => positions.set(item, i));
      this.positions = positions;
    }
    const at = this.positions;
    return buckets.flat().sort((x, y) => at.get(x)! - at.get(y)!);
  }
}

function labels(host: string): number {
  let n = 1;
  for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) n++;
  return n;
}
