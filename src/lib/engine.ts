// dist/lib/engine.cjs: the resolver with its stores and sources, loaded by a helper only when no
// daemon answers, so the common path never parses it.
export { openEngine } from '../engine/open.js';
