// Strict URLs (issue 15, class 5): credmux accepts only what RFC 3986 accepts (plus the documented
// bare host[:port] forms), and for everything it accepts, RFC 3986's reading and the WHATWG parser's
// reading agree on scheme, host, port and path: no URL means one host to credmux and another to a
// client that parses by the RFC (Python's urllib, Go's net/url, Java's URI).
import { domainToASCII } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePattern, parseRequest, parseRequestFully } from '../../src/model/url.js';
import { CredmuxError } from '../../src/model/types.js';

// ---------------------------------------------------------------------------------------------
// An RFC 3986 reader written from the RFC, independent of src/model/url.ts

/** Appendix B. */
const SPLIT = /^(([^:/?#]+):)?(\/\/([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** §6.2.2.1–2: escapes of unreserved characters decoded, other escapes upper-cased; Unicode (RFC 3987 §3.1) as UTF-8 escapes. */
function normaliseEscapes(s: string): string {
  let out = '';
  for (let i = 0; i < s.length;) {
    if (s[i] === '%') {
      const c = String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      out += UNRESERVED.test(c) ? c : `%${s.slice(i + 1, i + 3).toUpperCase()}`;
      i += 3;
    } else {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      out += cp > 0x7e ? [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('') : ch;
      i += ch.length;
    }
  }
  return out;
}

/** §5.2.4 remove_dot_segments. */
function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  while (input !== '') {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
    } else if (input === '/..') {
      input = '/';
      output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', 1);
      const seg = next < 0 ? input : input.slice(0, next);
      output += seg;
      input = input.slice(seg.length);
    }
  }
  return output;
}

/** RFC 5952's text of an IPv6 address (lower case, no leading zeros, the longest run of zero groups as "::"). */
function ipv6Text(bracketed: string): string {
  const inner = bracketed.slice(1, -1).toLowerCase();
  const [head, tail] = inner.includes('::') ? inner.split('::') : [inner, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = [...h, ...Array(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16).toString(16));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
  }
  if (best.at < 0) return `[${groups.join(':')}]`;
  return `[${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}]`;
}

interface Reading {
  scheme: string;
  host: string;
  port: number;
  path: string;
}

/** RFC 3986's reading of an absolute http(s) URL, normalised as §6.2.2 says (host lower-cased; IDN to ASCII as RFC 3987 §3.1 maps it). */
function rfcReading(url: string): Reading {
  const m = SPLIT.exec(url)!;
  const scheme = m[2]!.toLowerCase();
  const authority = m[4]!;
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const portAt = hostPort.startsWith('[') ? hostPort.indexOf(':', hostPort.indexOf(']')) : hostPort.indexOf(':');
  const rawHost = portAt < 0 ? hostPort : hostPort.slice(0, portAt);
  const portText = portAt < 0 ? '' : hostPort.slice(portAt + 1);
  let host = decodeURIComponent(rawHost).toLowerCase();
  host = host.startsWith('[') ? ipv6Text(host) : domainToASCII(host) || host;
  if (host.endsWith('.')) host = host.slice(0, -1);
  const dflt = scheme === 'https' ? 443 : 80;
  // Dot segments: "%2e" is "." once escapes of unreserved characters are decoded (§6.2.2.2, then §6.2.2.3).
  const path = removeDotSegments(normaliseEscapes(m[5]!)) || '/';
  return { scheme, host, port: portText === '' ? dflt : Number(portText), path };
}

/** The WHATWG parser's reading, normalised the same way. */
function whatwgReading(url: string): Reading {
  const u = new URL(url);
  const scheme = u.protocol.replace(/:$/, '');
  let host = u.hostname;
  if (host.endsWith('.')) host = host.slice(0, -1);
  return { scheme, host, port: u.port === '' ? (scheme === 'https' ? 443 : 80) : Number(u.port), path: normaliseEscapes(u.pathname) };
}

/** credmux's own reading (what the engine matches on). */
function credmuxReading(url: string): Reading {
  const t = parseRequest(url);
  const scheme = t.scheme ?? 'https';
  return { scheme, host: t.host, port: t.port ?? (scheme === 'https' ? 443 : 80), path: t.path === '' ? '/' : t.path.replaceAll('%2A', '*') };
}

// ---------------------------------------------------------------------------------------------
// Inputs: URL-shaped text with every ingredient a lenient parser repairs

const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
/** Mostly ordinary parts, often a strange one: both sides of the strict line get visited. */
const mostly = <T>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: usual }, { weight: 1, arbitrary: odd });
const schemePart = mostly(pick('https://', 'http://', 'HTTPS://', ''), pick('https:/', 'https:///', 'https:', 'https:\\\\', 'https:/\\', 'ftp://'));
const userinfo = mostly(pick('', 'alice@', 'alice:pw@', 'a%40b@', ':@', 'ü@'), pick('a@b@', 'x\\@', 'a[1]@'));
const label = mostly(
  pick('example', 'a', 'EXAMPLE', 'xn--bcher-kva', 'bücher', 'ex%61mple', '127', '1', '255', 'ｅｘ', 'é'),
  pick('0x7f', '01', '256', '%31', 'a b', 'a\\b', '*', '', 'a｡b', 'a．b', '%2e', '%'),
);
const host = fc.oneof(
  { weight: 4, arbitrary: fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.')) },
  { weight: 1, arbitrary: fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => `${ls.join('.')}.`) },
  {
    weight: 1,
    arbitrary: pick(
      '[::1]',
      '[0:0::1]',
      '[2001:DB8::0:1]',
      '[fe80::1%25eth0]',
      '[::1',
      'a]b',
      '[v1.x]',
      '127.0.0.1',
      '127.1',
      '10.0.0.256',
      '1.2.3.04',
    ),
  },
);
const port = mostly(pick('', ':443', ':80', ':8080', ':'), pick(':0', ':65536', ':8o8', ':1:2'));
const segment = mostly(
  pick('a', 'simple', '.', '..', '%2e', '%2E%2e', '.%2e', '%2f', '%41', '@', ':', 'é', '~u', '*', '', "a!$&'()+,;=b"),
  pick('%zz', '%', 'a b', 'a\\b', 'a|b', '[x]', 'a^b', 'a{b}'),
);
const path = fc.array(segment, { maxLength: 5 }).map((ss) => ss.map((s) => `/${s}`).join(''));
const tail = mostly(pick('', '?q=1', '?a/../b', '#f', '?a=b&c=d#x'), pick('#a#b', '?x\\y', '?%', '#[x]'));
const urlText = fc.tuple(schemePart, userinfo, host, port, path, tail).map((parts) => parts.join(''));

function accepted(url: string): boolean {
  try {
    parseRequest(url);
    return true;
  } catch (e) {
    if (!(e instanceof CredmuxError) || e.code !== 'bad-url') throw e;
    return false;
  }
}

describe('strict URLs: RFC 3986 and WHATWG agree on everything credmux accepts', () => {
  it('property: for every accepted URL, the RFC 3986 reading, the WHATWG reading and credmux agree on scheme, host, port and path', () => {
    let acceptedCount = 0;
    fc.assert(
      fc.property(urlText, (url) => {
        if (!accepted(url)) return;
        acceptedCount++;
        // A schemeless request (Docker's host:port) is read as https, as credmux records it.
        const absolute = /^https?:\/\//i.test(url) ? url : `https://${url}`;
        const rfc = rfcReading(absolute);
        expect(whatwgReading(absolute), url).toEqual(rfc);
        expect(credmuxReading(url), url).toEqual(rfc);
        // The fast path for plain URLs reads them the same as the full parser.
        expect(parseRequest(url)).toEqual(parseRequestFully(url));
      }),
      { numRuns: 20_000 },
    );
    // The generator must reach the accepting side often, or the property proves nothing.
    expect(acceptedCount).toBeGreaterThan(1_000);
  });

  it('refuses, in every spelling, what WHATWG repairs into https://host/', () => {
    for (const url of [
      'https:///victim.example.com',
      'https:/victim.example.com',
      'https:victim.example.com',
      'https:\\\\victim.example.com',
      'https:\\/victim.example.com',
      'https://\\victim.example.com',
      'https:////victim.example.com/x',
      'https://evil.example.net\\@victim.example.com/',
      'https://victim.example.com\\simple',
      'https://a@evil.example.net@victim.example.com/',
      'http://0x7f.1:8080/',
      'http://127.1/',
      'https://victim.example.com/a b',
    ]) {
      expect(accepted(url), url).toBe(false);
      expect(() => new URL(url), `${url}: WHATWG repairs it (that is the point)`).not.toThrow();
    }
  });

  it('patterns are held to the same rules', () => {
    for (const pattern of [
      'https:///victim.example.com',
      'https:/victim.example.com',
      'https://a@b@victim.example.com',
      'http://127.1',
      'https://h/%zz',
    ]) {
      expect(() => parsePattern(pattern), pattern).toThrow(CredmuxError);
    }
  });

  it('the documented forms still parse: bare host[:port][/path], IPv6, IDN, escapes, dot segments', () => {
    expect(parseRequest('registry.example.com:5000')).toMatchObject({ scheme: null, host: 'registry.example.com', port: 5000 });
    expect(parseRequest('127.0.0.1:5000/v2/')).toMatchObject({ scheme: null, host: '127.0.0.1', port: 5000, path: '/v2/' });
    expect(parseRequest('https://[::1]:8443/x')).toMatchObject({ host: '[::1]', port: 8443 });
    expect(parseRequest('https://bücher.example/')).toMatchObject({ host: 'xn--bcher-kva.example' });
    expect(parseRequest('https://h.example/a%20b/%7Eu/../c')).toMatchObject({ path: '/a%20b/c' });
  });
});
