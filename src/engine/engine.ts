// The resolver: the only place that knows rules, sources and the store. Adapters hand it an
// EngineRequest; the daemon is a thin socket shell around it; the in-process fallback runs it directly.
import { compileRules } from './config.js';
import type { Config, Rule } from '../model/rule.js';
import { matches, selectMostSpecific } from '../model/match.js';
import { RuleIndex } from '../model/rule-index.js';
import type { Env } from '../platform/paths.js';
import {
  CredmuxError,
  newestFirst,
  plainCredential,
  type Credential,
  type EngineRequest,
  type EngineResult,
  type ListedEntry,
  type RuleInfo,
  type StoredEntry,
} from '../model/types.js';
import { formatPattern, parsePattern, parseRequest, patternFromRequest, type Pattern, type RequestTarget } from '../model/url.js';
import type { SecretStore } from '../store/types.js';
import type { TokenCache } from '../cache/token-cache.js';
import { sourceFor } from '../sources/index.js';
import { hiddenInputs, isTokenSource, RefreshingTokens } from '../sources/refreshing.js';
import { DEFAULT_TOKEN_USERNAME } from '../sources/types.js';
import { envNamesOfRules, ruleEnvNames, type CallerEnv } from '../sources/env-names.js';

export interface Engine {
  /**
   * `callerEnv`: the requesting helper's values of the variables the rules read (a daemon answers
   * helpers started from many environments). Without it, sources read `deps.env`.
   */
  handle(req: EngineRequest, callerEnv?: CallerEnv, opts?: HandleOptions): Promise<EngineResult>;
  /**
   * handle() for a get answered from memory (stored entries and rules unchanged, a token cached and
   * valid, an env rule), without a promise: the daemon's hot path. Undefined when the answer needs
   * waiting for (a mint, a store read); handle() then gives it. Same answers as handle().
   */
  handleNow(req: EngineRequest, callerEnv?: CallerEnv): EngineResult | undefined;
  /** The environment variables the rules of the last request read (the current ones before any): what a client must send along. */
  envNames(): string[];
}

export interface HandleOptions {
  /** Refuse (code 'deferred') instead of minting: a helper at cold start leaves minting to the daemon it started. */
  deferTokens?: boolean;
}

export interface EngineDeps {
  store: SecretStore;
  /** Current rules; called per request so a reloading caller (the daemon) can swap them. */
  rules: () => Rule[];
  env: Env;
  now: () => number;
  /** Called after a store/erase for a URL, so a token cache can drop what it derived from it. */
  onChange?: (url: string) => void;
  /** The cache the token sources (exchange, oauth2, oidc, command) mint through; tests inject one with a fake clock. */
  tokenCache?: TokenCache<Credential>;
  /**
   * For handleNow: the store's entries when they are at hand without waiting (a cached list still
   * current), and the current rules; both may be shared by the requests of one event-loop turn.
   */
  storedNow?: () => StoredEntry[] | undefined;
  rulesNow?: () => Rule[] | undefined;
}

export function createEngine(opts: { store: SecretStore; config?: Config; env?: Env; now?: () => number }): Engine {
  const rules = compileRules(opts.config ?? { rules: [] });
  return engineFrom({
    store: opts.store,
    rules: () => rules,
    env: opts.env ?? {},
    now: opts.now ?? (() => Math.floor(Date.now() / 1000)),
  });
}

/**
 * What answers a get: the credential and the rule it came from. From a stored entry or a cached
 * token, frozen and the same object for every answer: a daemon answering from memory allocates
 * nothing for it, and serializes it once (src/ipc/codec.ts, encode). From a credential made for
 * the request (an env or command source), a plain object.
 */
type Hit = Readonly<{ op: 'get'; credential: Readonly<Credential>; rule: Readonly<RuleInfo> }>;

const NOT_FOUND: EngineResult = Object.freeze({ op: 'get', credential: null });

/** `owned`: the credential is already a plain object nobody else holds (a cached token): frozen as it is, not copied. */
function frozenHit(credential: Credential, rule: RuleInfo, owned = false): Hit {
  return Object.freeze({ op: 'get', credential: Object.freeze(owned ? credential : plainCredential(credential)), rule: Object.freeze(rule) });
}

/**
 * A candidate answer: a config rule (itself: it carries its pattern) or a stored entry with its parsed
 * pattern. No wrapper around a rule: a daemon holds one candidate per rule.
 */
type StoredCandidate = { entry: StoredEntry; pattern: Pattern };
type Candidate = Rule | StoredCandidate;

function isStored(c: Candidate): c is StoredCandidate {
  return 'entry' in c;
}

export function engineFrom(deps: EngineDeps): Engine {
  const tokens = new RefreshingTokens({ store: deps.store, env: deps.env, now: deps.now, cache: deps.tokenCache });

  /** A store/erase for `url`: drop the tokens minted for it or from a secret stored for it, then tell the owner. */
  function changed(url: string): void {
    let rules: Rule[] = [];
    try {
      rules = deps.rules();
    } catch {
      tokens.cache.clear(); // an invalid config names no rule: drop them all
    }
    tokens.evictFor(url, rules, sourceFor);
    deps.onChange?.(url);
  }

  // The candidates and their index are rebuilt only when the rules or the stored list change: the
  // reloading config and the caching store hand back the same arrays while nothing changed, so a
  // daemon pays for parsing, sorting and indexing 10,000 entries once, not per request.
  let memo: { rules: Rule[]; stored: StoredEntry[]; index: RuleIndex<Candidate> } | undefined;

  /** The rules and stored entries whose host could answer the target, in precedence order. */
  async function candidatesFor(target: RequestTarget): Promise<readonly Candidate[]> {
    const ruleList = deps.rules();
    return indexFor(ruleList, await deps.store.list()).candidatesFor(target);
  }

  function indexFor(ruleList: Rule[], all: StoredEntry[]): RuleIndex<Candidate> {
    if (!memo || memo.rules !== ruleList || memo.stored !== all) {
      if (memo?.rules !== ruleList) tokens.fitRules(ruleList, sourceFor);
      memo = { rules: ruleList, stored: all, index: new RuleIndex(buildCandidates(ruleList, all), (c) => c.pattern) };
    }
    return memo.index;
  }

  // The variables of the rules the last request was answered from: the daemon publishes them after
  // every request, so they are worked out again only when the rules changed (and without another
  // look at the config file: the request just looked).
  let names: { rules: Rule[]; names: string[] } | undefined;
  function envNames(): string[] {
    const rules = memo?.rules ?? deps.rules();
    if (names?.rules !== rules) names = { rules, names: envNamesOfRules(rules) };
    return names.names;
  }

  function buildCandidates(ruleList: Rule[], all: StoredEntry[]): Candidate[] {
    const out: Candidate[] = [...ruleList];
    // API keys and refresh tokens that feed token sources are inputs, never answers.
    const hidden = hiddenInputs(ruleList, all, sourceFor);
    // Newest stored entry first: when several users are stored for one pattern, the latest login wins.
    const stored = all.filter((e) => !hidden.has(e)).sort(newestFirst);
    for (const entry of stored) {
      const pattern = tryParsePattern(entry.url);
      if (pattern) out.push({ entry, pattern });
    }
    return out;
  }

  function usernameOf(c: Candidate): string | undefined {
    return isStored(c) ? c.entry.username : c.username;
  }

  // Environments already merged, by the variables read and the caller's values for them: a daemon's
  // callers keep sending the same few, and copying the environment (tens of variables) per request is
  // most of an env rule's answer. Sources only read an environment, and the one an engine serves is
  // fixed when it opens. In memory only, like the credentials they lead to; a few, as few callers'
  // environments differ.
  const mergedEnvs = new Map<string, { values: (string | null)[]; env: Env }[]>();
  let mergedCount = 0;

  /** The environment a rule's source reads: the caller's values for its variables, when a caller sent them. */
  function sourceEnv(rule: Rule, callerEnv: CallerEnv | undefined): Env {
    const { names, key } = ruleEnvNames(rule);
    if (!callerEnv || names.length === 0) return deps.env;
    for (const name of names) {
      // A client that did not know this rule's variables (its list was stale) must not be answered
      // with the daemon's own values: it resolves in process instead.
      if (!Object.hasOwn(callerEnv, name)) throw new CredmuxError('caller-env', `the request did not carry $${name}, which rule "${rule.id}" reads`);
    }
    let merged = mergedEnvs.get(key);
    for (const m of merged ?? []) if (sameValues(m.values, names, callerEnv)) return m.env;
    const values = names.map((name) => callerEnv[name] ?? null);
    const env: Env = { ...deps.env };
    names.forEach((name, i) => {
      const v = values[i];
      if (v === null || v === undefined) delete env[name];
      else env[name] = v;
    });
    // Frozen: shared by every request from callers with these values (and so hashed once by the token cache).
    Object.freeze(env);
    if (mergedCount >= MERGED_ENVS) {
      mergedEnvs.clear();
      mergedCount = 0;
      merged = undefined;
    }
    if (!merged) mergedEnvs.set(key, (merged = []));
    merged.push({ values, env });
    mergedCount++;
    return env;
  }

  /** The candidate that answers: the most specific whose username filter passes. */
  function choose(all: readonly Candidate[], target: RequestTarget): Candidate | undefined {
    // The username in a request is a filter: a rule that names another user never answers.
    const eligible = target.username === undefined ? all : all.filter((c) => usernameOf(c) === undefined || usernameOf(c) === target.username);
    return selectMostSpecific(eligible, patternOfCandidate, target);
  }

  // Answers kept per stored entry (the store hands back the same entries while it is unchanged) and
  // per cached token (the cache hands back the same credential until it refreshes it).
  const storedHits = new WeakMap<StoredEntry, Hit>();
  const tokenHits = new WeakMap<Credential, { rule: Rule; hit: Hit }>();

  function storedHit(entry: StoredEntry): Hit {
    let hit = storedHits.get(entry);
    if (!hit) {
      hit = frozenHit(entry, { id: `stored:${entry.url}#${entry.username}`, match: entry.url, source: 'stored' });
      storedHits.set(entry, hit);
    }
    return hit;
  }

  function ruleHit(rule: Rule, target: RequestTarget, credential: Credential | null, fromCache: boolean): Hit | null {
    if (!credential) return null;
    if (target.username !== undefined && rule.username === undefined && credential.kind === 'basic' && credential.username !== target.username) return null;
    const kept = fromCache ? tokenHits.get(credential) : undefined;
    if (kept?.rule === rule) return kept.hit;
    const info = { id: `config:${rule.id}`, match: rule.match, source: rule.source.type };
    // A credential made for this request alone (env, command…) is answered as it is.
    if (!fromCache) return { op: 'get', credential, rule: info };
    // The token cache's own value (RefreshingTokens keeps a plainCredential of each mint).
    const hit = frozenHit(credential, info, true);
    tokenHits.set(credential, { rule, hit });
    return hit;
  }

  async function resolve(target: RequestTarget, callerEnv?: CallerEnv, opts: HandleOptions = {}): Promise<Hit | null> {
    const best = choose(await candidatesFor(target), target);
    if (!best) return null;
    if (isStored(best)) return storedHit(best.entry);
    const rule = best;
    const source = sourceFor(rule);
    if (opts.deferTokens && isTokenSource(source)) throw new CredmuxError('deferred', `rule "${rule.id}" mints tokens: the daemon shares them`);
    const env = sourceEnv(rule, callerEnv);
    const token = isTokenSource(source);
    const credential = token ? await tokens.get(rule, source, env) : await source.fetch(rule, { env, now: deps.now, host: target.host });
    return ruleHit(rule, target, credential, token);
  }

  /** resolve(), when nothing needs waiting for; undefined when it does (resolve() then answers). */
  function resolveNow(target: RequestTarget, callerEnv: CallerEnv | undefined): Hit | null | undefined {
    const all = deps.storedNow?.();
    if (!all) return undefined;
    const best = choose(indexFor(deps.rulesNow?.() ?? deps.rules(), all).candidatesFor(target), target);
    if (!best) return null;
    if (isStored(best)) return storedHit(best.entry);
    const rule = best;
    const source = sourceFor(rule);
    const env = sourceEnv(rule, callerEnv);
    const token = isTokenSource(source);
    const credential = token ? tokens.getNow(rule, source, env, all) : source.fetchNow?.(rule, { env, now: deps.now, host: target.host });
    return credential === undefined ? undefined : ruleHit(rule, target, credential, token);
  }

  /** The store is git handing back a token a token-source rule served for this URL (see store()). */
  async function isTokenEcho(target: RequestTarget, credential: Credential): Promise<boolean> {
    const best = selectMostSpecific(await candidatesFor(target), patternOfCandidate, target);
    if (!best || isStored(best) || !isTokenSource(sourceFor(best))) return false;
    const presented = best.username ?? DEFAULT_TOKEN_USERNAME;
    // Without authtype git sends it back as username/password; with it, as a bearer with no username.
    return credential.kind === 'basic' ? credential.username === presented : credential.username === '';
  }

  async function get(url: string, username: string | undefined, callerEnv: CallerEnv | undefined, opts: HandleOptions): Promise<EngineResult> {
    const target = withUsername(parseRequest(url), username);
    return (await resolve(target, callerEnv, opts)) ?? NOT_FOUND;
  }

  async function store(url: string, credential: Credential, callerEnv: CallerEnv | undefined): Promise<EngineResult> {
    let pattern: Pattern;
    if (isWildcard(url)) {
      pattern = parsePattern(url); // `credmux login '*.example.com'`: the pattern is given as is
    } else {
      const target = withUsername(parseRequest(url), credential.username);
      // A token rule owns its URL: what git stores back there is the token we served (a helper in
      // another process may have minted a newer one since, so comparing is not enough). Persisting it
      // would copy a short-lived token to disk, shadow the rule once it expires, and could overwrite
      // the API key stored for that URL. An input stored on purpose (`credmux login URL --token-stdin`)
      // arrives as a bearer with a username, which git's echo never is.
      if (await isTokenEcho(parseRequest(url), credential)) return { op: 'store', stored: false };
      // git stores every credential it used successfully, including ones we just served. Writing those
      // back would copy minted tokens to disk and rewrite the file on every clone: skip identical ones.
      // A source that cannot answer right now (a token rule whose API key is being stored by this very
      // call) is no reason to refuse the store: the comparison only saves a redundant write.
      const current = await resolve(target, callerEnv).catch(() => null);
      if (current && sameCredential(current.credential, credential)) return { op: 'store', stored: false };
      pattern = patternFromRequest(target);
    }
    const entryUrl = formatPattern(pattern);
    // "The latest login wins" sorts by updatedAt: after the clock was set back (NTP, a VM resumed), a
    // new login must still sort after the entries already stored for its URL, or an old one would win.
    const newest = Math.max(0, ...(await deps.store.list()).filter((e) => e.url === entryUrl).map((e) => Date.parse(e.updatedAt ?? '') || 0));
    const at = Math.max(deps.now() * 1000, newest + 1000);
    const entry: StoredEntry = { url: entryUrl, ...stripUndefined(credential), updatedAt: new Date(at).toISOString() };
    await deps.store.put(entry);
    changed(entry.url);
    return { op: 'store', stored: true };
  }

  /** Removes the stored entries that would answer this URL (or, for a wildcard, that exact pattern). */
  async function erase(url: string, username?: string, secret?: string): Promise<EngineResult> {
    const exact = isWildcard(url) ? formatPattern(parsePattern(url)) : undefined;
    const target = exact === undefined ? withUsername(parseRequest(url), username) : undefined;
    const removed = await deps.store.remove((entry) => {
      if (username !== undefined && entry.username !== username) return false;
      if (secret !== undefined && entry.secret !== secret) return false;
      if (exact !== undefined) return entry.url === exact;
      const pattern = tryParsePattern(entry.url);
      return pattern !== undefined && target !== undefined && matches(pattern, target);
    });
    changed(url);
    return { op: 'erase', removed };
  }

  async function list(): Promise<EngineResult> {
    const entries: ListedEntry[] = (await deps.store.list()).map(({ url, username, kind, expiresAt, updatedAt }) =>
      stripUndefined({ url, username, kind, expiresAt, updatedAt }),
    );
    return { op: 'list', entries };
  }

  return {
    envNames,
    handleNow(req, callerEnv) {
      if (req.op !== 'get') return undefined;
      try {
        const hit = resolveNow(withUsername(parseRequest(req.url), req.username), callerEnv);
        return hit === null ? NOT_FOUND : hit;
      } catch (e) {
        return errorResult(e);
      }
    },
    async handle(req, callerEnv, opts = {}) {
      try {
        switch (req.op) {
          case 'get':
            return await get(req.url, req.username, callerEnv, opts);
          case 'store':
            return await store(req.url, req.credential, callerEnv);
          case 'erase':
            return await erase(req.url, req.username, req.secret);
          case 'list':
            return await list();
          default:
            throw new CredmuxError('bad-request', `unknown operation ${JSON.stringify((req as { op: unknown }).op)}`);
        }
      } catch (e) {
        return errorResult(e);
      }
    },
  };
}

function errorResult(e: unknown): EngineResult {
  if (e instanceof CredmuxError) return { op: 'error', error: e.toData() };
  // Anything else is a bug; its message could in theory carry data we were handed, so say less.
  return { op: 'error', error: { code: 'internal', message: `internal error (${(e as Error)?.name ?? 'unknown'})` } };
}

/** Merged caller environments an engine keeps (see sourceEnv). */
const MERGED_ENVS = 64;

function sameValues(values: readonly (string | null)[], names: readonly string[], callerEnv: CallerEnv): boolean {
  for (let i = 0; i < names.length; i++) if (values[i] !== (callerEnv[names[i]!] ?? null)) return false;
  return true;
}

function patternOfCandidate(c: Candidate): Pattern {
  return c.pattern;
}

function isWildcard(url: string): boolean {
  return /^(?:[a-z]+:\/\/)?\*\./i.test(url);
}

function withUsername(target: RequestTarget, username: string | undefined): RequestTarget {
  return username === undefined ? target : { ...target, username };
}

function tryParsePattern(url: string): Pattern | undefined {
  try {
    return parsePattern(url);
  } catch {
    return undefined;
  }
}

/** Same secret as far as the caller could tell: git gets a bearer as username/password and stores it back as basic. */
function sameCredential(a: Credential, b: Credential): boolean {
  return a.username === b.username && a.secret === b.secret && (b.expiresAt === undefined || a.expiresAt === b.expiresAt) && (b.oauthRefreshToken === undefined || a.oauthRefreshToken === b.oauthRefreshToken);
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
