// Every config example in the README and docs/config.md is a valid config: documentation that a
// user copies must not be the first thing the schema rejects.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/engine/config.js';

const doc = ['README.md', 'docs/config.md'].map((f) => readFileSync(join(import.meta.dirname, '../..', f), 'utf8')).join('\n');
const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README and docs/config.md config examples', () => {
  it('has a config example for every token source', () => {
    const types = new Set(examples.flatMap((e) => (JSON.parse(e) as { rules: { source: { type: string } }[] }).rules.map((r) => r.source.type)));
    expect([...types].sort()).toEqual(['aws', 'azure', 'command', 'env', 'exchange', 'github-app', 'google', 'netrc', 'oauth2', 'oidc', 'vault']);
  });

  it.each(examples.map((e, i) => [i, e]))('example %i passes the schema and the semantic checks', (_i, text) => {
    expect(() => parseConfig(text, 'docs example')).not.toThrow();
  });
});
