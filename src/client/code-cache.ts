// Compiling our bundles from V8's code cache instead of from source (src/lib/boot.ts says why).
//
// The cache is only an accelerator, and it is made per Node: V8 accepts a cache only from its own
// version and flags. The build makes one for the Node that built it; a helper run by another Node
// (an upgrade, a version manager, CI's other Nodes) finds none for itself, or one V8 rejects, and
// compiles from source — then, as it exits, saves a cache of what it compiled, so the next call is
// fast again. Beside the bundle when this user may write there, else in the user's cache directory
// (created 0700; one owned by someone else, or writable by others, is never read: a code cache is code).
//
// Node's own compile cache (module.enableCompileCache, Node >= 22.1) was measured against this one on
// Node 22, 24 and 26 (hyperfine, a warm git get): it caches only what compiles while a module loads,
// not the functions a call runs later, and was no faster than no cache (35.5 vs 36.1 ms on 22, 37.4
// vs 37.7 on 24, 36.1 vs 35.7 on 26) where this cache was 32.9, 36.5 and 34.4 ms.
import { accessSync, constants as fsConstants, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { constants, Script, type ScriptOptions } from 'node:vm';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { cacheDir, type Env } from '../platform/paths.js';

/** `credmux` loads the human CLI (ESM) with import(): a vm script needs to be told how. */
const IMPORTS: ScriptOptions = { importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER };

/** The CommonJS module wrapper, as Node's own loader applies it (a leading #! line becomes a comment, as there). */
function wrap(source: string): string {
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  return `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
}

/** Which Node a cache is for: V8 refuses a cache from any other version. */
export function nodeKey(): string {
  return `${process.version}-${process.arch}`;
}

/** The build's cache (or one this user wrote) beside the bundle. */
export function cachePathOf(bundle: string): string {
  return `${bundle}.${nodeKey()}.cache`;
}

/**
 * The user's own cache of a bundle. V8 checks a cache against the source's length only, so the
 * name carries the bundle file's identity (inode, size, mtime): another install, or a rebuilt
 * bundle, never reads a cache made from different code.
 */
export function userCachePathOf(bundle: string, env: Env = process.env): string | undefined {
  try {
    const st = statSync(bundle);
    return join(cacheDir(env), 'code-cache', `${basename(bundle)}-${st.ino}-${st.size}-${Math.trunc(st.mtimeMs)}.${nodeKey()}.cache`);
  } catch {
    return undefined;
  }
}

/** A directory only this user can write: owned by us, no write bit for group or others, not a link. */
function privateDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function readCache(bundle: string, env: Env): Buffer | undefined {
  try {
    return readFileSync(cachePathOf(bundle));
  } catch {
    // none beside the bundle for this Node: perhaps one of the user's own
  }
  const own = userCachePathOf(bundle, env);
  if (!own || !privateDir(dirname(own))) return undefined;
  try {
    return readFileSync(own);
  } catch {
    return undefined;
  }
}

export type CacheState = 'accepted' | 'missing' | 'rejected';

/** Compiles a bundle, with this Node's code cache when there is one. */
export function compileBundle(bundle: string, env: Env = process.env): { script: Script; cache: CacheState } {
  return compileWith(bundle, readCache(bundle, env));
}

/** Compiles a bundle with the cache given (none: from source), and says what V8 made of it. */
export function compileWith(bundle: string, cachedData: Buffer | undefined): { script: Script; cache: CacheState } {
  const script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData, ...IMPORTS });
  const cache: CacheState = cachedData === undefined ? 'missing' : script.cachedDataRejected === true ? 'rejected' : 'accepted';
  return { script, cache };
}

/** Where a fresh cache goes: beside the bundle when this user may write there, else the user's cache dir. */
export function writableCachePath(bundle: string, env: Env = process.env): string | undefined {
  try {
    accessSync(dirname(bundle), fsConstants.W_OK);
    return cachePathOf(bundle);
  } catch {
    // a shared install (root's npm prefix): the user's own cache
  }
  const own = userCachePathOf(bundle, env);
  if (!own) return undefined;
  try {
    mkdirSync(dirname(own), { recursive: true, mode: 0o700 });
  } catch {
    return undefined;
  }
  return privateDir(dirname(own)) ? own : undefined;
}

/**
 * Runs a CommonJS bundle compiled from its cache and returns its exports. `req` resolves the
 * bundle's own requires: node builtins and absolute paths, which any CommonJS require does alike.
 * With no cache V8 accepted, one is saved as the process exits: the functions this call compiled.
 */
export function runBundle(bundle: string, req: NodeJS.Require, env: Env = process.env): unknown {
  const { script, cache } = compileBundle(bundle, env);
  if (cache !== 'accepted') saveCacheOnExit(bundle, script, env);
  return runScript(script, bundle, req);
}

/** As the process exits: a cache of what `script` compiled by then, where this user may keep one. */
export function saveCacheOnExit(bundle: string, script: Script, env: Env = process.env): void {
  process.once('exit', () => {
    const path = writableCachePath(bundle, env);
    if (!path) return;
    try {
      // No fsync: a cache lost in a crash is made again by the next call.
      writeFileAtomicSync(path, script.createCachedData(), { mode: 0o644, durable: 'none', tmp: `${path}.${process.pid}.tmp` });
    } catch {
      // a full disk, a directory that went away: the next call tries again
    }
  });
}

/** Runs a compiled bundle as a CommonJS module and returns its exports. */
export function runScript(script: Script, bundle: string, req: NodeJS.Require): unknown {
  const module = { exports: {} as unknown };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, req, module, bundle, dirname(bundle));
  return module.exports;
}

/**
 * Build step: compiles every function of the bundle now (V8 otherwise compiles each on first call,
 * and a cache holds only what was compiled) and writes the cache. `lazy` is set back before the
 * cache is made, so the cache carries the flags a helper runs with and V8 accepts it there.
 * `filename`: the path the bundle will run from (stack traces name it).
 */
export function makeCodeCache(bundle: string, filename = bundle): number {
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  setFlagsFromString('--no-lazy');
  let script: Script;
  try {
    script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename, ...IMPORTS });
  } finally {
    setFlagsFromString('--lazy');
  }
  const data = script.createCachedData();
  writeFileSync(cachePathOf(bundle), data);
  return data.length;
}
