// The behaviour every SecretStore promises, run against each implementation. A factory returns a
// fresh, empty store per test.
import { afterEach, describe, expect, it } from 'vitest';
import { CredmuxError, type StoredEntry } from '../../src/model/types.js';
import type { SecretStore } from '../../src/store/types.js';

export type StoreFactory = () => Promise<{ store: SecretStore; cleanup?: () => Promise<void> | void }>;

export const basic = (url: string, username: string, secret: string, extra: Partial<StoredEntry> = {}): StoredEntry => ({
  url,
  username,
  kind: 'basic',
  secret,
  ...extra,
});

const byKey = (a: StoredEntry, b: StoredEntry): number => (a.url + '\0' + a.username < b.url + '\0' + b.username ? -1 : 1);

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`SecretStore contract: ${name}`, () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    const open = async (): Promise<SecretStore> => {
      const { store, cleanup } = await factory();
      if (cleanup) cleanups.push(cleanup);
      return store;
    };
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('starts empty', async () => {
      const s = await open();
      expect(await s.list()).toEqual([]);
      expect(await s.get({ url: 'https://a.example', username: 'u' })).toBeUndefined();
    });

    it('returns what was put, every field intact', async () => {
      const s = await open();
      const full: StoredEntry = {
        url: 'https://pkgs.example.com/simple',
        username: '__token__',
        kind: 'bearer',
        secret: 'tok-ÄÖ-"quoted"-\\-\n-end',
        expiresAt: 1893456000,
        oauthRefreshToken: 'refresh-123',
        updatedAt: '2030-01-01T00:00:00.000Z',
      };
      const minimal = basic('http://127.0.0.1:8080', 'alice', 'pw');
      await s.put(full);
      await s.put(minimal);
      expect(await s.get({ url: full.url, username: full.username })).toEqual(full);
      expect(await s.get({ url: minimal.url, username: minimal.username })).toEqual(minimal);
      expect((await s.list()).sort(byKey)).toEqual([full, minimal].sort(byKey));
    });

    it('keeps which protocols an entry was stored for, as a copy', async () => {
      const s = await open();
      const forDocker: StoredEntry = { ...basic('https://r.example', 'u', 'pw'), updatedAt: '2030-01-01T00:00:00.000Z', protocols: ['docker'] };
      const forTwo: StoredEntry = { ...basic('https://g.example', 'u', 'pw'), protocols: ['git', 'keyring'] };
      await s.put(forDocker);
      await s.put(forTwo);
      forTwo.protocols!.push('bazel');
      expect(await s.get({ url: forDocker.url, username: 'u' })).toEqual(forDocker);
      const got = (await s.get({ url: forTwo.url, username: 'u' }))!;
      expect(got.protocols).toEqual(['git', 'keyring']);
      got.protocols!.push('docker');
      expect((await s.get({ url: forTwo.url, username: 'u' }))!.protocols).toEqual(['git', 'keyring']);
      await expect(s.put({ ...basic('https://x.example', 'u', 'pw'), protocols: ['pip' as never] })).rejects.toThrow(/protocols/);
    });

    it('keys by (url, username): same pair replaces, another username or url coexists', async () => {
      const s = await open();
      await s.put(basic('https://a.example', 'alice', 'one'));
      await s.put(basic('https://a.example', 'bob', 'two'));
      await s.put(basic('https://b.example', 'alice', 'three'));
      await s.put(basic('https://a.example', 'alice', 'replaced', { kind: 'bearer' }));
      const all = await s.list();
      expect(all).toHaveLength(3);
      expect(await s.get({ url: 'https://a.example', username: 'alice' })).toEqual(
        basic('https://a.example', 'alice', 'replaced', { kind: 'bearer' }),
      );
      expect((await s.get({ url: 'https://a.example', username: 'bob' }))?.secret).toBe('two');
      expect((await s.get({ url: 'https://b.example', username: 'alice' }))?.secret).toBe('three');
    });

    it('keeps usernames and urls with awkward characters distinct', async () => {
      const s = await open();
      const odd = [
        basic('https://a.example', '', 'empty-user'),
        basic('https://a.example', 'x@y', 'at-sign'),
        basic('https://a.example', 'x%40y', 'percent'),
        basic('https://a.example/p@th', 'x', 'at-in-url'),
        basic('https://a.example', 'ünï cödé', 'unicode'),
        basic('https://a.example', '<token>', 'docker-identity'),
      ];
      for (const e of odd) await s.put(e);
      expect(await s.list()).toHaveLength(odd.length);
      for (const e of odd) expect(await s.get({ url: e.url, username: e.username })).toEqual(e);
    });

    it('removes exactly what the predicate selects and says how many', async () => {
      const s = await open();
      await s.put(basic('https://a.example', 'alice', '1'));
      await s.put(basic('https://a.example', 'bob', '2'));
      await s.put(basic('https://b.example', 'alice', '3'));
      expect(await s.remove((e) => e.url === 'https://a.example')).toBe(2);
      expect(await s.list()).toEqual([basic('https://b.example', 'alice', '3')]);
      expect(await s.remove((e) => e.url === 'https://nothing.example')).toBe(0);
      expect(await s.list()).toHaveLength(1);
    });

    it('changes version() on every put and remove', async () => {
      const s = await open();
      const v0 = await s.version();
      await s.put(basic('https://a.example', 'alice', '1'));
      const v1 = await s.version();
      expect(v1).not.toBe(v0);
      await s.put(basic('https://a.example', 'alice', '2'));
      const v2 = await s.version();
      expect(v2).not.toBe(v1);
      await s.remove(() => true);
      expect(await s.version()).not.toBe(v2);
    });

    it('hands out copies: mutating a result changes nothing stored', async () => {
      const s = await open();
      const e = basic('https://a.example', 'alice', 'pw');
      await s.put(e);
      e.secret = 'mutated-after-put';
      const got = (await s.get({ url: e.url, username: e.username }))!;
      expect(got.secret).toBe('pw');
      got.secret = 'mutated-after-get';
      (await s.list())[0]!.secret = 'mutated-after-list';
      expect((await s.get({ url: e.url, username: e.username }))?.secret).toBe('pw');
    });

    it('loses nothing when many puts run at once', async () => {
      const s = await open();
      const n = 15;
      await Promise.all(Array.from({ length: n }, (_, i) => s.put(basic(`https://h${i}.example`, 'u', `s${i}`))));
      const all = await s.list();
      expect(all).toHaveLength(n);
      for (let i = 0; i < n; i++) expect((await s.get({ url: `https://h${i}.example`, username: 'u' }))?.secret).toBe(`s${i}`);
    });

    it('refuses a malformed entry without storing it or echoing its secret', async () => {
      const s = await open();
      const bad = { url: '', username: 'u', kind: 'basic', secret: 'do-not-echo-me' } as StoredEntry;
      const err = await s.put(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CredmuxError);
      expect(String((err as Error).message)).toMatch(/url/);
      expect(String((err as Error).message)).not.toContain('do-not-echo-me');
      await expect(s.put({ ...basic('https://a.example', 'u', 'x'), kind: 'digest' } as unknown as StoredEntry)).rejects.toThrow(/kind/);
      expect(await s.list()).toEqual([]);
    });

    it('a write whose guard throws changes nothing; the guard is asked only when something would change', async () => {
      const s = await open();
      await s.put(basic('https://g.example', 'alice', 'one'));
      let asked = 0;
      const late = () => {
        asked++;
        throw new CredmuxError('expired', 'the deadline passed');
      };
      expect((await rejectionOf(s.put(basic('https://g.example', 'alice', 'two'), { guard: late }))).code).toBe('expired');
      expect((await rejectionOf(s.remove(() => true, { guard: late }))).code).toBe('expired');
      expect(asked).toBe(2);
      expect(await s.list()).toEqual([basic('https://g.example', 'alice', 'one')]);
      expect(await s.remove(() => false, { guard: late })).toBe(0); // nothing to remove: no write to guard
      expect(asked).toBe(2);
      let passed = 0;
      expect(await s.remove(() => true, { guard: () => void passed++ })).toBe(1);
      expect(passed).toBe(1);
      expect(await s.list()).toEqual([]);
    });

    it('stores only the known fields', async () => {
      const s = await open();
      await s.put({ ...basic('https://a.example', 'u', 'x'), extra: 'ignored' } as StoredEntry);
      expect(await s.get({ url: 'https://a.example', username: 'u' })).toEqual(basic('https://a.example', 'u', 'x'));
    });
  });
}

/** The CredmuxError a promise rejects with; fails the test when it resolves or rejects otherwise. */
export async function rejectionOf(p: Promise<unknown>): Promise<CredmuxError> {
  const outcome = await p.then(
    (value: unknown) => ({ resolved: value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error('expected a rejection, but the promise resolved');
  expect(outcome.error).toBeInstanceOf(CredmuxError);
  return outcome.error as CredmuxError;
}
