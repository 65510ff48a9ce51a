// dist/lib/public-suffix.cjs: the Public Suffix List (tldts), bundled on its own and loaded only when
// a wildcard rule is validated (src/engine/public-suffix.ts), never by a helper answering a request.
export { getPublicSuffix } from 'tldts';
