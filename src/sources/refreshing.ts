// The engine's side of the token sources: every mint goes through one TokenCache (refresh-ahead,
// single flight, backoff while a valid token keeps being served), keyed by the rule's identity and
// audience plus a digest of its (secret-free) config — never by a secret, so a rotating input does
// not make a new entry per rotation, and an edited rule does not serve a token minted for the old one.
//
// Stored inputs (an API key, a refresh token) may be changed by another process — `credmux login`
// runs in process while a daemon serves. Each answer checks the inputs' identity and write time
// (never their value) against the ones this process minted from or wrote itself; anything else means
// a re-login, and the cached token is dropped and minted anew.
import { TokenCache, type Fetcher } from '../cache/token-cache.js';
import { ruleEnvNames, type RuleEnvNames } from './env-names.js';
import type { Rule, StoredRef } from '../model/rule.js';
import { matches } from '../model/match.js';
import { allOf, hasItem, type OneOrMany } from '../model/one-or-many.js';
import type { Env } from '../platform/paths.js';
import { plainCredential, type Credential, type StoredEntry } from '../model/types.js';
import { parsePattern, parseRequest } from '../model/url.js';
import type { SecretStore } from '../store/types.js';
import { inputStamp, resolveStoredRef, secretAccess } from './secret-ref.js';
import { REFRESH_TOKEN_USERNAME, type AnySource, type MintContext, type TokenSource } from './types.js';

export interface RefreshingDeps {
  store: SecretStore;
  env: Env;
  now: () => number;
  /** Injectable (tests use a fake clock); default: a process-wide registered cache. */
  cache?: TokenCache<Credential>;
}

/** Cache entries beyond one per token rule: tokens minted for other caller environments (two CI jobs' API keys). */
const SPARE_ENTRIES = 1000;

/** How many input stamps per key count as "ours" (a few rotations back). */
const KNOWN_STAMPS = 8;

export function isTokenSource(s: AnySource): s is TokenSource {
  return s.refreshing === true;
}

/** FNV-1a (32 bit): tells configs apart; guards no secret (the config holds none). */
function digest(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Per process: the digests in cache keys (shown by `daemon status`) cannot be tested against guesses. */
// Made on first use: crypto costs a helper that resolves a stored secret in process a few milliseconds.
let envDigestKey: Buffer | undefined;

/** The digest for a rule that reads no variable: the same for every caller, computed once. */
let noEnvDigest: string | undefined;

/**
 * Digests already computed, per environment object and list of names: a daemon hands the same merged
 * environment to every request from callers with the same values, so it hashes once per environment,
 * not per request. Keyed by the objects, never by the values.
 */
const envDigests = new WeakMap<Env, Map<string, string>>();

function envDigest({ names, key: namesKey }: RuleEnvNames, env: Env): string {
  if (names.length === 0 && noEnvDigest !== undefined) return noEnvDigest;
  let known = envDigests.get(env);
  const hit = known?.get(namesKey);
  if (hit !== undefined) return hit;
  const values = names.map((n) => `${n}=${env[n] ?? '\0unset'}`);
  const { createHmac, randomBytes } = process.getBuiltinModule('node:crypto');
  envDigestKey ??= randomBytes(32);
  const d = createHmac('sha256', envDigestKey).update(values.join('\0')).digest('hex').slice(0, 16);
  if (names.length === 0) noEnvDigest = d;
  else if (Object.isFrozen(env)) {
    // Only an environment that cannot change under us (the engine freezes the ones it merges).
    if (!known) envDigests.set(env, (known = new Map()));
    known.set(namesKey, d);
  }
  return d;
}

export function tokenCacheKey(rule: Rule, source: TokenSource): string {
  const aud = source.audience(rule);
  const cfg = digest(JSON.stringify([rule.match, rule.username ?? null, rule.kind ?? null, rule.source]));
  return `config:${rule.id}${aud !== undefined ? `|aud=${aud}` : ''}|${cfg}`;
}

/**
 * What a rule contributes to its cache key, worked out once per rule: a daemon asks for it on every
 * request, and a compiled rule never changes (a new config compiles new rule objects).
 */
interface RuleKey {
  key: string;
  vars: RuleEnvNames;
  inputs: StoredRef[];
  /** The full cache key for the last (frozen) environment seen: callers with the same values share one. */
  lastEnv: Env | undefined;
  lastKey: string;
}

const ruleKeys = new WeakMap<Rule, RuleKey>();

function ruleKeyOf(rule: Rule, source: TokenSource): RuleKey {
  let k = ruleKeys.get(rule);
  if (!k) {
    k = { key: tokenCacheKey(rule, source), vars: ruleEnvNames(rule), inputs: source.inputs(rule), lastEnv: undefined, lastKey: '' };
    ruleKeys.set(rule, k);
  }
  return k;
}

/**
 * The rule's cache key for callers with these values: a keyed digest of the values the rule reads,
 * never the values. Callers with different values for them (two CI jobs, two API keys) never share a token.
 */
function cacheKeyOf(k: RuleKey, env: Env): string {
  if (k.lastEnv === env) return k.lastKey;
  const key = `${k.key}|env=${envDigest(k.vars, env)}`;
  if (k.vars.names.length === 0 || Object.isFrozen(env)) {
    k.lastEnv = env;
    k.lastKey = key;
  }
  return key;
}

export class RefreshingTokens {
  readonly cache: TokenCache<Credential>;
  /** The input stamps each key was minted from or wrote, oldest first (mostly one). */
  private readonly known = new Map<string, OneOrMany<string>>();
  /** Keys whose inputs getNow found unchanged in the list `checkedIn`. */
  private readonly checked = new Set<string>();
  private checkedIn: readonly StoredEntry[] | undefined;

  constructor(private readonly deps: RefreshingDeps) {
    this.cache = deps.cache ?? new TokenCache<Credential>({ name: 'tokens' });
  }

  /** The rule's current token: cached while valid, minted at most once at a time. */
  async get(rule: Rule, source: TokenSource, env: Env = this.deps.env, host?: string): Promise<Credential> {
    const { key, inputs, mint } = this.lookup(rule, source, env, host);
    const value = await this.cache.get(key, mint);
    if (inputs.length === 0) return value;
    const current = inputStamp(await this.deps.store.list(), inputs);
    if (this.isKnown(key, current)) return value;
    // Changed by someone else (a new login): drop the token minted from the old input. Remembered
    // first, so callers arriving meanwhile join this one mint instead of evicting it again.
    this.remember(key, current);
    this.cache.evict(key);
    return this.cache.get(key, mint);
  }

  /**
   * get() without waiting: the cached token while it is valid and its stored inputs are still the
   * ones it was minted from (`entries`: the store's current list). Undefined when get() has work to do.
   */
  getNow(rule: Rule, source: TokenSource, env: Env, entries: readonly StoredEntry[], host?: string): Credential | undefined {
    const { key, inputs, mint } = this.lookup(rule, source, env, host);
    if (inputs.length > 0) {
      // Checked once per key while the store's list stays the same array (the daemon's cache keeps it).
      if (entries !== this.checkedIn) {
        this.checkedIn = entries;
        this.checked.clear();
      }
      if (!this.checked.has(key)) {
        if (!this.isKnown(key, inputStamp(entries, inputs))) return undefined;
        this.checked.add(key);
      }
    }
    return this.cache.peek(key, mint);
  }

  private lookup(
    rule: Rule,
    source: TokenSource,
    env: Env,
    host: string | undefined,
  ): { key: string; inputs: StoredRef[]; mint: Fetcher<Credential> } {
    const k = ruleKeyOf(rule, source);
    // A host-scoped source (one ECR token per region) keeps one entry per scope under the rule's key.
    const scope = source.scope && host !== undefined ? source.scope(rule, host) : undefined;
    const key = scope === undefined ? cacheKeyOf(k, env) : `${cacheKeyOf(k, env)}|scope=${scope}`;
    const inputs = k.inputs;
    const { store, now } = this.deps;
    const mint = async (current?: Credential) => {
      const before = inputs.length ? inputStamp(await store.list(), inputs) : '';
      const secrets = secretAccess(store, env, (after) => this.remember(key, inputStamp(after, inputs)));
      // What this mint is for: a scope (an AWS region), and on a refresh ahead the credential still served (a lease to renew).
      const ctx: MintContext = { env, now, secrets };
      if (current) ctx.current = current;
      if (scope !== undefined) ctx.scope = scope;
      const credential = plainCredential(await source.mint(rule, ctx));
      this.remember(key, before);
      return { value: credential, expiresAt: credential.expiresAt };
    };
    return { key, inputs, mint };
  }

  /**
   * Sizes the cache for these rules: every token rule keeps its token, with room to spare for rules
   * minting per caller environment. A fixed bound below the number of token rules would evict and
   * re-mint tokens round-robin as requests spread over the rules.
   */
  fitRules(rules: readonly Rule[], sourceOf: (r: Rule) => AnySource): void {
    let n = 0;
    for (const rule of rules) if (isTokenSource(sourceOf(rule))) n++;
    this.cache.setMaxEntries(SPARE_ENTRIES + n);
  }

  /** Drops the tokens of rules that answer `url` or read a secret stored for it (store/erase/logout). */
  evictFor(url: string, rules: readonly Rule[], sourceOf: (r: Rule) => AnySource): number {
    let target: ReturnType<typeof parseRequest>;
    try {
      target = parseRequest(url);
    } catch {
      return this.cache.evictWhere(() => true); // a wildcard or odd URL: rare, so drop them all
    }
    const prefixes: string[] = [];
    for (const rule of rules) {
      const source = sourceOf(rule);
      if (!isTokenSource(source)) continue;
      const touched =
        matches(rule.pattern, target) ||
        source.inputs(rule).some((ref) => {
          try {
            return matches(parsePattern(ref.stored), target);
          } catch {
            return false;
          }
        });
      if (touched) prefixes.push(`config:${rule.id}|`);
    }
    if (prefixes.length === 0) return 0;
    return this.cache.evictWhere((key) => prefixes.some((p) => key.startsWith(p)));
  }

  private remember(key: string, stamp: string): void {
    this.checked.delete(key);
    const list = allOf(this.known.get(key)).filter((s) => s !== stamp);
    list.push(stamp);
    this.known.set(key, list.length === 1 ? stamp : list.slice(-KNOWN_STAMPS));
  }

  private isKnown(key: string, stamp: string): boolean {
    return hasItem(this.known.get(key), stamp);
  }
}

/**
 * Stored entries that are inputs of token sources — refresh tokens, API keys named by a rule — are
 * never served as credentials themselves: an API key or refresh token is not a bearer for the host.
 */
export function hiddenInputs(rules: readonly Rule[], entries: readonly StoredEntry[], sourceOf: (r: Rule) => AnySource): Set<StoredEntry> {
  const hidden = new Set<StoredEntry>(entries.filter((e) => e.username === REFRESH_TOKEN_USERNAME));
  for (const rule of rules) {
    const source = sourceOf(rule);
    if (!isTokenSource(source)) continue;
    for (const ref of source.inputs(rule)) {
      const e = resolveStoredRef(entries, ref);
      if (e) hidden.add(e);
    }
  }
  return hidden;
}
