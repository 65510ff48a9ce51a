// resolveStoredRef answers from an index it builds once per list of entries (the daemon asks it for
// thousands of token rules per second). It must pick exactly the entry the plain rule picks: the one
// stored for that pattern, newest first, else the most specific stored entry that would answer the URL.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredRef } from '../../src/model/rule.js';
import { selectMostSpecific } from '../../src/model/match.js';
import type { StoredEntry } from '../../src/model/types.js';
import { formatPattern, parsePattern, parseRequest, type Pattern } from '../../src/model/url.js';
import { resolveStoredRef } from '../../src/sources/secret-ref.js';
import { REFRESH_TOKEN_USERNAME } from '../../src/sources/types.js';

/** The rule, written out plainly: a full sort and scan per call. */
function reference(entries: readonly StoredEntry[], ref: StoredRef): StoredEntry | undefined {
  const sorted = [...entries].sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? ''));
  const userOk = (e: StoredEntry) => (ref.username === undefined ? e.username !== REFRESH_TOKEN_USERNAME : e.username === ref.username);
  let exact: string;
  try {
    exact = formatPattern(parsePattern(ref.stored));
  } catch {
    return undefined;
  }
  const hit = sorted.find((e) => e.url === exact && userOk(e));
  if (hit) return hit;
  let target;
  try {
    target = parseRequest(ref.stored);
  } catch {
    return undefined;
  }
  const withPattern: { e: StoredEntry; p: Pattern }[] = [];
  for (const e of sorted) {
    if (!userOk(e)) continue;
    try {
      withPattern.push({ e, p: parsePattern(e.url) });
    } catch {
      // answers nothing
    }
  }
  return selectMostSpecific(withPattern, (x) => x.p, target)?.e;
}

const URLS = [
  'https://api.example.com',
  'https://api.example.com/simple',
  'https://api.example.com:8443',
  'https://*.example.com',
  'https://example.com',
  'http://api.example.com',
  'https://other.example.org/x/y',
  'https://bad host',
];
const USERS = ['alice', 'bob', '', REFRESH_TOKEN_USERNAME];

const entry = fc
  .record(
    {
      url: fc.constantFrom(...URLS),
      username: fc.constantFrom(...USERS),
      secret: fc.string(),
      updatedAt: fc.constantFrom('2026-01-01T00:00:00.000Z', '2026-06-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'),
    },
    { requiredKeys: ['url', 'username', 'secret'] },
  )
  .map((e): StoredEntry => ({ kind: 'bearer', ...e }));

const ref = fc.record(
  {
    stored: fc.constantFrom(...URLS, 'https://api.example.com/simple/pkg/', 'https://x.example.com', 'api.example.com'),
    username: fc.constantFrom(...USERS),
  },
  { requiredKeys: ['stored'] },
);

describe('resolveStoredRef', () => {
  it('picks exactly the entry a full sort and scan picks, on a first and a repeated call', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), fc.array(ref, { minLength: 1, maxLength: 6 }), (entries, refs) => {
        for (const r of refs) {
          const want = reference(entries, r);
          expect(resolveStoredRef(entries, r)).toBe(want);
          expect(resolveStoredRef(entries, r)).toBe(want);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('answers from a new list once the store hands one out (a login in between)', () => {
    const r: StoredRef = { stored: 'https://api.example.com' };
    const before: StoredEntry[] = [
      { url: 'https://api.example.com', username: 'k', kind: 'bearer', secret: 'old', updatedAt: '2026-01-01T00:00:00.000Z' },
    ];
    expect(resolveStoredRef(before, r)?.secret).toBe('old');
    const after = [
      ...before,
      { url: 'https://api.example.com', username: 'k2', kind: 'bearer', secret: 'new', updatedAt: '2026-02-01T00:00:00.000Z' } as StoredEntry,
    ];
    expect(resolveStoredRef(after, r)?.secret).toBe('new');
    expect(resolveStoredRef(before, r)?.secret).toBe('old');
  });
});
