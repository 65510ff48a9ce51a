// dist/lib/boot.cjs: how the protocol launchers (dist/bin/*) start a helper bundle — compiled from
// V8's code cache instead of from source (src/client/code-cache.ts).
//
// Why: a warm helper answer is Node's startup plus a few milliseconds of our own JavaScript, and
// much of those milliseconds is V8 compiling each function the first time it runs. The build
// (scripts/build.mjs) saves V8's code cache beside each helper bundle (`<bundle>.<node>.cache`):
// trained on one warm answer (scripts/warm-calls.mjs), or of every function compiled eagerly
// (`--make-code-cache`) where it cannot train; here V8 takes the compiled code from that file.
//
// This file is compiled from source on every call (Node keeps no cache of a main module), so it holds
// only the common case: a cache beside the bundle that V8 accepts. Everything else — the user's own
// cache directory, saving a new cache, the build's step — is in code-cache-fallback.cjs, loaded when
// needed (a smaller boot: ~0.3 ms less a warm answer, interleaved CPU time, Node 20).
//
//   node boot.cjs <bundle> [args…]                                  run a bundle as the main module
//   node boot.cjs --make-code-cache <bundle>[=<name it runs as>]…   the build's step
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cachePathOf, compileWith, runScript } from '../client/code-cache.js';

type Fallback = typeof import('./code-cache-fallback.js');
const fallback = (): Fallback =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS bundle's own require, at run time
  require(join(__dirname, 'code-cache-fallback.cjs')) as Fallback;

const [first, ...rest] = process.argv.slice(2);
if (first === '--make-code-cache') {
  const { makeCodeCache } = fallback();
  for (const pair of rest) {
    const [bundle, filename] = pair.split('=');
    makeCodeCache(bundle!, filename);
  }
} else if (first) {
  // As Node would run it as the main module: process.argv[1] names the bundle, by its absolute path.
  const bundle = resolve(first);
  process.argv.splice(1, process.argv.length - 1, bundle, ...rest);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cachePathOf(bundle));
  } catch {
    // none beside the bundle for this Node
  }
  if (cachedData === undefined) {
    fallback().runBundle(bundle, require);
  } else {
    const { script, cache } = compileWith(bundle, cachedData);
    // Made by another Node, or damaged: V8 compiled from source; save one it accepts as we exit.
    if (cache === 'rejected') fallback().saveCacheOnExit(bundle, script);
    runScript(script, bundle, require);
  }
}
