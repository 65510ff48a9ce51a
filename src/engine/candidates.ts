// The engine's first cache: what could answer a request. Config rules and stored entries become one
// list of candidates (a rule as itself, a stored entry with its parsed pattern), indexed by host. It is
// rebuilt only when the rules or the stored list change: the reloading config and the caching store
// hand back the same arrays while nothing changed, so a daemon pays for parsing, sorting and indexing
// 10,000 entries once, not per request.
import type { Rule } from '../model/rule.js';
import { selectMostSpecific } from '../model/match.js';
import { RuleIndex } from '../model/rule-index.js';
import { newestFirst, type StoredEntry } from '../model/types.js';
import { parsePattern, type Pattern, type RequestTarget } from '../model/url.js';

/**
 * A candidate answer: a config rule (itself: it carries its pattern) or a stored entry with its parsed
 * pattern. No wrapper around a rule: a daemon holds one candidate per rule.
 */
export type StoredCandidate = { entry: StoredEntry; pattern: Pattern };
export type Candidate = Rule | StoredCandidate;

export function isStored(c: Candidate): c is StoredCandidate {
  return 'entry' in c;
}

export function patternOfCandidate(c: Candidate): Pattern {
  return c.pattern;
}

export interface CandidateHooks {
  /** The stored entries that feed token sources (API keys, refresh tokens): inputs, never answers. */
  hidden(rules: Rule[], stored: StoredEntry[]): Set<StoredEntry>;
  /** Called before an index is built for a new rule list (the token cache fits itself to the rules). */
  rulesChanged?(rules: Rule[]): void;
}

export class Candidates {
  private memo: { rules: Rule[]; stored: StoredEntry[]; index: RuleIndex<Candidate> } | undefined;

  constructor(private readonly hooks: CandidateHooks) {}

  /** The rules of the index built last; undefined before the first. */
  get rules(): Rule[] | undefined {
    return this.memo?.rules;
  }

  /** The index for these rules and stored entries, rebuilt only when either array is a new one. */
  indexFor(rules: Rule[], stored: StoredEntry[]): RuleIndex<Candidate> {
    const memo = this.memo;
    if (!memo || memo.rules !== rules || memo.stored !== stored) {
      if (memo?.rules !== rules) this.hooks.rulesChanged?.(rules);
      this.memo = { rules, stored, index: new RuleIndex(this.build(rules, stored), patternOfCandidate) };
    }
    return this.memo!.index;
  }

  private build(rules: Rule[], all: StoredEntry[]): Candidate[] {
    const out: Candidate[] = [...rules];
    const hidden = this.hooks.hidden(rules, all);
    // Newest stored entry first: when several users are stored for one pattern, the latest login wins.
    const stored = all.filter((e) => !hidden.has(e)).sort(newestFirst);
    for (const entry of stored) {
      const pattern = tryParsePattern(entry.url);
      if (pattern) out.push({ entry, pattern });
    }
    return out;
  }
}

/** The candidate that answers: the most specific whose username filter passes. */
export function choose(all: readonly Candidate[], target: RequestTarget): Candidate | undefined {
  // The username in a request is a filter: a rule that names another user never answers.
  const eligible = target.username === undefined ? all : all.filter((c) => usernameOf(c) === undefined || usernameOf(c) === target.username);
  return selectMostSpecific(eligible, patternOfCandidate, target);
}

function usernameOf(c: Candidate): string | undefined {
  return isStored(c) ? c.entry.username : c.username;
}

export function tryParsePattern(url: string): Pattern | undefined {
  try {
    return parsePattern(url);
  } catch {
    return undefined;
  }
}
