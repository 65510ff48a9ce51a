// The parts of undici and jose the token sources use, built into dist/lib/token-deps.cjs (entry
// src/lib/token-deps.ts; src/http/deps.ts loads it the first time a token is minted). Kept out of
// engine.cjs so a helper resolving in process without a daemon does not parse what it will not use for
// static, env or netrc credentials.
//
// Not undici's index: to re-export everything it loads everything (fetch, WebSocket, EventSource,
// caches, mocks), and a daemon keeps all of it for its life: 4.1 MB of heap once loaded, against
// 2.2 MB for the modules below (require + gc, measured). The index also mixes the request API into
// Dispatcher; done here the same way, so `dispatcher.request()` is undici's documented Dispatcher API.
// The lockfile pins undici; the token-source e2e tests exercise these paths.
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';

Object.assign(Dispatcher.prototype, api);

export { default as EnvHttpProxyAgent } from 'undici/lib/dispatcher/env-http-proxy-agent.js';
export { decodeJwt } from 'jose/jwt/decode';
// Signs GitHub App JWTs (src/sources/github-app-jwt.ts): only that source calls it.
export { SignJWT } from 'jose/jwt/sign';
