// Loads the SigV4 signer on first use: from dist/lib/aws-deps.cjs in the bundles, from node_modules
// when running from source — the same arrangement as src/http/deps.ts for undici and jose.
import { join } from 'node:path';

/** What dist/lib/aws-deps.cjs (src/lib/aws-deps.ts) exports. */
export interface AwsDeps {
  sign: (typeof import('aws4'))['sign'];
}

let deps: Promise<AwsDeps> | undefined;

export function awsDeps(): Promise<AwsDeps> {
  if (!deps) {
    // The constant condition lets esbuild drop the source-mode branch (and aws4 with it) from every bundle.
    if (typeof __CREDMUX_BUNDLED__ !== 'undefined') {
      const spec = typeof __dirname === 'string' ? join(__dirname, '../lib/aws-deps.cjs') : './aws-deps.cjs';
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS bundle's own require, at run time
      deps = new Promise<AwsDeps>((resolve) => resolve(require(spec) as AwsDeps));
    } else {
      deps = import('aws4').then((m) => ({ sign: (m.default ?? m).sign }));
    }
    deps.catch(() => {
      deps = undefined;
    });
  }
  return deps;
}
