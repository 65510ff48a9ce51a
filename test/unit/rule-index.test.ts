// The index must never hide a rule the matcher would pick: compared with a full scan on generated data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { selectMostSpecific } from '../../src/model/match.js';
import { RuleIndex } from '../../src/model/rule-index.js';
import { parsePattern, parseRequest, type Pattern } from '../../src/model/url.js';

const label = fc.constantFrom('a', 'b', 'example', 'evil', 'com', 'net', 'x1');
const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
const pattern = fc
  .record({
    scheme: fc.constantFrom('https://', 'http://'),
    wild: fc.boolean(),
    host,
    port: fc.constantFrom('', ':8080'),
    path: fc.constantFrom('', '/simple', '/a/b'),
  })
  .map((r) => `${r.scheme}${r.wild && r.host.includes('.') && r.host.split('.').length > 2 ? '*.' : ''}${r.host}${r.port}${r.path}`);
const request = fc
  .record({
    scheme: fc.constantFrom('https://', 'http://', ''),
    host,
    port: fc.constantFrom('', ':8080'),
    path: fc.constantFrom('', '/simple/x', '/a/b/c', '/other'),
  })
  .map((r) => `${r.scheme}${r.host}${r.port}${r.path}`);

describe('RuleIndex', () => {
  it('selects exactly what a full scan selects', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 30 }), request, (patterns, url) => {
        const items = patterns.map((p, i) => ({ i, p: parsePattern(p) }));
        const target = parseRequest(url);
        const byScan = selectMostSpecific(items, (x) => x.p, target);
        const byIndex = selectMostSpecific(new RuleIndex(items, (x: { p: Pattern }) => x.p).candidatesFor(target), (x) => x.p, target);
        expect(byIndex?.i).toBe(byScan?.i);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the original order among candidates, so ties still go to the earliest', () => {
    const items = ['https://*.example.com', 'https://a.example.com', 'https://*.a.example.com', 'https://a.example.com'].map((m) => parsePattern(m));
    expect(new RuleIndex(items, (p) => p).candidatesFor(parseRequest('https://a.example.com/x'))).toEqual(items);
  });
});
