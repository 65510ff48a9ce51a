// dist/lib/token-deps.cjs: the parts of undici and jose the token sources use, bundled on their own
// (src/http/token-deps.ts says which parts and why; src/http/deps.ts loads the bundle).
export * from '../http/token-deps.js';
