// Reads a GOAUTH command's output the way the go command does (golang/go
// src/cmd/go/internal/auth/userauth.go, parseUserAuth; grammar in `go help goauth`), so the
// conformance runner holds credmux-go's answers to what Go would accept, not to a string we chose.
// Written from the grammar and that function's behaviour; shared by the runner and the unit test.

export interface GoCredentialSet {
  urls: string[];
  headers: Record<string, string[]>;
}

/** RFC 9110 token characters: Go's validHeaderFieldName (golang.org/x/net/http/httpguts). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** httpguts.ValidHeaderFieldValue: no control characters other than horizontal tab. */
const BAD_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** The credential sets Go reads from `out`, or the reason it refuses the whole output. */
export function parseGoAuthOutput(out: string): { ok: true; sets: GoCredentialSet[] } | { ok: false; error: string } {
  const sets: GoCredentialSet[] = [];
  let data = out;
  const cut = (): string | undefined => {
    const nl = data.indexOf('\n');
    if (nl < 0) return undefined;
    const line = data.slice(0, nl);
    data = data.slice(nl + 1);
    return line;
  };
  while (data !== '') {
    const urls: string[] = [];
    for (;;) {
      const line = cut();
      if (line === undefined) return { ok: false, error: 'invalid format: missing empty line after URLs' };
      if (line === '') break;
      // url.ParseRequestURI: an absolute URL (or an absolute path) with no fragment.
      try {
        new URL(line);
      } catch {
        return { ok: false, error: `could not parse URL ${line}` };
      }
      if (line.includes('#') || /\s/.test(line)) return { ok: false, error: `could not parse URL ${line}` };
      urls.push(line);
    }
    const headers: Record<string, string[]> = {};
    for (;;) {
      const line = cut();
      if (line === undefined) return { ok: false, error: 'invalid format: missing empty line after headers' };
      if (line === '') break;
      const sep = line.indexOf(': ');
      if (sep < 0) return { ok: false, error: 'invalid format: invalid header line' };
      const name = line.slice(0, sep);
      const value = line.slice(sep + 2).trim();
      if (!TOKEN.test(name) || BAD_VALUE.test(value)) return { ok: false, error: 'invalid format: invalid header line' };
      (headers[name] ??= []).push(value);
    }
    sets.push({ urls, headers });
  }
  return { ok: true, sets };
}

/**
 * Go's cache key for a prefix line (storeCredential: `https://` and one trailing `/` trimmed) and its
 * lookup for a request URL (loadCredential: host + escaped path, then each parent path): the headers a
 * request to `url` gets from these sets, later sets overriding earlier ones for the same prefix.
 */
export function goHeadersFor(sets: readonly GoCredentialSet[], url: string): Record<string, string[]> | undefined {
  const cache = new Map<string, Record<string, string[]>>();
  for (const s of sets) for (const p of s.urls) cache.set(p.replace(/^https:\/\//, '').replace(/\/$/, ''), s.headers);
  const u = new URL(url);
  // Go's u.Host keeps the port as written; WHATWG drops a default one, so read it from the text.
  const authority = url.replace(/^https:\/\//i, '').split(/[/?#]/)[0]!;
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  let prefix = (host + u.pathname).replace(/\/$/, '');
  for (;;) {
    const h = cache.get(prefix);
    if (h) return h;
    const slash = prefix.lastIndexOf('/');
    if (slash < 0) return undefined;
    prefix = prefix.slice(0, slash);
  }
}
