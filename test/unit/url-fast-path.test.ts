// parseRequest and parsePattern answer plain URLs without running the WHATWG parser (url.ts, PLAIN_URL
// and plainParts, which both share). This holds
// the shortcut to the full path's answers — results and errors alike — over URLs built to sit on
// both sides of every condition the shortcut checks.
import { describe, expect, it } from 'vitest';
import { formatPattern, parsePattern, parsePatternFully, parseRequest, parseRequestFully } from '../../src/model/url.js';

const schemes = ['https', 'http', 'HTTPS', 'Http', 'ftp', ''];
const hosts = [
  'example.com',
  'registry-1.docker.io',
  'a.b.c.d.example.org',
  'localhost',
  'EXAMPLE.com',
  'xn--bcher-kva.example',
  '127.0.0.1',
  '127.1',
  '0x7f.1',
  'host.123',
  'host.9a',
  'a..b',
  '.example.com',
  'example.com.',
  '-lead.example',
  'trail-.example',
  'ex_ample.com',
  'ex%61mple.com',
  'ünï.example',
  '[::1]',
  'user@example.com',
  'u:p@example.com',
  'a'.repeat(70) + '.example',
];
const ports = ['', ':443', ':80', ':0', ':8080', ':65535', ':65536', ':00443', ':99999', ':', ':abc'];
const paths = [
  '',
  '/',
  '/simple/',
  '/simple/pkg/',
  '/v2/',
  '/a/./b',
  '/a/../b',
  '/.well-known/x',
  '/a.b/c',
  '/a%2Fb',
  '/%7euser',
  '/x?q=1',
  '/x#f',
  '/sp ace',
  '/a*b',
  "/it's",
  '/a:b@c',
  '/~user/repo.git',
  '/a\\b',
  '//double',
  '/trail//',
];

function outcome(fn: (u: string) => unknown, u: string): unknown {
  try {
    return { ok: fn(u) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('parseRequest fast path', () => {
  it('agrees with the full parser on every URL of the grid', () => {
    let compared = 0;
    for (const scheme of schemes) {
      for (const host of hosts) {
        for (const port of ports) {
          for (const path of paths) {
            const url = `${scheme ? `${scheme}://` : ''}${host}${port}${path}`;
            expect(outcome(parseRequest, url), url).toEqual(outcome(parseRequestFully, url));
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(schemes.length * hosts.length * ports.length * paths.length);
  });

  it('takes the shortcut for the common shape and still normalises it the same way', () => {
    expect(parseRequest('https://registry.example.com/v2/')).toEqual({ scheme: 'https', host: 'registry.example.com', port: 443, path: '/v2/' });
    expect(parseRequest('http://localhost:8080')).toEqual({ scheme: 'http', host: 'localhost', port: 8080, path: '' });
    expect(parseRequest('https://h.example:443/')).toEqual({ scheme: 'https', host: 'h.example', port: 443, path: '' });
    // The "*." label the shared shape allows is a pattern's: a request with one takes the full path.
    for (const u of ['https://*.example.com/', '*.example.com']) expect(outcome(parseRequest, u), u).toEqual(outcome(parseRequestFully, u));
  });
});

describe('parsePattern fast path', () => {
  it('agrees with the full parser on every pattern of the grid, wildcard or not', () => {
    let compared = 0;
    for (const scheme of schemes) {
      for (const wildcard of ['', '*.']) {
        for (const host of [...hosts, 'com', 'single']) {
          for (const port of ports) {
            for (const path of paths) {
              const pattern = `${scheme ? `${scheme}://` : ''}${wildcard}${host}${port}${path}`;
              expect(outcome(parsePattern, pattern), pattern).toEqual(outcome(parsePatternFully, pattern));
              compared++;
            }
          }
        }
      }
    }
    expect(compared).toBe(schemes.length * 2 * (hosts.length + 2) * ports.length * paths.length);
  });

  it('takes the shortcut for the shape the daemon hands back (formatPattern), with the same answer', () => {
    for (const p of ['https://*.example.com/simple', 'http://localhost:8080', 'https://registry.example.com/v2/a//b/']) {
      const parsed = parsePattern(p);
      expect(parsed).toEqual(parsePatternFully(p));
      expect(parsePattern(formatPattern(parsed))).toEqual(parsed);
    }
    expect(parsePattern('https://h.example:443/a/')).toEqual({ scheme: 'https', host: 'h.example', wildcard: false, port: 443, path: '/a' });
  });
});
