// Secrets a token source consumes — an API key, a client secret, a refresh token — read from the
// store or an env var, and (refresh tokens) written back. A `stored` reference names the URL the
// secret was stored under, exactly as typed to `credmux login`: the entry recorded for that pattern
// wins, else the stored entry that would answer that URL (the most specific, newest first).
import type { SecretRef, StoredRef } from '../model/rule.js';
import { selectMostSpecific } from '../model/match.js';
import type { Env } from '../platform/paths.js';
import { newestFirst, type StoredEntry } from '../model/types.js';
import { formatPattern, parsePattern, parseRequest, type Pattern } from '../model/url.js';
import type { SecretStore } from '../store/types.js';
import { REFRESH_TOKEN_USERNAME, type SecretAccess } from './types.js';

export function isStoredRef(ref: SecretRef): ref is StoredRef {
  return 'stored' in ref;
}

/** The canonical pattern text of a reference (what `credmux login <it>` records). */
export function storedPatternOf(ref: StoredRef): string {
  return formatPattern(parsePattern(ref.stored));
}

/**
 * One list of entries, prepared for lookups: newest first, ordered by exact URL, and (on first need)
 * with parsed patterns. Kept per list: the daemon's store cache hands back the same array until the
 * store changes, so a daemon answering for thousands of token rules sorts its entries once, not once
 * per request and rule. Stores hand out fresh arrays and nothing here mutates one.
 */
interface EntryIndex {
  /** By URL, newest first within one URL; looked up by binary search. Not a hash table: a daemon
   * holds every stored entry here, and a Map of 9,000 URLs costs 0.46 MB against 0.07 for this. */
  byUrl: StoredEntry[];
  sorted: StoredEntry[];
  parsed?: { e: StoredEntry; p: Pattern }[];
}

const indexes = new WeakMap<readonly StoredEntry[], EntryIndex>();

function indexOf(entries: readonly StoredEntry[]): EntryIndex {
  let ix = indexes.get(entries);
  if (!ix) {
    const sorted = [...entries].sort(newestFirst);
    // sort() is stable: entries of one URL stay newest first.
    const byUrl = [...sorted].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
    ix = { byUrl, sorted };
    indexes.set(entries, ix);
  }
  return ix;
}

function parsedEntries(ix: EntryIndex): { e: StoredEntry; p: Pattern }[] {
  if (!ix.parsed) {
    ix.parsed = [];
    for (const e of ix.sorted) {
      try {
        ix.parsed.push({ e, p: parsePattern(e.url) });
      } catch {
        // an entry this version cannot parse answers nothing
      }
    }
  }
  return ix.parsed;
}

/** The position of the first entry whose URL is not below `url`, in a list ordered by URL. */
function firstWithUrl(byUrl: readonly StoredEntry[], url: string): number {
  let lo = 0;
  let hi = byUrl.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byUrl[mid]!.url < url) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** storedPatternOf, parsed once per reference (a rule's config object lives as long as the rule). */
const exactPatterns = new WeakMap<StoredRef, string | undefined>();

function exactPatternOf(ref: StoredRef): string | undefined {
  if (exactPatterns.has(ref)) return exactPatterns.get(ref);
  let exact: string | undefined;
  try {
    exact = storedPatternOf(ref);
    if (exact === ref.stored) exact = ref.stored; // the config's string, not a second copy of it
  } catch {
    exact = undefined;
  }
  exactPatterns.set(ref, exact);
  return exact;
}

export function resolveStoredRef(entries: readonly StoredEntry[], ref: StoredRef): StoredEntry | undefined {
  const ix = indexOf(entries);
  const userOk = (e: StoredEntry) => (ref.username === undefined ? e.username !== REFRESH_TOKEN_USERNAME : e.username === ref.username);
  const exact = exactPatternOf(ref);
  if (exact === undefined) return undefined;
  for (let i = firstWithUrl(ix.byUrl, exact); i < ix.byUrl.length && ix.byUrl[i]!.url === exact; i++) {
    if (userOk(ix.byUrl[i]!)) return ix.byUrl[i];
  }
  let target;
  try {
    target = parseRequest(ref.stored);
  } catch {
    return undefined; // a wildcard names only its own pattern
  }
  return selectMostSpecific(
    parsedEntries(ix).filter((x) => userOk(x.e)),
    (x) => x.p,
    target,
  )?.e;
}

/** What a stored input currently is, for change detection — its identity and write time, never its secret. */
export function inputStamp(entries: readonly StoredEntry[], refs: readonly StoredRef[]): string {
  return refs
    .map((ref) => {
      const e = resolveStoredRef(entries, ref);
      return e ? `${e.url}#${e.username}@${e.updatedAt ?? ''}` : '-';
    })
    .join('|');
}

/**
 * Secret access over the engine's store and environment. `onWrite` sees the entries as they will be
 * once the write lands, before it is made, so the caller can recognise its own writes (a rotation is
 * not a re-login).
 */
export function secretAccess(store: SecretStore, env: Env, onWrite?: (entriesAfter: StoredEntry[]) => void): SecretAccess {
  return {
    async read(ref) {
      if (!isStoredRef(ref)) {
        const v = env[ref.env];
        return v === undefined || v === '' ? undefined : v;
      }
      return resolveStoredRef(await store.list(), ref)?.secret;
    },
    async write(ref, secret) {
      // Rewrite the entry that was read (so a refresh token found under a wider pattern stays there).
      const entries = await store.list();
      const current = resolveStoredRef(entries, ref);
      const entry: StoredEntry = {
        url: current?.url ?? storedPatternOf(ref),
        username: current?.username ?? ref.username ?? REFRESH_TOKEN_USERNAME,
        kind: 'bearer',
        secret,
        updatedAt: new Date().toISOString(),
      };
      onWrite?.([...entries.filter((e) => e.url !== entry.url || e.username !== entry.username), entry]);
      await store.put(entry);
    },
  };
}

/** A word for the shell: quoted only when it needs to be (`'*.example.com'`). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_:/.@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How errors name a secret reference, and the command or change that puts a good one there. */
export function refWording(ref: SecretRef, what = 'secret'): { name: string; fix: string } {
  if (isStoredRef(ref)) {
    const user = ref.username !== undefined ? ` --username ${shellWord(ref.username)}` : '';
    return { name: `the ${what} stored for ${ref.stored}`, fix: `credmux login ${shellWord(ref.stored)} --token-stdin${user}` };
  }
  return {
    name: `the ${what} in $${ref.env}`,
    fix: `set ${ref.env} to a valid ${what} where the helper runs (a running daemon keeps the environment it was started with: restart it with credmux daemon stop)`,
  };
}
