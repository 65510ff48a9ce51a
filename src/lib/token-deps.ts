// dist/lib/token-deps.cjs: undici and jose, for the token sources only (src/http/deps.ts loads it the
// first time a token is minted). Kept out of engine.cjs so a helper resolving in process without a
// daemon does not parse ~1.2 MB it will not use for static, env or netrc credentials.
export { EnvHttpProxyAgent, request } from 'undici';
export { decodeJwt } from 'jose';
