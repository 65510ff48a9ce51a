// What `credmux --version` and `credmux doctor` say: the version, and the commit the build was made
// from when it was built from a git checkout (scripts/commit.mjs). CLI only: the helper bundles keep
// the plain version, so they do not change with every commit.
import { VERSION } from '../platform/version.js';

export const COMMIT: string | undefined = typeof __CREDMUX_COMMIT__ !== 'undefined' && __CREDMUX_COMMIT__ ? __CREDMUX_COMMIT__ : undefined;

export const VERSION_AND_COMMIT: string = COMMIT ? `${VERSION} (commit ${COMMIT})` : VERSION;
