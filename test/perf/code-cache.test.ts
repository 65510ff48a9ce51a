// Which code cache a helper uses, and what it does when there is none for the Node that runs it (an
// upgrade, a version manager): compile from source, save a cache as it exits, and use that one next
// time. A cache in a directory another user could write is never read. Real processes through
// dist/lib/boot.cjs, as the launchers start a helper.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachePathOf, compileBundle, userCachePathOf, writableCachePath } from '../../src/client/code-cache.js';
import { ENTRIES } from '../helpers/dist.js';

const root = join(import.meta.dirname, '../..');
const top = mkdtempSync(join(tmpdir(), 'credmux-code-cache-'));
chmodSync(top, 0o755); // another user (below) must reach its own directories inside
afterAll(() => rmSync(top, { recursive: true, force: true }));
// A copy of the launchers' boot.cjs and the fallback it loads beside it, where that other user can read them.
const boot = join(top, 'boot.cjs');
copyFileSync(join(root, 'dist/lib/boot.cjs'), boot);
copyFileSync(join(root, 'dist/lib/code-cache-fallback.cjs'), join(top, 'code-cache-fallback.cjs'));
let n = 0;

/** A bundle in a fresh directory: prints what it was given, and does enough to compile a few functions. */
function bundle(text = 'hello'): { file: string; home: string } {
  const dir = join(top, `b${n++}`);
  mkdirSync(join(dir, 'home'), { recursive: true });
  const file = join(dir, 'lib', 'entry.cjs');
  mkdirSync(dirname(file));
  writeFileSync(
    file,
    `function shout(s) { return s.toUpperCase(); }\nprocess.stdout.write(shout(${JSON.stringify(text)}) + ':' + process.argv.slice(2).join(',') + '\\n');\n`,
  );
  return { file, home: join(dir, 'home') };
}

function runThroughBoot(file: string, home: string, args: string[] = [], uid?: number) {
  const r = spawnSync(process.execPath, [boot, file, ...args], {
    env: { PATH: process.env.PATH, HOME: home },
    encoding: 'utf8',
    uid,
    gid: uid === undefined ? undefined : uid,
  });
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('a bundle with no cache for this Node', () => {
  it('runs from source, saves a cache beside itself as it exits, and the next run uses it', () => {
    const { file, home } = bundle();
    expect(compileBundle(file, { HOME: home }).cache).toBe('missing');
    expect(runThroughBoot(file, home, ['a', 'b'])).toBe('HELLO:a,b\n');
    expect(existsSync(cachePathOf(file))).toBe(true);
    expect(compileBundle(file, { HOME: home }).cache).toBe('accepted');
    expect(runThroughBoot(file, home, ['c'])).toBe('HELLO:c\n');
  });

  it('one V8 rejects (made by another Node, or garbage) is replaced by one it accepts', () => {
    const { file, home } = bundle();
    writeFileSync(cachePathOf(file), Buffer.alloc(4096, 7));
    expect(compileBundle(file, { HOME: home }).cache).toBe('rejected');
    expect(runThroughBoot(file, home)).toBe('HELLO:\n');
    expect(compileBundle(file, { HOME: home }).cache).toBe('accepted');
  });

  it('with a cache beside the bundle that V8 accepts, boot.cjs loads nothing more (the fallback is for the rest)', () => {
    const { file, home } = bundle();
    const loaded = () => {
      const out = join(dirname(file), `loaded-${n++}.json`);
      const r = spawnSync(process.execPath, ['-r', join(root, 'test/perf/record-loaded.cjs'), boot, file], {
        env: { PATH: process.env.PATH, HOME: home, RECORD_LOADED_OUT: out },
        encoding: 'utf8',
      });
      expect(r.stdout).toBe('HELLO:\n');
      return (JSON.parse(readFileSync(out, 'utf8')) as { files: string[] }).files.map((f) => f.split('/').pop());
    };
    // No cache yet: the fallback compiles from source and saves one ...
    expect(loaded()).toContain('code-cache-fallback.cjs');
    // ... which the next call takes without it.
    expect(loaded()).not.toContain('code-cache-fallback.cjs');
    writeFileSync(cachePathOf(file), Buffer.alloc(4096, 7));
    expect(loaded()).toContain('code-cache-fallback.cjs'); // a rejected one is replaced through it
    expect(loaded()).not.toContain('code-cache-fallback.cjs');
  });

  it("a cache made from other source of the same length is not used: the user cache's name follows the bundle file", () => {
    const a = bundle('aaaaa');
    runThroughBoot(a.file, a.home);
    const b = bundle('bbbbb');
    // Both bundles are the same length; the build's name for a cache (beside the bundle) is per bundle file anyway.
    expect(userCachePathOf(a.file, { HOME: a.home })).not.toBe(userCachePathOf(b.file, { HOME: a.home }));
  });
});

describe("a bundle this user may not write beside (a shared install): the user's own cache", () => {
  // As root (CI) the directory's mode binds no one, so the run is another user's; otherwise this user's, on a read-only directory.
  const asRoot = process.getuid?.() === 0;
  const nobody = 65534;

  it('is written under $XDG_CACHE_HOME/credmux/code-cache, 0700, and used next time', () => {
    const { file, home } = bundle();
    chmodSync(dirname(file), 0o555);
    if (asRoot) chownSync(home, nobody, nobody);
    expect(runThroughBoot(file, home, [], asRoot ? nobody : undefined)).toBe('HELLO:\n');
    expect(existsSync(cachePathOf(file))).toBe(false);
    const own = userCachePathOf(file, { HOME: home })!;
    expect(existsSync(own)).toBe(true);
    expect(statSync(dirname(own)).mode & 0o777).toBe(0o700);
    if (!asRoot) expect(compileBundle(file, { HOME: home }).cache).toBe('accepted');
    // and the next run (as that user) finds it: nothing is rewritten
    const before = statSync(own).mtimeMs;
    expect(runThroughBoot(file, home, [], asRoot ? nobody : undefined)).toBe('HELLO:\n');
    expect(statSync(own).mtimeMs).toBe(before);
  });

  it('is neither read nor written where others may write, or where another user owns it', () => {
    const { file, home } = bundle();
    // A valid cache, planted where the user cache would be, in a directory anyone may write.
    runThroughBoot(file, home);
    const good = readFileSync(cachePathOf(file));
    rmSync(cachePathOf(file));
    const own = userCachePathOf(file, { HOME: home })!;
    mkdirSync(dirname(own), { recursive: true });
    writeFileSync(own, good);
    chmodSync(dirname(own), 0o777);
    expect(compileBundle(file, { HOME: home }).cache).toBe('missing');
    chmodSync(dirname(own), 0o700);
    expect(compileBundle(file, { HOME: home }).cache).toBe('accepted');
    if (asRoot) {
      chownSync(dirname(own), nobody, nobody);
      expect(compileBundle(file, { HOME: home }).cache).toBe('missing');
    }
    chmodSync(dirname(own), 0o777);
    chmodSync(dirname(file), 0o555);
    if (!asRoot) expect(writableCachePath(file, { HOME: home })).toBeUndefined();
  });
});

describe('the built helpers', () => {
  // Every protocol entry (not `credmux`, whose CLI is ESM) and the in-process engine.
  it.each([...ENTRIES.filter((e) => e !== 'credmux'), 'engine'])('%s has a cache made for this Node, which it accepts', (name) => {
    const file = join(root, 'dist/lib', `${name}.cjs`);
    expect(cachePathOf(file)).toContain(`${process.version}-${process.arch}`);
    expect(compileBundle(file).cache).toBe('accepted');
  });

  // The build trains each entry's cache on a warm answer (scripts/warm-calls.mjs): it holds what that
  // answer ran, well short of a cache of every function, which the build falls back to when training fails.
  it.each(ENTRIES.filter((e) => e !== 'credmux'))('%s has a cache trained on a warm answer, not one of every function', (name) => {
    const file = join(root, 'dist/lib', `${name}.cjs`);
    const copy = join(top, `whole-${name}.cjs`);
    copyFileSync(file, copy);
    const whole = spawnSync(process.execPath, [boot, '--make-code-cache', copy], { encoding: 'utf8' });
    expect(whole.status, whole.stderr).toBe(0);
    expect(statSync(cachePathOf(file)).size).toBeLessThan(0.8 * statSync(cachePathOf(copy)).size);
  });
});
