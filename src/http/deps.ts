// Loads undici and jose on first use: from dist/lib/token-deps.cjs in the bundles, from node_modules
// when running from source. The CJS bundles (dist/bin/credmux-daemon, dist/lib/engine.cjs) find it
// from __dirname; the ESM CLI bundle (dist/lib/cli.mjs) has no __dirname, but its banner's `require`
// resolves relative to cli.mjs itself, which sits next to it.
import { join } from 'node:path';

export type TokenDeps = typeof import('./token-deps.js');

let deps: Promise<TokenDeps> | undefined;

export function tokenDeps(): Promise<TokenDeps> {
  if (!deps) {
    // The constant condition lets esbuild drop the source-mode branch (and the libraries with it) from every bundle.
    if (typeof __CREDMUX_BUNDLED__ !== 'undefined') {
      // A variable, not a literal: esbuild must leave this require for run time.
      const spec = typeof __dirname === 'string' ? join(__dirname, '../lib/token-deps.cjs') : './token-deps.cjs';
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS bundle's own require, at run time
      deps = new Promise<TokenDeps>((resolve) => resolve(require(spec) as TokenDeps));
    } else {
      deps = import('./token-deps.js');
    }
    deps.catch(() => {
      deps = undefined; // a failed load is retried next time rather than cached
    });
  }
  return deps;
}
