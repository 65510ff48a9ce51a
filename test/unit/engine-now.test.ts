// Engine.handleNow, the daemon's answer without a promise: the engine as the daemon opens it (file
// store, config file, real sources, a real token server). Whenever it answers, it gives what handle()
// gives; it declines exactly when an answer needs waiting for; and what another process changes in
// the config or the store is seen by the next event-loop turn's requests.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../src/model/rule.js';
import { openEngine, type OpenedEngine } from '../../src/engine/open.js';
import { dataDir, type Env } from '../../src/platform/paths.js';
import type { EngineRequest } from '../../src/model/types.js';
import type { CallerEnv } from '../../src/sources/env-names.js';
import { FileStore } from '../../src/store/file.js';
import { encode, PROTOCOL_VERSION } from '../../src/ipc/codec.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';

let srv: TokenServer;
const roots: string[] = [];
beforeAll(async () => {
  srv = await startTokenServer();
  srv.ttl = 3600;
});
afterAll(() => srv.close());
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

const TOKENS = 'https://tokens.example';

function writeConfig(env: Env, rules: RuleConfig[]): void {
  const dir = join(env.HOME!, '.config', 'credmux');
  mkdirSync(dir, { recursive: true });
  // As an editor saves: a new file renamed into place.
  writeFileSync(join(dir, 'config.tmp'), JSON.stringify({ rules }));
  renameSync(join(dir, 'config.tmp'), join(dir, 'config.json'));
}

function rules(): RuleConfig[] {
  return [
    { id: 'ci', match: 'https://ci.example', source: { type: 'env', var: 'CI_TOKEN' } },
    { id: 'wild', match: '*.wild.example', username: 'oauth2accesstoken', source: { type: 'env', var: 'CI_TOKEN' } },
    {
      id: 'pyx',
      match: TOKENS,
      source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { stored: TOKENS }, allowInsecureHttp: true },
    },
  ];
}

/** A daemon's engine over a fresh HOME: the rules above, and a few stored credentials written by "another process". */
async function setUp(): Promise<{ engine: OpenedEngine; env: Env; other: FileStore }> {
  const root = mkdtempSync(join(tmpdir(), 'cmx-now-'));
  roots.push(root);
  const env: Env = { HOME: root, CREDMUX_STORE: 'file', PATH: process.env.PATH };
  writeConfig(env, rules());
  const other = new FileStore(dataDir(env));
  await other.put({ url: 'https://git.example', username: 'alice', kind: 'basic', secret: 'alice-pw-0123456789' });
  await other.put({ url: 'https://git.example', username: 'bob', kind: 'basic', secret: 'bob-pw-0123456789' });
  await other.put({ url: 'https://registry.example:5000', username: 'ci', kind: 'basic', secret: 'reg-pw-0123456789' });
  await other.put({ url: TOKENS, username: 'api-key', kind: 'bearer', secret: srv.apiKey });
  return { engine: await openEngine(env), env, other };
}

const CALLER: CallerEnv = { CI_TOKEN: 'ci-token-0123456789' };

/** Every kind of get the daemon sees, with the caller's variables as a client sends them. */
const GETS: [EngineRequest, CallerEnv][] = [
  [{ op: 'get', url: 'https://git.example/org/repo.git' }, CALLER],
  [{ op: 'get', url: 'https://git.example/org/repo.git', username: 'bob' }, CALLER],
  [{ op: 'get', url: 'https://git.example/x', username: 'carol' }, CALLER],
  [{ op: 'get', url: '127.0.0.1:5000' }, CALLER],
  [{ op: 'get', url: 'registry.example:5000' }, CALLER],
  [{ op: 'get', url: 'https://ci.example/a/b' }, CALLER],
  [{ op: 'get', url: 'https://ci.example/a/b' }, { CI_TOKEN: null }],
  [{ op: 'get', url: 'https://ci.example/a/b' }, {}],
  [{ op: 'get', url: 'https://deep.a.wild.example/v2/' }, CALLER],
  [{ op: 'get', url: 'https://wild.example/v2/', username: 'someone-else' }, CALLER],
  [{ op: 'get', url: 'https://nothing.example/' }, CALLER],
  [{ op: 'get', url: 'ftp://git.example/' }, CALLER],
  [{ op: 'get', url: `${TOKENS}/simple/pkg/` }, CALLER],
];

describe('Engine.handleNow', () => {
  it('answers exactly as handle() does whenever it answers, and only gets', async () => {
    const { engine } = await setUp();
    await engine.handle({ op: 'get', url: `${TOKENS}/simple/` }, CALLER); // reads the store, mints the token
    await nextTurn();
    let answered = 0;
    for (const [req, caller] of GETS) {
      const now = engine.handleNow(req, caller);
      const later = await engine.handle(req, caller);
      if (now !== undefined) {
        answered++;
        expect(now, JSON.stringify(req)).toEqual(later);
      }
    }
    expect(answered).toBe(GETS.length); // everything was in memory
    expect(engine.handleNow({ op: 'list' }, CALLER)).toBeUndefined();
    expect(engine.handleNow({ op: 'erase', url: 'https://git.example' }, CALLER)).toBeUndefined();
  });

  it('declines what needs waiting for: a store not read yet, a token not minted yet', async () => {
    const { engine } = await setUp();
    const git: EngineRequest = { op: 'get', url: 'https://git.example/' };
    const pyx: EngineRequest = { op: 'get', url: `${TOKENS}/simple/` };
    expect(engine.handleNow(git, CALLER)).toBeUndefined();
    await engine.handle(git, CALLER);
    await nextTurn();
    expect(engine.handleNow(git, CALLER)).toMatchObject({ credential: { secret: 'alice-pw-0123456789' } });
    const minted = srv.count(ROUTES.pyx);
    expect(engine.handleNow(pyx, CALLER)).toBeUndefined();
    expect(srv.count(ROUTES.pyx)).toBe(minted); // declining mints nothing
    const token = await engine.handle(pyx, CALLER);
    expect(srv.count(ROUTES.pyx)).toBe(minted + 1);
    expect(engine.handleNow(pyx, CALLER)).toEqual(token);
  });

  it('sees a store or config written by another process from the next turn on', async () => {
    const { engine, env, other } = await setUp();
    const git: EngineRequest = { op: 'get', url: 'https://git.example/' };
    await engine.handle(git, CALLER);
    await nextTurn();
    expect(engine.handleNow(git, CALLER)).toMatchObject({ credential: { username: 'alice', secret: 'alice-pw-0123456789' } });

    await other.put({
      url: 'https://git.example',
      username: 'alice',
      kind: 'basic',
      secret: 'alice-NEW-pw-0123',
      updatedAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await nextTurn();
    expect(engine.handleNow(git, CALLER)).toBeUndefined(); // the store changed: handle() reads it
    expect(await engine.handle(git, CALLER)).toMatchObject({ credential: { secret: 'alice-NEW-pw-0123' } });
    await nextTurn();
    expect(engine.handleNow(git, CALLER)).toMatchObject({ credential: { secret: 'alice-NEW-pw-0123' } });

    writeConfig(env, [{ id: 'git-env', match: 'https://git.example', source: { type: 'env', var: 'CI_TOKEN' } }]);
    await nextTurn();
    expect(engine.handleNow(git, CALLER)).toMatchObject({ credential: { secret: CALLER.CI_TOKEN }, rule: { id: 'config:git-env' } });
    expect(engine.envNames()).toEqual(['CI_TOKEN']);
  });

  it('a new API key stored by another process (a re-login) is not answered from the old token', async () => {
    const { engine, other } = await setUp();
    const pyx: EngineRequest = { op: 'get', url: `${TOKENS}/simple/` };
    const first = await engine.handle(pyx, CALLER);
    // Another store change that leaves the key alone: the token still answers at once.
    await other.put({ url: 'https://unrelated.example', username: 'x', kind: 'basic', secret: 'unrelated-0123456789' });
    await engine.handle({ op: 'get', url: 'https://unrelated.example/' }, CALLER);
    await nextTurn();
    expect(engine.handleNow(pyx, CALLER)).toEqual(first);

    await other.put({ url: TOKENS, username: 'api-key', kind: 'bearer', secret: srv.apiKey, updatedAt: new Date(Date.now() + 60_000).toISOString() });
    await engine.handle({ op: 'get', url: 'https://unrelated.example/' }, CALLER); // the daemon has read the new store
    await nextTurn();
    expect(engine.handleNow(pyx, CALLER)).toBeUndefined();
    const second = await engine.handle(pyx, CALLER);
    expect(second).not.toEqual(first);
    await nextTurn();
    expect(engine.handleNow(pyx, CALLER)).toEqual(second);
  });

  it('gives one frozen answer per stored entry and per cached token, which the daemon serializes once', async () => {
    const { engine, other } = await setUp();
    const git: EngineRequest = { op: 'get', url: 'https://git.example/org/repo.git' };
    const pyx: EngineRequest = { op: 'get', url: `${TOKENS}/simple/pkg/` };
    await engine.handle(git, CALLER);
    await engine.handle(pyx, CALLER);
    await nextTurn();
    for (const req of [git, pyx]) {
      const first = engine.handleNow(req, CALLER)!;
      expect(engine.handleNow(req, CALLER)).toBe(first);
      expect(await engine.handle(req, CALLER)).toBe(first);
      expect(Object.isFrozen(first)).toBe(true);
      const { credential, rule } = first as { credential: object; rule: object };
      expect(Object.isFrozen(credential) && Object.isFrozen(rule)).toBe(true);
      // What a shared answer encodes to is exactly JSON.stringify's text, for any id.
      for (const id of [0, 7, 123456]) {
        const msg = { v: PROTOCOL_VERSION, id, res: first };
        expect(encode(msg)).toBe(`${JSON.stringify(msg)}\n`);
      }
    }
    // Kept flat (codec.ts, flatCopy): any text survives, non-ASCII and lone surrogates included.
    for (const secret of ['pässwörd-€-😀', 'lone-\ud800-surrogate', '"quoted"\\\n']) {
      const res = Object.freeze({
        op: 'get' as const,
        credential: Object.freeze({ kind: 'basic' as const, username: 'ü', secret }),
        rule: Object.freeze({ id: 'r', match: 'https://x', source: 'stored' }),
      });
      const msg = { v: PROTOCOL_VERSION, id: 9, res };
      expect(encode(msg)).toBe(`${JSON.stringify(msg)}\n`);
      expect(encode(msg)).toBe(`${JSON.stringify(msg)}\n`); // and from the kept copy
    }
    // An env rule's credential is made per request: a fresh, ordinary answer each time.
    const ci: EngineRequest = { op: 'get', url: 'https://ci.example/a' };
    const a = engine.handleNow(ci, CALLER)!;
    expect(engine.handleNow(ci, CALLER)).not.toBe(a);
    expect(Object.isFrozen(a)).toBe(false);
    expect(engine.handleNow(ci, { CI_TOKEN: 'another-caller-token-01' })).toMatchObject({ credential: { secret: 'another-caller-token-01' } });

    // A changed entry is a new answer, with the new secret in its text.
    const before = engine.handleNow(git, CALLER)!;
    await other.put({
      url: 'https://git.example',
      username: 'alice',
      kind: 'basic',
      secret: 'alice-NEW-pw-0123',
      updatedAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await engine.handle(git, CALLER);
    await nextTurn();
    const after = engine.handleNow(git, CALLER)!;
    expect(after).not.toBe(before);
    expect(encode({ v: PROTOCOL_VERSION, id: 1, res: after })).toContain('alice-NEW-pw-0123');
  });
});
