// Wildcards over public suffixes (issue 15, class 7): `*.co.uk` or `*.github.io` would send one
// credential to every unrelated owner registered under the suffix. Refused as invalid config and by
// `credmux login`, from the Public Suffix List as the maintained tldts package ships it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRules } from '../../src/engine/config.js';
import { createEngine } from '../../src/engine/engine.js';
import { isPublicSuffix } from '../../src/engine/public-suffix.js';
import { CredmuxError } from '../../src/model/types.js';
import { MemoryStore } from '../../src/store/memory.js';

const rule = (match: string) => ({ rules: [{ id: 'r', match, source: { type: 'env' as const, var: 'X' } }] });

const SUFFIXES = [
  '*.co.uk',
  '*.github.io',
  '*.s3.amazonaws.com',
  '*.pvt.k12.ma.us',
  '*.blogspot.com',
  '*.xn--55qx5d.cn',
  '*.公司.cn',
  'https://*.herokuapp.com',
  '*.CO.UK.',
  '*.co.uk:8443/x',
];
const REGISTRABLE = [
  '*.example.co.uk',
  '*.example.com',
  '*.acme.github.io',
  '*.corp.internal',
  '*.wild.example',
  '*.pkg.dev',
  '*.bucket.s3.amazonaws.com',
];

describe('wildcards over public suffixes', () => {
  it.each(SUFFIXES)('%s is refused as invalid config, naming the suffix and the fix', (match) => {
    let err: unknown;
    try {
      compileRules(rule(match) as never, '/cfg/config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CredmuxError);
    expect((err as CredmuxError).code).toBe('config');
    expect((err as CredmuxError).message).toMatch(
      /^\/cfg\/config\.json: \/rules\/0\/match: pattern .* puts a wildcard on \S+, a public suffix .*; name your own domain, e\.g\. \*\.example\./,
    );
  });

  it.each(REGISTRABLE)('%s (a registrable domain under a suffix) is accepted', (match) => {
    expect(compileRules(rule(match) as never)).toHaveLength(1);
  });

  it('an exact host that is a public suffix is no wildcard and stays allowed (github.io serves its own site)', () => {
    expect(compileRules(rule('https://github.io') as never)).toHaveLength(1);
    expect(isPublicSuffix('github.io')).toBe(true);
    expect(isPublicSuffix('acme.github.io')).toBe(false);
  });

  it('credmux login of a wildcard over a public suffix is refused, and nothing is stored', async () => {
    const store = new MemoryStore([]);
    const engine = createEngine({ store });
    for (const url of ['*.co.uk', '*.github.io']) {
      const r = await engine.handle({ op: 'store', url, credential: { kind: 'basic', username: 'u', secret: 'pw-0123456789' } });
      expect(r).toMatchObject({ op: 'error', error: { code: 'bad-url', message: expect.stringContaining('a public suffix') } });
    }
    expect(await store.list()).toEqual([]);
    expect(
      await engine.handle({ op: 'store', url: '*.example.co.uk', credential: { kind: 'basic', username: 'u', secret: 'pw-0123456789' } }),
    ).toEqual({ op: 'store', stored: true });
  });

  it('tldts is bundled only into dist/lib/public-suffix.cjs: never into a helper, the engine, the daemon or the CLI', () => {
    const inputs = JSON.parse(readFileSync(join(import.meta.dirname, '../../dist/inputs.json'), 'utf8')) as Record<string, string[]>;
    const holders = Object.entries(inputs)
      .filter(([, files]) => files.some((f) => f.includes('node_modules/tldts')))
      .map(([bundle]) => bundle);
    expect(holders).toEqual(['lib/public-suffix.cjs']);
  });
});
