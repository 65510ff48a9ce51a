// Is a domain a public suffix (co.uk, github.io, s3.amazonaws.com…), under which unrelated owners
// register names? A wildcard over one (`*.co.uk`) would send a credential to every one of them, so a
// rule or login naming one is refused (issue 15). The answer comes from the Public Suffix List as
// the maintained `tldts` package ships it, ICANN and private sections both.
//
// tldts is 220 KB of code and list (9 ms to load, measured on Node 20): it is its own bundle,
// dist/lib/public-suffix.cjs (minified to ~140 KB), loaded synchronously the first time a wildcard
// is validated — by the config loader or `credmux login` — and never by a helper's hot path, nor by
// an in-process engine whose rules have no wildcard.
import { join } from 'node:path';

/** What dist/lib/public-suffix.cjs (src/lib/public-suffix.ts) exports. */
type Psl = Pick<typeof import('tldts'), 'getPublicSuffix'>;

let psl: Psl | undefined;

function load(): Psl {
  if (!psl) {
    // In the bundles the list is dist/lib/public-suffix.cjs beside this bundle (every bundle lives in
    // dist/lib, and each has __dirname: the ESM CLI's banner defines it). From source (vitest, run in
    // the repository) tldts itself; no import.meta, which the CJS bundles cannot have.
    const bundled = typeof __CREDMUX_BUNDLED__ !== 'undefined' && typeof __dirname === 'string';
    const from = bundled ? join(__dirname, 'public-suffix.cjs') : join(process.cwd(), 'package.json');
    psl = process.getBuiltinModule('node:module').createRequire(from)(bundled ? from : 'tldts') as Psl;
  }
  return psl;
}

/** True when `domain` (lower-case, punycode, no trailing dot) is itself a public suffix. */
export function isPublicSuffix(domain: string): boolean {
  return load().getPublicSuffix(domain, { allowPrivateDomains: true }) === domain;
}

/** The refusal for `*.<domain>`, or undefined when the wildcard is over a registrable domain. */
export function publicSuffixProblem(domain: string): string | undefined {
  if (!isPublicSuffix(domain)) return undefined;
  return `puts a wildcard on ${domain}, a public suffix under which unrelated owners register names (Public Suffix List); name your own domain, e.g. *.example.${domain}`;
}
