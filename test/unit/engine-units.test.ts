// The engine's caches, one unit each (src/engine/engine.ts composes them): the candidate index
// (candidates.ts), the callers' merged environments (caller-envs.ts) and the answers kept (hits.ts).
import { describe, expect, it, vi } from 'vitest';
import { CallerEnvs } from '../../src/engine/caller-envs.js';
import { Candidates, choose, isStored } from '../../src/engine/candidates.js';
import { compileRules } from '../../src/engine/config.js';
import { Hits } from '../../src/engine/hits.js';
import type { StoredEntry } from '../../src/model/types.js';
import { parseRequest } from '../../src/model/url.js';

const rules = compileRules({
  rules: [
    { id: 'env', match: 'https://env.example.com', source: { type: 'env', var: 'TOK' } },
    { id: 'alice-only', match: 'https://*.example.org', username: 'alice', source: { type: 'env', var: 'A' } },
  ],
});
const entry = (url: string, username: string, updatedAt: string): StoredEntry => ({ url, username, kind: 'basic', secret: 's', updatedAt });

describe('Candidates: the index of rules and stored entries', () => {
  it('is rebuilt only when the rules or the stored list is a new array, and tells when the rules changed', () => {
    const rulesChanged = vi.fn();
    const c = new Candidates({ hidden: () => new Set(), rulesChanged });
    const stored = [entry('https://a.example.com', 'u', '2024-01-01T00:00:00Z')];
    const first = c.indexFor(rules, stored);
    expect(c.indexFor(rules, stored)).toBe(first);
    expect(rulesChanged).toHaveBeenCalledTimes(1);
    const second = c.indexFor(rules, [...stored]);
    expect(second).not.toBe(first);
    expect(rulesChanged).toHaveBeenCalledTimes(1); // same rules, new stored list
    c.indexFor([...rules], stored);
    expect(rulesChanged).toHaveBeenCalledTimes(2);
    expect(c.rules).not.toBe(rules);
  });

  it('leaves out hidden inputs and unparsable URLs; the newest login for a pattern comes first', () => {
    const older = entry('https://a.example.com', 'old', '2024-01-01T00:00:00Z');
    const newer = entry('https://a.example.com', 'new', '2025-01-01T00:00:00Z');
    const input = entry('https://a.example.com', 'apikey', '2026-01-01T00:00:00Z');
    const bad = entry('not a url', 'x', '2026-01-01T00:00:00Z');
    const c = new Candidates({ hidden: () => new Set([input]) });
    const found = c.indexFor(rules, [older, input, bad, newer]).candidatesFor(parseRequest('https://a.example.com/x'));
    expect(found.filter(isStored).map((s) => s.entry.username)).toEqual(['new', 'old']);
    expect(choose(found, parseRequest('https://a.example.com/x'))).toMatchObject({ entry: { username: 'new' } });
  });

  it('choose() treats the request username as a filter', () => {
    const c = new Candidates({ hidden: () => new Set() });
    const target = parseRequest('https://x.example.org/');
    const found = c.indexFor(rules, []).candidatesFor(target);
    expect(choose(found, target)).toMatchObject({ id: 'alice-only' });
    expect(choose(found, { ...target, username: 'alice' })).toMatchObject({ id: 'alice-only' });
    expect(choose(found, { ...target, username: 'bob' })).toBeUndefined();
  });
});

describe('CallerEnvs: the environment a source reads for a caller', () => {
  const rule = rules[0]!; // reads TOK

  it('is the base environment without a caller, and the caller’s values over it with one', () => {
    const envs = new CallerEnvs({ HOME: '/h', TOK: 'daemon' });
    expect(envs.for(rule, undefined)).toEqual({ HOME: '/h', TOK: 'daemon' });
    expect(envs.for(rule, { TOK: 'caller' })).toEqual({ HOME: '/h', TOK: 'caller' });
    expect(envs.for(rule, { TOK: null })).toEqual({ HOME: '/h' });
  });

  it('hands back the same frozen object for the same values, and drops them all past its limit', () => {
    const envs = new CallerEnvs({}, 2);
    const a = envs.for(rule, { TOK: 'a' });
    expect(Object.isFrozen(a)).toBe(true);
    expect(envs.for(rule, { TOK: 'a' })).toBe(a);
    envs.for(rule, { TOK: 'b' });
    envs.for(rule, { TOK: 'c' }); // the third: the two kept are dropped
    expect(envs.for(rule, { TOK: 'a' })).not.toBe(a);
  });

  it('refuses a caller that did not send a variable the rule reads', () => {
    expect(() => new CallerEnvs({ TOK: 'daemon' }).for(rule, { OTHER: 'x' })).toThrow(/did not carry \$TOK/);
  });
});

describe('Hits: the answers kept', () => {
  const target = parseRequest('https://env.example.com/');

  it('one frozen answer per stored entry', () => {
    const hits = new Hits();
    const e = entry('https://a.example.com', 'u', '2024-01-01T00:00:00Z');
    const h = hits.fromStored(e);
    expect(Object.isFrozen(h) && Object.isFrozen(h.credential)).toBe(true);
    expect(h.rule).toEqual({ id: 'stored:https://a.example.com#u', match: 'https://a.example.com', source: 'stored' });
    expect(hits.fromStored(e)).toBe(h);
  });

  it('a cached token is answered with the same object while it is the same credential; a fresh one is not kept', () => {
    const hits = new Hits();
    const rule = rules[0]!;
    const token = { kind: 'bearer' as const, username: '', secret: 't' };
    const h = hits.fromRule(rule, target, token, true);
    expect(hits.fromRule(rule, target, token, true)).toBe(h);
    const made = { kind: 'bearer' as const, username: '', secret: 'm' };
    expect(hits.fromRule(rule, target, made, false)).not.toBe(hits.fromRule(rule, target, made, false));
    expect(hits.fromRule(rule, target, null, false)).toBeNull();
  });

  it('a basic credential for another user than asked is no answer', () => {
    const hits = new Hits();
    const cred = { kind: 'basic' as const, username: 'alice', secret: 'p' };
    expect(hits.fromRule(rules[0]!, { ...target, username: 'bob' }, cred, false)).toBeNull();
    expect(hits.fromRule(rules[0]!, { ...target, username: 'alice' }, cred, false)).toMatchObject({ credential: cred });
  });
});
