// dist/lib/boot.cjs: how the protocol launchers (dist/bin/*) start a helper bundle — compiled from
// V8's code cache instead of from source (src/client/code-cache.ts).
//
// Why: a warm helper answer is Node's startup plus a few milliseconds of our own JavaScript, and
// much of those milliseconds is V8 compiling each function the first time it runs. The build
// (scripts/build.mjs) saves V8's code cache beside each helper bundle (`<bundle>.<node>.cache`):
// trained on one warm answer (scripts/warm-calls.mjs), or of every function compiled eagerly
// (`--make-code-cache`) where it cannot train; here V8 takes the compiled code from that file.
//
//   node boot.cjs <bundle> [args…]                                  run a bundle as the main module
//   node boot.cjs --make-code-cache <bundle>[=<name it runs as>]…   the build's step
import { resolve } from 'node:path';
import { makeCodeCache, runBundle } from '../client/code-cache.js';

const [first, ...rest] = process.argv.slice(2);
if (first === '--make-code-cache') {
  for (const pair of rest) {
    const [bundle, filename] = pair.split('=');
    makeCodeCache(bundle!, filename);
  }
} else if (first) {
  // As Node would run it as the main module: process.argv[1] names the bundle, by its absolute path.
  const bundle = resolve(first);
  process.argv.splice(1, process.argv.length - 1, bundle, ...rest);
  runBundle(bundle, require);
}
