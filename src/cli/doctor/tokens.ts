// doctor: each rule's credential state — valid until, last refresh, last error — never the secret.
//
// Stored credentials are read from the store's metadata (expiresAt, updatedAt). Token sources (exchange,
// oauth2, oidc, command) mint in the daemon, which reports its cache; doctor never mints one itself,
// since a mint can rotate a refresh token or cost a round trip. Sources that just read what is at hand
// (env, netrc) are asked directly, as the in-process fallback would.
import type { Rule } from '../../model/rule.js';
import type { Env } from '../../platform/paths.js';
import type { StoredEntry } from '../../model/types.js';
import type { DaemonStatusReport } from '../../client/daemon-control.js';
import { sourceFor } from '../../sources/index.js';
import { netrcPath } from '../../sources/netrc.js';
import { hiddenInputs, isTokenSource } from '../../sources/refreshing.js';
import { shq } from '../setup/common.js';
import { withTimeout, type Check } from './check.js';

/** A token expiring sooner than this is reported as a warning. */
const SOON_SECONDS = 600;
const SOURCE_TIMEOUT_MS = 5_000;

interface TokenInputs {
  rules: Rule[];
  entries: StoredEntry[];
  daemon: DaemonStatusReport | undefined;
  now: number;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** A URL the pattern answers, for the `credmux get` a person can run to see the rule at work. */
function sampleUrl(rule: Rule): string {
  const p = rule.pattern;
  const port = p.port === (p.scheme === 'https' ? 443 : 80) ? '' : `:${p.port}`;
  return `${p.scheme}://${p.host}${port}${p.path}`;
}

export async function checkTokens(env: Env, t: TokenInputs): Promise<Check[]> {
  const checks: Check[] = [];
  for (const rule of t.rules) checks.push(await ruleCheck(env, rule, t));
  let hidden = new Set<StoredEntry>();
  try {
    hidden = hiddenInputs(t.rules, t.entries, sourceFor);
  } catch {
    /* an input that cannot be resolved is simply shown as a stored credential */
  }
  for (const e of t.entries) checks.push(storedCheck(e, hidden.has(e), t.now));
  if (checks.length === 0) {
    checks.push({
      section: 'tokens',
      area: 'credentials',
      status: 'info',
      summary: 'none: no rules and nothing stored',
      fix: 'credmux login https://HOST --username USER --password-stdin   (or import existing ones: credmux import --dry-run)',
    });
  }
  return checks;
}

function storedCheck(e: StoredEntry, isInput: boolean, now: number): Check {
  const who = e.username === '' ? '(no username)' : e.username;
  const area = `stored ${e.url} (${who}, ${e.kind})`;
  const last = e.updatedAt ? `last stored ${e.updatedAt}` : undefined;
  if (isInput) {
    return {
      section: 'tokens',
      area,
      status: 'ok',
      summary: `input of a token rule (refresh token or API key), never served itself${last ? `; ${last}` : ''}`,
    };
  }
  const relogin = `${e.kind === 'bearer' ? 'echo "$TOKEN"' : 'echo "$PASSWORD"'} | credmux login ${shq(e.url)} --username ${shq(e.username || '__token__')} ${e.kind === 'bearer' ? '--token-stdin' : '--password-stdin'}`;
  if (e.expiresAt !== undefined && e.expiresAt <= now) {
    return {
      section: 'tokens',
      area,
      status: 'error',
      summary: `expired at ${iso(e.expiresAt)}: tools get a credential the server will refuse`,
      ...(last ? { details: [last] } : {}),
      fix: `store a fresh one: ${relogin}\nor remove it: credmux logout ${shq(e.url)} --username ${shq(e.username)}`,
    };
  }
  if (e.expiresAt !== undefined && e.expiresAt - now < SOON_SECONDS) {
    return { section: 'tokens', area, status: 'warn', summary: `expires soon, at ${iso(e.expiresAt)}`, fix: `store a fresh one: ${relogin}` };
  }
  return {
    section: 'tokens',
    area,
    status: 'ok',
    summary: `${e.expiresAt !== undefined ? `valid until ${iso(e.expiresAt)}` : 'no expiry known'}${last ? `; ${last}` : ''}`,
  };
}

async function ruleCheck(env: Env, rule: Rule, t: TokenInputs): Promise<Check> {
  const area = `rule ${rule.id} (${rule.match}, ${rule.source.type})`;
  const source = sourceFor(rule);
  const tryIt = `credmux get ${shq(sampleUrl(rule))}   (resolves in this process and prints the source's error)`;
  if (isTokenSource(source)) {
    if (!t.daemon?.running) {
      return {
        section: 'tokens',
        area,
        status: 'info',
        summary: 'token state lives in the daemon, which is not running; it mints on first use',
        fix: `to try the source now: ${tryIt}`,
      };
    }
    const entries = t.daemon.cache.entries.filter((c) => c.key.startsWith(`config:${rule.id}|`));
    if (entries.length === 0) return { section: 'tokens', area, status: 'info', summary: 'no token minted yet (the daemon mints on first use)' };
    const details: string[] = [];
    let status: Check['status'] = 'ok';
    const summaries: string[] = [];
    for (const c of entries) {
      const lastError = (c as { lastError?: unknown }).lastError;
      const parts = [
        c.state,
        c.expiresAt !== undefined ? `valid until ${iso(c.expiresAt)}` : undefined,
        c.fetchedAt !== undefined ? `last refresh ${iso(c.fetchedAt)}` : 'never refreshed',
        c.failures ? `${c.failures} failed refresh${c.failures === 1 ? '' : 'es'} in a row` : undefined,
        c.retryInMs !== undefined ? `next try in ${Math.ceil(c.retryInMs / 1000)} s` : undefined,
        typeof lastError === 'string' ? `last error: ${lastError}` : undefined,
      ].filter(Boolean);
      summaries.push(parts.join(', '));
      if (c.state === 'failing' || (c.state === 'expired' && c.failures > 0)) status = 'error';
      else if (status === 'ok' && (c.state === 'expired' || c.failures > 0)) status = 'warn';
    }
    if (entries.length > 1) details.push(...summaries.slice(1));
    return {
      section: 'tokens',
      area,
      status,
      summary: summaries[0]!,
      ...(details.length ? { details } : {}),
      ...(status !== 'ok' ? { fix: `see why: ${tryIt}${t.daemon.running ? `\nand the daemon log: ${t.daemon.logFile}` : ''}` } : {}),
    };
  }
  try {
    const c = await withTimeout(
      source.fetch(rule, { env, now: () => t.now, host: rule.pattern.host }),
      SOURCE_TIMEOUT_MS,
      `source ${rule.source.type}`,
    );
    if (!c) return { section: 'tokens', area, status: 'warn', summary: 'no credential available now', fix: sourceFix(env, rule) };
    const exp =
      c.expiresAt !== undefined ? (c.expiresAt <= t.now ? `expired at ${iso(c.expiresAt)}` : `valid until ${iso(c.expiresAt)}`) : 'no expiry known';
    return {
      section: 'tokens',
      area,
      status: c.expiresAt !== undefined && c.expiresAt <= t.now ? 'error' : 'ok',
      summary: `available (${c.kind}, user ${c.username || '(none)'}); ${exp}`,
    };
  } catch (e) {
    // Source errors name the rule and the fix (sources/*.ts); they never carry the secret.
    return { section: 'tokens', area, status: 'error', summary: (e as Error).message, fix: sourceFix(env, rule) };
  }
}

function sourceFix(env: Env, rule: Rule): string {
  const s = rule.source;
  switch (s.type) {
    case 'env':
      return `export ${s.var}=…${s.usernameVar ? ` ${s.usernameVar}=…` : ''} where the tools run (this shell does not have it)`;
    case 'netrc':
      return `add "machine ${rule.pattern.host.replace(/^\[|\]$/g, '')} login USER password …" to ${netrcPath(env, s.file)}`;
    default:
      return `credmux get ${shq(sampleUrl(rule))}`;
  }
}
