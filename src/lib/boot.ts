// dist/lib/boot.cjs: how the launchers (dist/bin/*) start a helper bundle — compiled from V8's code
// cache instead of from source.
//
// Why: a warm helper answer is Node's startup plus a few milliseconds of our own JavaScript, and
// much of those milliseconds is V8 compiling each function the first time it runs. The build
// (scripts/build.mjs) compiles every function of each helper bundle once, eagerly, and saves V8's
// code cache beside it (`<bundle>.cache`); here V8 takes the compiled code from that file.
// Measured with `npm run bench`: about 2 ms of a ~45 ms warm call on the reference machine.
//
// The cache is only an accelerator. V8 checks it against its own version and flags and rejects one
// that does not fit (another Node, other V8 options): the bundle then compiles from source as it
// would without this file. The build writes a bundle and its cache together, so they always match.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { constants, Script, type ScriptOptions } from 'node:vm';

/** `credmux` loads the human CLI (ESM) with import(): a vm script needs to be told how. */
const IMPORTS: ScriptOptions = { importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER };

/** The CommonJS module wrapper, as Node's own loader applies it. */
function wrap(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
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

/** Runs a bundle as Node would run it as the main module, with process.argv[1] naming it. */
export function runBundle(bundle: string, args: readonly string[]): void {
  process.argv.splice(1, process.argv.length - 1, bundle, ...args);
  const { script } = compileBundle(bundle);
  const module = { exports: {} };
  // Our own require: it resolves the bundle's requires (node builtins, absolute paths) alike.
  script.runInThisContext()(module.exports, require, module, bundle, dirname(bundle));
}

/**
 * Build step: compiles every function of the bundle now (V8 otherwise compiles each on first call,
 * and a cache holds only what was compiled) and writes the cache. `lazy` is set back before the
 * cache is made, so the cache carries the flags a helper runs with and V8 accepts it there.
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

// node boot.cjs <bundle> [args…]   |   node boot.cjs --make-code-cache <bundle>[=<name it runs as>]…
if (typeof __CREDMUX_BUNDLED__ !== 'undefined' && require.main === module) {
  const [first, ...rest] = process.argv.slice(2);
  if (first === '--make-code-cache') {
    for (const pair of rest) {
      const [bundle, filename] = pair.split('=');
      makeCodeCache(bundle!, filename);
    }
  } else if (first) {
    runBundle(first, rest);
  }
}
