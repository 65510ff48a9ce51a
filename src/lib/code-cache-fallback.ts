// dist/lib/code-cache-fallback.cjs: what boot.cjs (src/lib/boot.ts) loads only when the common case
// does not hold — no cache beside the bundle for this Node, one V8 rejects, or the build's
// --make-code-cache step: the user's own cache directory, saving a fresh cache, compiling eagerly.
// Apart, so a warm answer's boot.cjs is a few lines to compile, not all of this.
export { makeCodeCache, runBundle, saveCacheOnExit } from '../client/code-cache.js';
