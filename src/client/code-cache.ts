// Compiling our bundles from V8's code cache instead of from source (src/lib/boot.ts says why).
//
// The cache is only an accelerator. V8 checks it against its own version and flags and rejects one
// that does not fit (another Node, other V8 options): the bundle then compiles from source as it
// would without a cache. The build writes a bundle and its cache together, so they always match.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { constants, Script, type ScriptOptions } from 'node:vm';

/** `credmux` loads the human CLI (ESM) with import(): a vm script needs to be told how. */
const IMPORTS: ScriptOptions = { importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER };

/** The CommonJS module wrapper, as Node's own loader applies it (a leading #! line becomes a comment, as there). */
function wrap(source: string): string {
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  return `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
}

export function cachePathOf(bundle: string): string {
  return `${bundle}.cache`;
}

/** Compiles a bundle, with its code cache when there is one; `rejected` says V8 refused the cache. */
export function compileBundle(bundle: string): { script: Script; hadCache: boolean; rejected: boolean } {
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cachePathOf(bundle));
  } catch {
    // no cache (a build without one, or a bundle run from elsewhere): compile from source
  }
  const script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData, ...IMPORTS });
  return { script, hadCache: cachedData !== undefined, rejected: script.cachedDataRejected === true };
}

/**
 * Runs a CommonJS bundle compiled from its cache and returns its exports. `req` resolves the
 * bundle's own requires: node builtins and absolute paths, which any CommonJS require does alike.
 */
export function runBundle(bundle: string, req: NodeJS.Require): unknown {
  const { script } = compileBundle(bundle);
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
