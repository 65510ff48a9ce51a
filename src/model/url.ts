// URL normalisation for rule patterns and for the URLs callers ask about.
//
// Both sides go through the WHATWG URL parser (the one browsers, undici and most HTTP clients use),
// so "which host is this?" gets the answer the client that sends the credential will act on
// (`https://%65xample.com` is example.com). But that parser repairs what RFC 3986 refuses
// (`https:///host`, `https:/host`, backslashes, `0x7f.1`, two "@"), and other clients (Python's
// urllib, Go's net/url, Java's URI) repair differently or not at all: a URL two parsers read as two
// hosts is how a credential goes to the wrong one. So the text is first held to RFC 3986 (strictProblem),
// and only what every reader agrees on is handed to WHATWG for normalising; a test checks that for
// every accepted input the RFC reading and the WHATWG reading agree on scheme, host, port and path.
// Around that we add schemeless `host:port` requests, `*.` wildcards, a refusal of every scheme but
// http/https, and error messages that quote the input without its secrets.
import { CredmuxError } from './types.js';

/** A rule's `match`, normalised. */
export interface Pattern {
  scheme: 'https' | 'http';
  /** Lower-case, punycode, no trailing dot; for wildcards the suffix without "*."; IPv6 as "[::1]". */
  host: string;
  /** True for "*.example.com": matches example.com and any subdomain of it. */
  wildcard: boolean;
  /** Always explicit: 443/80 when the pattern gave none. */
  port: number;
  /** '' or '/a/b': whole segments, no trailing slash. */
  path: string;
}

/** A URL as a caller asked for it. */
export interface RequestTarget {
  /** null: a schemeless request (Docker's "127.0.0.1:5000", keyring's "host:port"). */
  scheme: 'https' | 'http' | null;
  host: string;
  /** null only when schemeless and no port was given. */
  port: number | null;
  /** '' for the root, else the path as given (trailing slash kept), dot segments resolved. */
  path: string;
  /** From userinfo: a filter only, never trusted as identity. The password is dropped. */
  username?: string;
}

type Scheme = Pattern['scheme'];

const DEFAULT_PORT: Readonly<Record<Scheme, number>> = { https: 443, http: 80 };

/** RFC 3986 scheme syntax; also matches "host:" of "host:port", which `locate` tells apart. */
const SCHEME_PREFIX = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** What follows "host:" when it is a port, not a scheme's payload: digits, then the end of the authority. */
const PORT_THEN_END = /^[0-9]+(?:[/\\?#]|$)/;
/** WHATWG silently deletes tab/CR/LF inside URLs; we refuse them (and every other control) instead. */
const CONTROL = /[\u0000-\u001f\u007f]/;
const DIGITS = /^[0-9]+$/;
/** The only IPv4 form the WHATWG parser emits. */
const IPV4 = /^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/;
/** An escape, or a "%" that starts none (the parser keeps such a "%" as it is). */
const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})?/g;

/** Longest stretch of input quoted in an error message. */
const QUOTE_LIMIT = 200;

type Kind = 'URL' | 'pattern';

// ---------------------------------------------------------------------------------------------
// Public API

/** Parses a rule's `match` (or a stored entry's `url`). Throws CredmuxError('bad-url'). */
export function parsePattern(match: string): Pattern {
  return guarded('pattern', match, parsePatternUnguarded);
}

/** Canonical text of a pattern: `parsePattern(formatPattern(p))` gives `p` back. */
export function formatPattern(p: Pattern): string {
  const port = p.port === DEFAULT_PORT[p.scheme] ? '' : `:${p.port}`;
  return `${p.scheme}://${p.wildcard ? '*.' : ''}${p.host}${port}${p.path}`;
}

/** Parses a URL as a caller presented it. Throws CredmuxError('bad-url'). */
export function parseRequest(url: string): RequestTarget {
  return guarded('URL', url, parseRequestUnguarded);
}

/**
 * The pattern a store/set/login for this URL records: exactly this origin and path, never a wildcard.
 * A schemeless request is recorded as https: we never invent a plain-HTTP rule.
 */
export function patternFromRequest(t: RequestTarget): Pattern {
  const scheme = t.scheme ?? 'https';
  return { scheme, host: t.host, wildcard: false, port: t.port ?? DEFAULT_PORT[scheme], path: trimTrailingSlashes(t.path) };
}

// ---------------------------------------------------------------------------------------------
// Parsing

function parsePatternUnguarded(input: string): Pattern {
  return parsePlainPattern(input) ?? parsePatternWithParser(input);
}

/** parsePattern without the fast path: exported for the test that holds the two to the same answers. */
export function parsePatternFully(match: string): Pattern {
  return guarded('pattern', match, parsePatternWithParser);
}

/**
 * A pattern of the plain shape (PLAIN_URL, "*." label and all), as the daemon hands a
 * matched rule back (formatPattern) and as most configs write them: its parse is known without
 * running the WHATWG parser, whose first use costs a helper that formats with the rule (credmux-go)
 * ~0.3 ms of Node's own URL code. Anything else, and whatever the full path would refuse, goes there.
 */
function parsePlainPattern(input: string): Pattern | undefined {
  const p = plainParts(input);
  if (!p) return undefined;
  if (p.wildcard && !p.host.includes('.')) return undefined; // a wildcard on one label: the full path says why not
  return { ...p, path: trimTrailingSlashes(p.path) };
}

function parsePatternWithParser(input: string): Pattern {
  const { scheme, rest } = locate(input, 'pattern');
  // These are refused on the raw text: the parser would quietly drop an empty "?" or "#", and turn
  // "\" into "/", so a pattern that says something odd would be read as saying something else.
  if (rest.includes('\\')) fail('pattern', input, 'contains a backslash; write the URL with forward slashes');
  if (rest.includes('?') || rest.includes('#')) {
    fail('pattern', input, 'has a query or fragment; a pattern is scheme://host[:port][/path], which matches every query');
  }
  // The wildcard label goes before the parser sees the host ("*.[::1]" must read as a wildcard on
  // an address, not as host "*." with port ":1]").
  const wildcard = rest.startsWith('*.');
  const body = wildcard ? rest.slice(2) : rest;
  strict('pattern', input, body);
  const auth = splitAuthority(body);
  if (auth.hasUserinfo) {
    fail('pattern', input, 'contains userinfo (user@ or user:password@); put the username in the rule\'s "username" field instead');
  }
  const host = auth.host;
  if (wildcard && host === '') fail('pattern', input, 'has nothing after "*."; write a domain, e.g. *.example.com');
  if (!wildcard && host === '*') fail('pattern', input, 'would match every host; write a domain wildcard such as *.example.com');
  if (host.includes('*')) {
    fail('pattern', input, 'has "*" inside the host name; "*" is allowed only as the whole leftmost label, e.g. *.example.com');
  }
  if (body.includes('*', auth.end)) {
    fail('pattern', input, 'has "*" in its path; paths match by prefix on whole segments, so drop the "*" (e.g. https://host/simple)');
  }
  checkAuthority('pattern', input, host, auth.port);

  const url = whatwg('pattern', input, `${scheme ?? 'https'}://${body}`);
  const canonicalHost = hostOf('pattern', input, url);
  sameIpReading('pattern', input, host, canonicalHost);
  if (canonicalHost.includes('*')) {
    fail('pattern', input, 'has "*" inside the host name (percent-encoded); "*" is allowed only as the whole leftmost label, e.g. *.example.com');
  }
  if (wildcard) {
    if (isIpLiteral(canonicalHost)) {
      fail('pattern', input, 'puts a wildcard on an IP address; wildcards work only on domain names, so list the address itself');
    }
    if (!canonicalHost.includes('.')) {
      fail(
        'pattern',
        input,
        'puts a wildcard on a single label, which would match a whole top-level domain; use at least two labels, e.g. *.example.com',
      );
    }
  }
  const s: Scheme = scheme ?? 'https'; // a bare host means https: plain HTTP only where a rule says so
  return {
    scheme: s,
    host: pieceOf(input, canonicalHost),
    wildcard,
    port: url.port === '' ? DEFAULT_PORT[s] : Number(url.port),
    path: pieceOf(input, trimTrailingSlashes(normalisePath(url.pathname))),
  };
}

/**
 * `text` as a piece of `source` when source contains it. The parser's strings are slices of its href,
 * and V8 keeps a slice's whole parent alive; a pattern lives as long as its rule or stored entry, whose
 * own text (`source`) is alive anyway. A daemon holds a pattern per rule and entry: 15,000 hrefs, ~1 MB.
 */
function pieceOf(source: string, text: string): string {
  if (text.length < 13) return text; // V8 copies a substring this short instead of slicing
  const at = source.indexOf(text);
  return at < 0 ? text : source.slice(at, at + text.length);
}

/**
 * The URLs tools ask about nearly always look like this: http(s), a lower-case DNS name whose last
 * label starts with a letter (so WHATWG would not read it as an IPv4 number), no punycode, an optional
 * port, and a path of plain characters with no dot segment, escape, query or fragment. For those the
 * parser's answer is known without running it (it would change nothing), and a daemon answering
 * thousands of requests a second skips its cost. Everything else takes the full path below; a test
 * checks both agree (test/unit/url-fast-path.test.ts). The "*." label is for patterns (parsePlainPattern).
 */
const PLAIN_URL = /^(https?):\/\/(\*\.)?((?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*)(?::([0-9]{1,5}))?((?:\/[A-Za-z0-9._~!$&'()+,;=:@-]*)*)$/;

/** A URL of the plain shape, "*." label included (a pattern may have one, a request never): its parts as the full path would give them. */
function plainParts(input: string): { scheme: Scheme; wildcard: boolean; host: string; port: number; path: string } | undefined {
  const m = PLAIN_URL.exec(input);
  if (!m) return undefined;
  const host = m[3]!;
  const path = m[5]!;
  if (host.includes('xn--') || path.includes('/.')) return undefined;
  const scheme = m[1] as Scheme;
  let port = DEFAULT_PORT[scheme];
  if (m[4] !== undefined) {
    port = Number(m[4]);
    if (port < 1 || port > 65535) return undefined; // the full path says what is wrong with it
  }
  return { scheme, wildcard: m[2] !== undefined, host, port, path };
}

function parsePlainRequest(input: string): RequestTarget | undefined {
  const p = plainParts(input);
  if (!p || p.wildcard) return undefined;
  return { scheme: p.scheme, host: p.host, port: p.port, path: p.path === '/' ? '' : p.path };
}

function parseRequestUnguarded(input: string): RequestTarget {
  return parsePlainRequest(input) ?? parseRequestWithParser(input);
}

/** parseRequest without the fast path: exported for the test that holds the two to the same answers. */
export function parseRequestFully(url: string): RequestTarget {
  return guarded('URL', url, parseRequestWithParser);
}

function parseRequestWithParser(input: string): RequestTarget {
  const { scheme, rest } = locate(input, 'URL');
  strict('URL', input, rest);
  const auth = splitAuthority(rest);
  checkAuthority('URL', input, auth.host, auth.port);
  // A schemeless request is parsed as https to get WHATWG's host handling; its port is read back
  // below without the https default, because "host:443" and "host" are different questions.
  const url = whatwg('URL', input, `${scheme ?? 'https'}://${rest}`);
  const host = hostOf('URL', input, url);
  sameIpReading('URL', input, auth.host, host);
  // WHATWG accepts "*" in a host; a request naming one would be recorded as a wildcard rule by a store.
  if (host.includes('*')) fail('URL', input, 'has "*" in its host name; a request must name one host');

  let port: number | null;
  if (url.port !== '') port = Number(url.port);
  else if (scheme !== null) port = DEFAULT_PORT[scheme];
  // The parser drops a port equal to the https default, so a port we saw in the text was 443.
  else port = auth.port !== null && auth.port !== '' ? DEFAULT_PORT.https : null;

  const target: RequestTarget = { scheme, host, port, path: requestPath(url.pathname) };
  const username = usernameOf(url);
  if (username !== undefined) target.username = username;
  return target;
}

/** Runs a parser so that any string yields a result or a CredmuxError, never a stray TypeError. */
function guarded<T>(kind: Kind, input: unknown, parse: (s: string) => T): T {
  if (typeof input !== 'string') {
    throw new CredmuxError(
      'bad-url',
      `${kind === 'URL' ? 'the URL' : 'the pattern'} must be a string, got ${input === null ? 'null' : typeof input}`,
    );
  }
  try {
    return parse(trimEdges(kind, input));
  } catch (e) {
    if (e instanceof CredmuxError) throw e;
    throw new CredmuxError('bad-url', `${kind} ${quote(input)} could not be parsed; check it is scheme://host[:port][/path]`);
  }
}

/** Trims what WHATWG trims (C0 controls and spaces at the ends), and refuses controls elsewhere. */
function trimEdges(kind: Kind, input: string): string {
  let start = 0;
  let end = input.length;
  while (start < end && input.charCodeAt(start) <= 0x20) start++;
  while (end > start && input.charCodeAt(end - 1) <= 0x20) end--;
  const s = input.slice(start, end);
  if (s === '') fail(kind, input, 'is empty; give a host, e.g. https://example.com');
  if (CONTROL.test(s)) fail(kind, input, 'contains a control character (newline, tab, NUL…); remove it');
  return s;
}

interface Located {
  /** null when the input has no scheme (a bare host, host:port or host/path). */
  scheme: Scheme | null;
  /** The input from the authority on: the scheme and the slashes after it removed. */
  rest: string;
}

/** Splits off the scheme, telling "localhost:5000" (a host and port) from "javascript:…" (a scheme). */
function locate(input: string, kind: Kind): Located {
  const m = SCHEME_PREFIX.exec(input);
  if (m) {
    const name = m[1]!.toLowerCase();
    if (name === 'https' || name === 'http') {
      // Exactly "//": WHATWG skips any run of "/" and "\\" here, so `https:/host`, `https:///host` and
      // `https:\\host` all become https://host/ to it, while RFC 3986 reads no host, or a path.
      const i = m[0].length;
      if (input.slice(i, i + 2) !== '//' || input[i + 2] === '/' || input[i + 2] === '\\') {
        fail(
          kind,
          input,
          `must have exactly "//" after "${m[1]}:" (write ${name}://host[:port][/path]); a lenient parser would read it as another URL`,
        );
      }
      return { scheme: name, rest: input.slice(i + 2) };
    }
    const after = input.slice(m[0].length);
    // "host:5000" is a port. A dotted "scheme" not followed by "/" is a host with a bad port
    // ("registry.example.com:abc"), reported as such below. Anything else is a scheme we refuse.
    const hostPort = PORT_THEN_END.test(after) || (name.includes('.') && !after.startsWith('/') && !after.startsWith('\\'));
    if (!hostPort) {
      fail(
        kind,
        input,
        kind === 'URL'
          ? 'is not an https:// or http:// URL; credmux serves only those (or a bare host[:port]; a port must be a number)'
          : 'is not an https:// or http:// URL; write https://host[:port][/path] (http:// only for a plain-HTTP host)',
      );
    }
  }
  if (input.startsWith('/') || input.startsWith('\\')) fail(kind, input, 'has no host; write it as https://host[/path]');
  return { scheme: null, rest: input };
}

interface RawAuthority {
  hasUserinfo: boolean;
  /** The host as written, brackets included for IPv6. */
  host: string;
  /** The text after the host's ":", or null when there was no ":". */
  port: string | null;
  /** Index in `rest` where the authority ends (the path, query or fragment starts). */
  end: number;
}

/**
 * Finds userinfo, host and port in the raw text the way the WHATWG parser does for special schemes:
 * the authority ends at the first "/", "\", "?" or "#", and the host follows the last "@".
 * Used for checks and messages the parser cannot give; the host itself always comes from the parser.
 */
function splitAuthority(rest: string): RawAuthority {
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x5c /* \ */ || c === 0x3f /* ? */ || c === 0x23 /* # */) {
      end = i;
      break;
    }
  }
  const authority = rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  const hostPort = authority.slice(at + 1);
  let host = hostPort;
  let port: string | null = null;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close >= 0 && hostPort.charCodeAt(close + 1) === 0x3a /* : */) {
      host = hostPort.slice(0, close + 1);
      port = hostPort.slice(close + 2);
    }
  } else {
    const colon = hostPort.indexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
  }
  return { hasUserinfo: at >= 0, host, port, end };
}

/** ASCII that RFC 3986 allows nowhere unescaped (and Unicode spaces, which no URL holds either). */
const NEVER_IN_URL = /[\s"<>^`{|}]/;
/** A "%" that starts no %XX escape: RFC 3986 refuses it; WHATWG keeps it as it is. */
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
/** Full stops WHATWG's IDNA mapping turns into "." (a label separator no RFC 3987 reader sees). */
const IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/;

/**
 * RFC 3986 (with RFC 3987's Unicode in host and path, which WHATWG maps the same way) on the text
 * after "scheme://": what a lenient parser would repair into another URL is refused, never repaired.
 */
function strictProblem(rest: string): string | undefined {
  if (rest.includes('\\')) return 'contains a backslash; write the URL with forward slashes (parsers disagree about what "\\" means)';
  if (NEVER_IN_URL.test(rest)) return 'contains a character a URL cannot hold unescaped (a space, ", <, >, ^, `, {, | or }); percent-encode it';
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  // An IPv6 zone id ("%25eth0", or a bare "%eth0") is refused with its own words by checkAuthority.
  if (BAD_ESCAPE.test(authority.startsWith('[') ? rest.slice(authority.length) : rest))
    return 'has a "%" that starts no %XX escape; write "%25" for a literal "%"';
  const at = authority.indexOf('@');
  if (at !== authority.lastIndexOf('@')) return 'has more than one "@" before the host; percent-encode an "@" inside a username or password as %40';
  const hostPort = authority.slice(at + 1);
  if (authority.slice(0, at + 1).includes('[') || authority.slice(0, at + 1).includes(']'))
    return 'has "[" or "]" in its userinfo; percent-encode them';
  // An IPv6 address (its insides are checked by checkAuthority and the parser); brackets nowhere else.
  const close = hostPort.startsWith('[') ? hostPort.indexOf(']') : -1;
  const host = hostPort.startsWith('[') ? hostPort.slice(0, close + 1) : hostPort.replace(/:.*$/, '');
  if (
    close >= 0
      ? hostPort.slice(1, close).includes('[') || hostPort.slice(close + 1).search(/[[\]]/) >= 0
      : !hostPort.startsWith('[') && /[[\]]/.test(hostPort)
  ) {
    return 'has "[" or "]" outside an IPv6 address';
  }
  if (close >= 0 && hostPort.length > close + 1 && hostPort[close + 1] !== ':') return 'has something other than ":port" after an IPv6 address';
  if (IDEOGRAPHIC_DOTS.test(host)) return 'has a full stop other than "." in its host name; write the host with "."';
  if (end >= 0 && /[[\]]/.test(rest.slice(end))) return 'has "[" or "]" in its path, query or fragment; percent-encode them';
  return undefined;
}

function strict(kind: Kind, input: string, rest: string): void {
  const problem = strictProblem(rest);
  if (problem) fail(kind, input, problem);
}

/**
 * WHATWG reads a host whose last label is a number as an IPv4 address and rewrites it: `0x7f.1`,
 * `127.1`, `0177.0.0.1`, `127.0.0.1.` and `%31%32%37.0.0.1` all become 127.0.0.1, while RFC 3986
 * (and Python, Go, curl without its own repairs) read them as DNS names. Only the canonical dotted
 * form, written as such, is read the same by everyone.
 */
function sameIpReading(kind: Kind, input: string, rawHost: string, canonical: string): void {
  // Compared as written: an escape or a trailing dot makes it a DNS name to RFC 3986.
  if (IPV4.test(canonical) && rawHost !== canonical) {
    fail(kind, input, `has a host that only some parsers read as the IPv4 address ${canonical}; write it as ${canonical}`);
  }
}

/**
 * Checks the parser would only answer with "Invalid URL", so a person learns what to fix.
 * Never quotes the host or port on their own: in a malformed URL they may be half a password.
 */
function checkAuthority(kind: Kind, input: string, host: string, port: string | null): void {
  if (host === '') fail(kind, input, 'has no host; write it as https://host[:port][/path]');
  if (host.startsWith('[') && host.includes('%')) {
    fail(kind, input, 'has an IPv6 zone id (%25…), which cannot be matched; use the address without it');
  }
  if (port !== null && port !== '') {
    if (!DIGITS.test(port)) fail(kind, input, 'has a port that is not a number; write host:port with port 1-65535');
    const n = Number(port);
    if (n < 1 || n > 65535) fail(kind, input, 'has a port outside 1-65535');
  }
}

function whatwg(kind: Kind, input: string, href: string): URL {
  try {
    return new URL(href);
  } catch {
    return fail(kind, input, 'has an invalid host name (forbidden characters, a bad IPv6 or IPv4 address, or invalid punycode)');
  }
}

/** The parser's host (lower-cased, punycode, canonical IPs), without the trailing dot of an FQDN. */
/** What a host can be after the parser: RFC 3986 reg-name characters (lower case, punycode), or an IPv6 literal. */
const HOST_CHARS = /^(?:[a-z0-9\-._~!$&'()*+,;=]+|\[[0-9a-f:.]+\])$/;

function hostOf(kind: Kind, input: string, url: URL): string {
  let host = url.hostname;
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') fail(kind, input, 'has no host; write it as https://host[:port][/path]');
  // The parser allows empty labels; no resolver does, and "a..example.com" must not pass as a subdomain.
  if (host.startsWith('.') || host.endsWith('.') || host.includes('..')) {
    fail(kind, input, 'has an empty label in its host name (".." or a leading dot); remove the extra dot');
  }
  // WHATWG decodes escapes in a host and keeps characters RFC 3986's reg-name has no place for
  // ("https://%60" has host "`"): such a host could not be written back as a pattern this parser
  // accepts (found by the idempotence property in test/unit/url-match.test.ts), and names no real host.
  if (!HOST_CHARS.test(host)) fail(kind, input, 'has a character in its host name that no host name holds; check the host');
  return host;
}

function usernameOf(url: URL): string | undefined {
  if (url.username === '') return undefined;
  try {
    const decoded = decodeURIComponent(url.username);
    // A filter that decodes to control characters would only cause trouble downstream: keep it encoded.
    return CONTROL.test(decoded) ? url.username : decoded;
  } catch {
    return url.username; // a malformed escape: the parser's text is still a faithful filter
  }
}

// ---------------------------------------------------------------------------------------------
// Paths

function requestPath(pathname: string): string {
  return pathname === '/' ? '' : normalisePath(pathname);
}

/**
 * RFC 3986 normalisation on top of the parser's (which already resolved "." and ".." segments,
 * including "%2e" spellings): decode escaped unreserved characters, upper-case the other escapes,
 * escape a "%" that starts no escape.
 * A literal "*" becomes "%2A", so a stored path can never read as a glob when parsed as a pattern.
 * Decoding cannot create a dot segment: a segment made only of dots and "%2e" was resolved already.
 */
function normalisePath(pathname: string): string {
  let p = pathname;
  if (p.includes('%')) p = p.replace(PERCENT_ESCAPE, decodeUnreserved);
  if (p.includes('*')) p = p.replaceAll('*', '%2A');
  return p;
}

function decodeUnreserved(_escape: string, hex: string | undefined): string {
  // A lone "%" is written as the escape it stands for: left bare, decoding the escape after it could
  // make a new one ("%%330" → "%30"), and the canonical form would not parse back to itself.
  if (hex === undefined) return '%25';
  const c = parseInt(hex, 16);
  const unreserved =
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e; // - . _ ~
  return unreserved ? String.fromCharCode(c) : `%${hex.toUpperCase()}`;
}

function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return end === path.length ? path : path.slice(0, end);
}

function isIpLiteral(host: string): boolean {
  return host.startsWith('[') || IPV4.test(host);
}

// ---------------------------------------------------------------------------------------------
// Errors

function fail(kind: Kind, input: string, problem: string): never {
  throw new CredmuxError('bad-url', `${kind} ${quote(input)} ${problem}`);
}

/**
 * The input as it may appear in a message: userinfo (and with it any password) replaced by "***",
 * query and fragment (signed URLs carry tokens there) cut, length bounded, one line.
 * Redacts up to the LAST "@" anywhere: in a malformed URL we cannot know where a password ends,
 * and over-redacting a path that happens to contain "@" costs only some clarity.
 */
export function redactUrl(input: string): string {
  let s = input;
  let start = 0;
  const m = SCHEME_PREFIX.exec(s);
  if (m) {
    start = m[0].length;
    while (start < s.length && (s[start] === '/' || s[start] === '\\')) start++;
  }
  const at = s.lastIndexOf('@');
  if (at >= start) s = `${s.slice(0, start)}***${s.slice(at)}`;
  let cut = -1;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) {
      cut = i;
      break;
    }
  }
  if (cut >= 0) s = `${s.slice(0, cut)}?…`;
  if (s.length > QUOTE_LIMIT) s = `${s.slice(0, QUOTE_LIMIT)}…`;
  return s;
}

/** redactUrl, quoted for a message. */
function quote(input: string): string {
  return JSON.stringify(redactUrl(input));
}
