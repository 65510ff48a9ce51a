// Answers to a get, kept: per stored entry (the store hands back the same entries while it is
// unchanged) and per cached token (the cache hands back the same credential until it refreshes it).
// From a stored entry or a cached token an answer is frozen and the same object every time: a daemon
// answering from memory allocates nothing for it, and serializes it once (src/ipc/codec.ts, encode).
// From a credential made for the request (an env or command source), a plain object.
import type { Rule } from '../model/rule.js';
import { plainCredential, type Credential, type EngineResult, type RuleInfo, type StoredEntry } from '../model/types.js';
import type { RequestTarget } from '../model/url.js';

/** What answers a get: the credential and the rule it came from. */
export type Hit = Readonly<{ op: 'get'; credential: Readonly<Credential>; rule: Readonly<RuleInfo> }>;

export const NOT_FOUND: EngineResult = Object.freeze({ op: 'get', credential: null });

/** `owned`: the credential is already a plain object nobody else holds (a cached token): frozen as it is, not copied. */
function frozenHit(credential: Credential, rule: RuleInfo, owned = false): Hit {
  return Object.freeze({ op: 'get', credential: Object.freeze(owned ? credential : plainCredential(credential)), rule: Object.freeze(rule) });
}

export class Hits {
  private readonly stored = new WeakMap<StoredEntry, Hit>();
  private readonly tokens = new WeakMap<Credential, { rule: Rule; hit: Hit }>();

  /** The answer from a stored entry. */
  fromStored(entry: StoredEntry): Hit {
    let hit = this.stored.get(entry);
    if (!hit) {
      hit = frozenHit(entry, { id: `stored:${entry.url}#${entry.username}`, match: entry.url, source: 'stored' });
      this.stored.set(entry, hit);
    }
    return hit;
  }

  /** The answer from a rule's credential; null when there is none or it is for another user than asked. */
  fromRule(rule: Rule, target: RequestTarget, credential: Credential | null, fromCache: boolean): Hit | null {
    if (!credential) return null;
    if (target.username !== undefined && rule.username === undefined && credential.kind === 'basic' && credential.username !== target.username)
      return null;
    const kept = fromCache ? this.tokens.get(credential) : undefined;
    if (kept?.rule === rule) return kept.hit;
    const info = { id: `config:${rule.id}`, match: rule.match, source: rule.source.type };
    // A credential made for this request alone (env, command…) is answered as it is.
    if (!fromCache) return { op: 'get', credential, rule: info };
    // The token cache's own value (RefreshingTokens keeps a plainCredential of each mint).
    const hit = frozenHit(credential, info, true);
    this.tokens.set(credential, { rule, hit });
    return hit;
  }
}
