// What a stored entry may say it is for: names of tools a newer credmux knows are kept, not refused
// (a downgrade must not read the whole store as damaged); anything that is not a tool name is refused.
import { describe, expect, it } from 'vitest';
import { checkEntry } from '../../src/store/entry.js';

const base = { url: 'https://a.example', username: 'u', kind: 'basic', secret: 's', updatedAt: '2026-12-06T00:00:00Z' };

describe('stored entry: protocols', () => {
  it('keeps a tool name this version does not know, beside the ones it does', () => {
    const r = checkEntry({ ...base, protocols: ['git', 'some-future-door'] }, 'entries[0]');
    expect(r).toEqual({ entry: { ...base, protocols: ['git', 'some-future-door'] } });
  });

  it.each([[[]], [['git', 'git']], [['Git']], [['a b']], [[7]], ['git'], [['x'.repeat(40)]]])('refuses %j, naming the field only', (protocols) => {
    const r = checkEntry({ ...base, protocols }, 'entries[0]');
    expect(r).toEqual({ problem: expect.stringMatching(/^entries\[0\]\.protocols must be a non-empty list of tool names/) });
  });
});
