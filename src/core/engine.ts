// The resolver: the only place that knows rules, sources and the store. Adapters hand it an
// EngineRequest; the daemon is a thin socket shell around it; the in-process fallback runs it directly.
import { compileRules, type Config, type Rule } from './config.js';
import { matches, selectMostSpecific } from './match.js';
import { RuleIndex } from './rule-index.js';
import type { Env } from './paths.js';
import {
  CredmuxError,
  type Credential,
  type EngineRequest,
  type EngineResult,
  type ListedEntry,
  type RuleInfo,
  type StoredEntry,
} from './types.js';
import { formatPattern, parsePattern, parseRequest, patternFromRequest, type Pattern, type RequestTarget } from './url.js';
import type { SecretStore } from '../store/types.js';
import type { TokenCache } from '../cache/token-cache.js';
import { sourceFor } from '../sources/index.js';
import { hiddenInputs, isTokenSource, RefreshingTokens } from '../sources/refreshing.js';
import { DEFAULT_TOKEN_USERNAME } from '../sources/types.js';
import { envNamesOf, envNamesOfRules, type CallerEnv } from '../sources/env-names.js';

export interface Engine {
  /**
   * `callerEnv`: the requesting helper's values of the variables the rules read (a daemon answers
   * helpers started from many environments). Without it, sources read `deps.env`.
   */
  handle(req: EngineRequest, callerEnv?: CallerEnv, opts?: HandleOptions): Promise<EngineResult>;
  /** The environment variables the current rules read: what a client must send along. */
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

/** A candidate answer: a config rule or a stored entry, with its parsed pattern. */
type Candidate = { kind: 'rule'; rule: Rule; pattern: Pattern } | { kind: 'stored'; entry: StoredEntry; pattern: Pattern };

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
  async function candidatesFor(target: RequestTarget): Promise<Candidate[]> {
    const ruleList = deps.rules();
    const all = await deps.store.list();
    if (!memo || memo.rules !== ruleList || memo.stored !== all) {
      memo = { rules: ruleList, stored: all, index: new RuleIndex(buildCandidates(ruleList, all), (c) => c.pattern) };
    }
    return memo.index.candidatesFor(target);
  }

  function buildCandidates(ruleList: Rule[], all: StoredEntry[]): Candidate[] {
    const out: Candidate[] = ruleList.map((rule) => ({ kind: 'rule', rule, pattern: rule.pattern }));
    // API keys and refresh tokens that feed token sources are inputs, never answers.
    const hidden = hiddenInputs(ruleList, all, sourceFor);
    // Newest stored entry first: when several users are stored for one pattern, the latest login wins.
    const stored = all.filter((e) => !hidden.has(e)).sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? ''));
    for (const entry of stored) {
      const pattern = tryParsePattern(entry.url);
      if (pattern) out.push({ kind: 'stored', entry, pattern });
    }
    return out;
  }

  function usernameOf(c: Candidate): string | undefined {
    return c.kind === 'stored' ? c.entry.username : c.rule.username;
  }

  /** The environment a rule's source reads: the caller's values for its variables, when a caller sent them. */
  function sourceEnv(rule: Rule, callerEnv: CallerEnv | undefined): Env {
    if (!callerEnv) return deps.env;
    const env: Env = { ...deps.env };
    for (const name of envNamesOf(rule)) {
      // A client that did not know this rule's variables (its list was stale) must not be answered
      // with the daemon's own values: it resolves in process instead.
      if (!Object.hasOwn(callerEnv, name)) throw new CredmuxError('caller-env', `the request did not carry $${name}, which rule "${rule.id}" reads`);
      const v = callerEnv[name];
      if (v === null || v === undefined) delete env[name];
      else env[name] = v;
    }
    return env;
  }

  async function resolve(target: RequestTarget, callerEnv?: CallerEnv, opts: HandleOptions = {}): Promise<{ credential: Credential; rule: RuleInfo } | null> {
    const all = await candidatesFor(target);
    // The username in a request is a filter: a rule that names another user never answers.
    const eligible = all.filter((c) => target.username === undefined || usernameOf(c) === undefined || usernameOf(c) === target.username);
    const best = selectMostSpecific(eligible, (c) => c.pattern, target);
    if (!best) return null;
    if (best.kind === 'stored') {
      const { url: _url, updatedAt: _u, ...credential } = best.entry;
      return { credential, rule: { id: `stored:${best.entry.url}#${best.entry.username}`, match: best.entry.url, source: 'stored' } };
    }
    const { rule } = best;
    const source = sourceFor(rule);
    if (opts.deferTokens && isTokenSource(source)) throw new CredmuxError('deferred', `rule "${rule.id}" mints tokens: the daemon shares them`);
    const env = sourceEnv(rule, callerEnv);
    const credential = isTokenSource(source) ? await tokens.get(rule, source, env) : await source.fetch(rule, { env, now: deps.now, host: target.host });
    if (!credential) return null;
    if (target.username !== undefined && rule.username === undefined && credential.kind === 'basic' && credential.username !== target.username) return null;
    return { credential, rule: { id: `config:${rule.id}`, match: rule.match, source: rule.source.type } };
  }

  /** The store is git handing back a token a token-source rule served for this URL (see store()). */
  async function isTokenEcho(target: RequestTarget, credential: Credential): Promise<boolean> {
    const best = selectMostSpecific(await candidatesFor(target), (c) => c.pattern, target);
    if (best?.kind !== 'rule' || !isTokenSource(sourceFor(best.rule))) return false;
    const presented = best.rule.username ?? DEFAULT_TOKEN_USERNAME;
    // Without authtype git sends it back as username/password; with it, as a bearer with no username.
    return credential.kind === 'basic' ? credential.username === presented : credential.username === '';
  }

  async function get(url: string, username: string | undefined, callerEnv: CallerEnv | undefined, opts: HandleOptions): Promise<EngineResult> {
    const target = withUsername(parseRequest(url), username);
    const hit = await resolve(target, callerEnv, opts);
    return hit ? { op: 'get', credential: hit.credential, rule: hit.rule } : { op: 'get', credential: null };
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
    envNames: () => envNamesOfRules(deps.rules()),
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
        if (e instanceof CredmuxError) return { op: 'error', error: e.toData() };
        // Anything else is a bug; its message could in theory carry data we were handed, so say less.
        return { op: 'error', error: { code: 'internal', message: `internal error (${(e as Error)?.name ?? 'unknown'})` } };
      }
    },
  };
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
