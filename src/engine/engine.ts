// The resolver: the only place that knows rules, sources and the store. Adapters hand it an
// EngineRequest; the daemon is a thin socket shell around it; the in-process fallback runs it directly.
import { compileRules } from './config.js';
import { CallerEnvs } from './caller-envs.js';
import { Candidates, choose, isStored, patternOfCandidate, tryParsePattern, type Candidate } from './candidates.js';
import { Hits, NOT_FOUND, type Hit } from './hits.js';
import type { Config, Rule } from '../model/rule.js';
import { matches, selectMostSpecific } from '../model/match.js';
import type { Env } from '../platform/paths.js';
import {
  CredmuxError,
  PROTOCOL_NAMES,
  type Credential,
  type EngineRequest,
  type EngineResult,
  type ListedEntry,
  type ProtocolName,
  type StoredEntry,
} from '../model/types.js';
import { formatPattern, parsePattern, parseRequest, patternFromRequest, redactUrl, type Pattern, type RequestTarget } from '../model/url.js';
import { publicSuffixProblem } from './public-suffix.js';
import type { SecretStore } from '../store/types.js';
import type { TokenCache } from '../cache/token-cache.js';
import { sourceFor } from '../sources/index.js';
import { hiddenInputs, isTokenSource, RefreshingTokens } from '../sources/refreshing.js';
import { DEFAULT_TOKEN_USERNAME } from '../sources/types.js';
import { envNamesOfRules, type CallerEnv } from '../sources/env-names.js';

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
  /** For a store or erase: called inside the store's write lock just before the write commits (WriteOptions.guard). */
  guard?: () => void;
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

  // The engine's caches, each its own unit: what could answer (candidates.ts), the environments of
  // callers (caller-envs.ts), the answers given (hits.ts), the tokens minted (RefreshingTokens).
  const candidates = new Candidates({
    hidden: (rules, all) => hiddenInputs(rules, all, sourceFor),
    rulesChanged: (rules) => tokens.fitRules(rules, sourceFor),
  });
  const callerEnvs = new CallerEnvs(deps.env);
  const hits = new Hits();

  /** The rules and stored entries whose host could answer the target, in precedence order. */
  async function candidatesFor(target: RequestTarget): Promise<readonly Candidate[]> {
    const ruleList = deps.rules();
    return candidates.indexFor(ruleList, await deps.store.list()).candidatesFor(target);
  }

  // The variables of the rules the last request was answered from: the daemon publishes them after
  // every request, so they are worked out again only when the rules changed (and without another
  // look at the config file: the request just looked).
  let names: { rules: Rule[]; names: string[] } | undefined;
  function envNames(): string[] {
    const rules = candidates.rules ?? deps.rules();
    if (names?.rules !== rules) names = { rules, names: envNamesOfRules(rules) };
    return names.names;
  }

  /** `url`: the request as the caller gave it, for a source that answers per URL (TokenSource.present); absent for a store's check. */
  async function resolve(target: RequestTarget, callerEnv?: CallerEnv, opts: HandleOptions = {}, url?: string): Promise<Hit | null> {
    const best = choose(await candidatesFor(target), target);
    if (!best) return null;
    if (isStored(best)) return hits.fromStored(best.entry);
    const rule = best;
    const source = sourceFor(rule);
    if (opts.deferTokens && isTokenSource(source)) throw new CredmuxError('deferred', `rule "${rule.id}" mints tokens: the daemon shares them`);
    const env = callerEnvs.for(rule, callerEnv);
    const token = isTokenSource(source);
    if (token && source.present) {
      if (url === undefined) return null;
      const cached = await tokens.get(rule, source, env, target.host);
      return hits.fromRule(rule, target, await source.present(rule, cached, { url, target, now: deps.now, env }), false);
    }
    const credential = token ? await tokens.get(rule, source, env, target.host) : await source.fetch(rule, { env, now: deps.now, host: target.host });
    return hits.fromRule(rule, target, credential, token);
  }

  /** resolve(), when nothing needs waiting for; undefined when it does (resolve() then answers). */
  function resolveNow(target: RequestTarget, callerEnv: CallerEnv | undefined): Hit | null | undefined {
    const all = deps.storedNow?.();
    if (!all) return undefined;
    const best = choose(candidates.indexFor(deps.rulesNow?.() ?? deps.rules(), all).candidatesFor(target), target);
    if (!best) return null;
    if (isStored(best)) return hits.fromStored(best.entry);
    const rule = best;
    const source = sourceFor(rule);
    const env = callerEnvs.for(rule, callerEnv);
    const token = isTokenSource(source);
    if (token && source.present) return undefined; // made per request, asynchronously: resolve() answers
    const credential = token
      ? tokens.getNow(rule, source, env, all, target.host)
      : source.fetchNow?.(rule, { env, now: deps.now, host: target.host });
    return credential === undefined ? undefined : hits.fromRule(rule, target, credential, token);
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
    return (await resolve(target, callerEnv, opts, url)) ?? NOT_FOUND;
  }

  async function store(req: Extract<EngineRequest, { op: 'store' }>, callerEnv: CallerEnv | undefined, guard?: () => void): Promise<EngineResult> {
    const { url, credential } = req;
    let pattern: Pattern;
    let current: Hit | null = null;
    if (isWildcard(url)) {
      pattern = parsePattern(url); // `credmux login '*.example.com'`: the pattern is given as is
      const overSuffix = publicSuffixProblem(pattern.host);
      if (overSuffix) throw new CredmuxError('bad-url', `pattern ${JSON.stringify(redactUrl(url))} ${overSuffix}`);
    } else {
      const target = withUsername(parseRequest(url), credential.username);
      // A token rule owns its URL: what git stores back there is the token we served (a helper in
      // another process may have minted a newer one since, so comparing is not enough). Persisting it
      // would copy a short-lived token to disk, shadow the rule once it expires, and could overwrite
      // the API key stored for that URL. An input stored on purpose (`credmux login URL --token-stdin`)
      // arrives as a bearer with a username, which git's echo never is.
      if (await isTokenEcho(parseRequest(url), credential)) return { op: 'store', stored: false };
      // A source that cannot answer right now (a token rule whose API key is being stored by this very
      // call) is no reason to refuse the store: the comparison below only saves a redundant write.
      current = await resolve(target, callerEnv).catch(() => null);
      pattern = patternFromRequest(target);
    }
    const entryUrl = formatPattern(pattern);
    const all = await deps.store.list();
    const existing = all.find((e) => e.url === entryUrl && e.username === credential.username);
    const protocols = nextProtocols(existing, req);
    // git stores every credential it used successfully, including ones we just served. Writing those
    // back would copy minted tokens to disk and rewrite the file on every clone: skip identical ones,
    // unless the write changes which tools the stored entry is for.
    const forChanges = existing !== undefined && !sameProtocols(existing.protocols, protocols);
    if (current && sameCredential(current.credential, credential) && !forChanges) return { op: 'store', stored: false };
    // "The latest login wins" sorts by updatedAt: after the clock was set back (NTP, a VM resumed), a
    // new login must still sort after the entries already stored for its URL, or an old one would win.
    const newest = Math.max(0, ...all.filter((e) => e.url === entryUrl).map((e) => Date.parse(e.updatedAt ?? '') || 0));
    const at = Math.max(deps.now() * 1000, newest + 1000);
    const entry: StoredEntry = { url: entryUrl, ...stripUndefined(credential), updatedAt: new Date(at).toISOString() };
    if (protocols) entry.protocols = protocols;
    await deps.store.put(entry, { guard });
    changed(entry.url);
    return { op: 'store', stored: true };
  }

  /** Removes the stored entries that would answer this URL (or, for a wildcard, that exact pattern). */
  async function erase(url: string, username?: string, secret?: string, guard?: () => void): Promise<EngineResult> {
    const exact = isWildcard(url) ? formatPattern(parsePattern(url)) : undefined;
    const target = exact === undefined ? withUsername(parseRequest(url), username) : undefined;
    const removed = await deps.store.remove(
      (entry) => {
        if (username !== undefined && entry.username !== username) return false;
        if (secret !== undefined && entry.secret !== secret) return false;
        if (exact !== undefined) return entry.url === exact;
        const pattern = tryParsePattern(entry.url);
        return pattern !== undefined && target !== undefined && matches(pattern, target);
      },
      { guard },
    );
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
            return await store(req, callerEnv, opts.guard);
          case 'erase':
            return await erase(req.url, req.username, req.secret, opts.guard);
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

function isWildcard(url: string): boolean {
  return /^(?:[a-z]+:\/\/)?\*\./i.test(url);
}

function withUsername(target: RequestTarget, username: string | undefined): RequestTarget {
  return username === undefined ? target : { ...target, username };
}

/** Same secret as far as the caller could tell: git gets a bearer as username/password and stores it back as basic. */
function sameCredential(a: Credential, b: Credential): boolean {
  return (
    a.username === b.username &&
    a.secret === b.secret &&
    (b.expiresAt === undefined || a.expiresAt === b.expiresAt) &&
    (b.oauthRefreshToken === undefined || a.oauthRefreshToken === b.oauthRefreshToken)
  );
}

/**
 * What a stored entry is for after this store (undefined: every tool). A person's --for replaces it;
 * a helper's store adds its protocol to what the entry for that URL and user was already for.
 */
function nextProtocols(existing: StoredEntry | undefined, req: Extract<EngineRequest, { op: 'store' }>): ProtocolName[] | undefined {
  if (req.protocols === 'all') return undefined;
  if (req.protocols) return PROTOCOL_NAMES.filter((p) => req.protocols!.includes(p));
  if (!req.via) return existing?.protocols;
  if (existing && existing.protocols === undefined) return undefined;
  const via = req.via;
  return PROTOCOL_NAMES.filter((p) => p === via || existing?.protocols?.includes(p));
}

function sameProtocols(a: readonly ProtocolName[] | undefined, b: readonly ProtocolName[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((p) => b.includes(p));
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
