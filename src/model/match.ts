// Rule matching: does a pattern cover a request, and which of several matching patterns wins.
// Both sides arrive normalised by ./url.ts, so everything here is string and number comparison.
import type { Pattern, RequestTarget } from './url.js';

/**
 * True when a credential recorded for `p` may be sent to `t`. The username filter of a request
 * is not a property of the pattern: the caller checks it against the rule's username.
 */
export function matches(p: Pattern, t: RequestTarget): boolean {
  if (t.scheme !== null) {
    // Never across schemes: an https credential must not leak over http, nor http rules answer https.
    if (t.scheme !== p.scheme || t.port !== p.port) return false;
  } else {
    // Schemeless ("127.0.0.1:5000", "host:port"): an explicit port matches a pattern of either
    // scheme on that port; no port means the pattern's own default port.
    if ((t.port ?? defaultPort(p)) !== p.port) return false;
  }
  return hostMatches(p, t.host) && pathMatches(p.path, t.path);
}

/** >0 if `a` is more specific than `b`, <0 if less, 0 if neither: exact host > deeper wildcard > longer path. */
export function compareSpecificity(a: Pattern, b: Pattern): number {
  if (a.wildcard !== b.wildcard) return a.wildcard ? -1 : 1;
  if (a.wildcard) {
    const byDepth = labelCount(a.host) - labelCount(b.host);
    if (byDepth !== 0) return byDepth;
  }
  const byPath = segmentCount(a.path) - segmentCount(b.path);
  if (byPath !== 0) return byPath;
  // Only a schemeless request without a port can match both "https://h" and "http://h": prefer
  // https, so an unknown scheme never resolves to the plain-HTTP rule when an https one exists.
  if (a.scheme !== b.scheme) return a.scheme === 'https' ? 1 : -1;
  return 0;
}

/** The most specific of `items` whose pattern matches `target`; the earliest wins a tie. */
export function selectMostSpecific<T>(items: readonly T[], patternOf: (t: T) => Pattern, target: RequestTarget): T | undefined {
  let best: T | undefined;
  let bestPattern: Pattern | undefined;
  for (const item of items) {
    const p = patternOf(item);
    if (!matches(p, target)) continue;
    if (bestPattern === undefined || compareSpecificity(p, bestPattern) > 0) {
      best = item;
      bestPattern = p;
    }
  }
  return best;
}

function defaultPort(p: Pattern): number {
  return p.scheme === 'https' ? 443 : 80;
}

/** `*.example.com` covers example.com and anything ending in ".example.com" — on a label boundary. */
function hostMatches(p: Pattern, host: string): boolean {
  if (!p.wildcard) return host === p.host;
  if (host === p.host) return true;
  const cut = host.length - p.host.length - 1;
  return (
    cut > 0 && host.charCodeAt(cut) === 0x2e /* . */ && host.endsWith(p.host) && !isIpLiteral(host) // parsePattern refuses IP suffixes; this guards hand-built patterns too
  );
}

/** `/simple` covers `/simple`, `/simple/`, `/simple/x`, never `/simplex`. '' covers everything. */
function pathMatches(prefix: string, path: string): boolean {
  if (prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f; /* / */
}

const IPV4ISH = /^[0-9.]+$/;

function isIpLiteral(host: string): boolean {
  if (host.startsWith('[')) return true;
  // Canonical IPv4 is digits and dots; no domain is, since WHATWG reads a numeric last label as IPv4.
  const last = host.charCodeAt(host.length - 1);
  return last >= 0x30 && last <= 0x39 && IPV4ISH.test(host);
}

function labelCount(host: string): number {
  let n = 1;
  for (let i = 0; i < host.length; i++) if (host.charCodeAt(i) === 0x2e) n++;
  return n;
}

function segmentCount(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) n++;
  return n;
}
