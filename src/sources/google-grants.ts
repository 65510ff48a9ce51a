// The two grants of Google's OAuth token endpoint credmux uses:
//
// - service account key: a JWT signed RS256 with the key (header kid = private_key_id; claims iss =
//   client_email, scope, aud = https://oauth2.googleapis.com/token, iat, exp = iat + 1 h, the most
//   Google allows), POSTed as grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>
//   (RFC 7523; googleapis/google-auth-library-python google/oauth2/service_account.py and _client.py
//   jwt_grant; https://developers.google.com/identity/protocols/oauth2/service-account#httprest).
// - authorized user: the refresh-token grant with client_id and client_secret in the form
//   (google/oauth2/_client.py refresh_grant), what `gcloud auth application-default login` leaves.
//
// Both answer {"access_token","expires_in","token_type":"Bearer"}.
import type { Rule } from '../model/rule.js';
import type { Env } from '../platform/paths.js';
import { displayEndpoint } from '../http/policy.js';
import { tokenDeps } from '../http/deps.js';
import { sourceError, transportError } from './errors.js';
import { postForm, type OAuthClient } from './oauth2-client.js';
import { GOOGLE_TOKEN_URI, type AuthorizedUser, type ServiceAccountKey } from './google-credentials.js';
import { readTokenAnswer, type TokenAnswer } from './token-answer.js';

export interface GrantContext {
  env: Env;
  now: number;
  scopes: readonly string[];
  allowInsecureHttp?: boolean;
  ttlSeconds?: number;
  expect?: 'jwt' | 'any';
  /** Where the credentials came from, as errors name them. */
  where: string;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The longest assertion Google accepts. */
const ASSERTION_LIFETIME_S = 3600;

async function signAssertion(rule: Rule, key: ServiceAccountKey, ctx: GrantContext): Promise<string> {
  const { SignJWT, importPKCS8 } = await tokenDeps();
  let privateKey: CryptoKey;
  try {
    privateKey = await importPKCS8(key.privateKey, 'RS256');
  } catch {
    // jose's message may describe the key material: not shown.
    throw sourceError(rule, `the "private_key" in ${ctx.where} is not a PKCS#8 RSA private key; download a new JSON key for ${key.clientEmail}`);
  }
  return new SignJWT({ scope: ctx.scopes.join(' ') })
    .setProtectedHeader(key.privateKeyId ? { alg: 'RS256', typ: 'JWT', kid: key.privateKeyId } : { alg: 'RS256', typ: 'JWT' })
    .setIssuer(key.clientEmail)
    .setAudience(GOOGLE_TOKEN_URI)
    .setIssuedAt(ctx.now)
    .setExpirationTime(ctx.now + ASSERTION_LIFETIME_S)
    .sign(privateKey);
}

/** One call to an OAuth-style token endpoint of Google's: a form POST, answered with {"access_token","expires_in"}. */
export interface TokenPost {
  url: string;
  form: Record<string, string | undefined>;
  client?: OAuthClient;
  /** What the request is, for transport errors. */
  what: string;
  /** Everything secret that was sent: cut from any server text quoted. */
  secrets: (string | undefined)[];
  refused: (detail: string) => string;
}

export async function postForToken(rule: Rule, post: TokenPost, ctx: GrantContext): Promise<TokenAnswer> {
  let res;
  try {
    res = await postForm({ url: post.url, form: post.form, client: post.client, allowInsecureHttp: ctx.allowInsecureHttp, env: ctx.env });
  } catch (e) {
    throw transportError(rule, e, post.what);
  }
  return readTokenAnswer(rule, res, {
    endpoint: displayEndpoint(post.url),
    fields: ['access_token'],
    ttlSeconds: ctx.ttlSeconds,
    expect: ctx.expect,
    now: ctx.now,
    secrets: post.secrets,
    refused: post.refused,
  });
}

export async function serviceAccountToken(rule: Rule, key: ServiceAccountKey, ctx: GrantContext): Promise<TokenAnswer> {
  const assertion = await signAssertion(rule, key, ctx);
  return postForToken(
    rule,
    {
      url: key.tokenUri,
      form: { grant_type: JWT_BEARER, assertion },
      what: 'service-account token request',
      secrets: [assertion, key.privateKey],
      refused: (detail) =>
        `refused the service-account key of ${key.clientEmail} from ${ctx.where} (${detail}); the key may be deleted or disabled, or this machine's clock is off — create a new key: gcloud iam service-accounts keys create KEY.json --iam-account=${key.clientEmail}`,
    },
    ctx,
  );
}

export async function authorizedUserToken(rule: Rule, user: AuthorizedUser, ctx: GrantContext): Promise<TokenAnswer> {
  return postForToken(
    rule,
    {
      url: user.tokenUri,
      form: { grant_type: 'refresh_token', refresh_token: user.refreshToken },
      client: { clientId: user.clientId, clientSecret: user.clientSecret, clientAuth: 'post' },
      what: 'token refresh',
      secrets: [user.refreshToken, user.clientSecret],
      refused: (detail) => `refused the refresh token in ${ctx.where} (${detail}); log in again: gcloud auth application-default login`,
    },
    ctx,
  );
}
