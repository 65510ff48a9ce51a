// Workload identity federation and service-account impersonation:
//
// 1. a subject token — from the external_account file's credential_source (a file or URL, as text or
//    a JSON field), or a CI identity the rule names (src/sources/oidc-identity.ts);
// 2. STS token exchange (RFC 8693): form grant_type=urn:ietf:params:oauth:grant-type:token-exchange,
//    audience, scope, requested_token_type=…:access_token, subject_token, subject_token_type →
//    {"access_token","issued_token_type","token_type","expires_in"} (googleapis/google-auth-library-python
//    google/oauth2/sts.py, google/auth/external_account.py; https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token);
// 3. optionally generateAccessToken for a service account: POST JSON {"scope":[…],"lifetime":"3600s"
//    [,"delegates":[…]]} with the token as Bearer → {"accessToken","expireTime"}
//    (google/auth/impersonated_credentials.py; https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken).
import { fsp } from '../platform/lazy-fs.js';
import type { GoogleWorkloadIdentity, Rule } from '../model/rule.js';
import { CredmuxError } from '../model/types.js';
import { displayEndpoint } from '../http/policy.js';
import { httpRequest } from '../http/request.js';
import { sourceError, transportError } from './errors.js';
import type { ExternalAccount, SubjectSource } from './google-credentials.js';
import { postForToken, type GrantContext } from './google-grants.js';
import { jwtExp } from './jwt-expiry.js';
import { ciIdentityToken } from './oidc-identity.js';
import { fieldAt, parseJsonObject, readTokenAnswer, TOKEN_CHARS, type TokenAnswer } from './token-answer.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const DEFAULT_STS_URL = 'https://sts.googleapis.com/v1/token';
const MAX_SUBJECT_BYTES = 64 * 1024;
const DEFAULT_LIFETIME_S = 3600;

export function impersonationUrlFor(serviceAccount: string): string {
  return `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${encodeURIComponent(serviceAccount)}:generateAccessToken`;
}

/** The subject token an external_account file's credential_source points at. */
async function subjectFromSource(rule: Rule, src: SubjectSource, ctx: GrantContext): Promise<string> {
  let text: string;
  let from: string;
  if (src.file !== undefined) {
    from = `the subject token file ${src.file}`;
    try {
      const buf = await fsp().readFile(src.file);
      if (buf.length > MAX_SUBJECT_BYTES) throw sourceError(rule, `${from} is larger than ${MAX_SUBJECT_BYTES} bytes; not a token file`);
      text = buf.toString('utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!code || e instanceof CredmuxError) throw e;
      throw sourceError(rule, `cannot read ${from} (${code}); is the CI token written there before credmux runs?`);
    }
  } else {
    const url = src.url!;
    from = `the subject token URL ${displayEndpoint(url)}`;
    let res;
    try {
      res = await httpRequest({ url, method: 'GET', headers: src.headers ?? {}, allowInsecureHttp: ctx.allowInsecureHttp, env: ctx.env });
    } catch (e) {
      throw transportError(rule, e, 'subject token request');
    }
    if (res.status !== 200) throw sourceError(rule, `${from} answered HTTP ${res.status}; check credential_source in ${ctx.where}`);
    text = res.text;
  }
  let token: unknown = text.trim();
  if (src.format.type === 'json') {
    const body = parseJsonObject(text);
    token = body ? fieldAt(body, src.format.field) : undefined;
    if (typeof token !== 'string') throw sourceError(rule, `${from} has no "${src.format.field}" string (credential_source.format)`);
    token = token.trim();
  }
  if (typeof token !== 'string' || !TOKEN_CHARS.test(token)) throw sourceError(rule, `${from} is empty or not a single token`);
  const exp = await jwtExp(token);
  if (typeof exp === 'number' && exp <= ctx.now)
    throw sourceError(rule, `${from} expired at ${new Date(exp * 1000).toISOString()}; is it still being refreshed?`);
  return token;
}

/** STS: the subject token for a federated access token. */
async function stsExchange(
  rule: Rule,
  ext: Pick<ExternalAccount, 'audience' | 'subjectTokenType' | 'tokenUrl'>,
  subject: string,
  ctx: GrantContext,
): Promise<TokenAnswer> {
  return postForToken(
    rule,
    {
      url: ext.tokenUrl,
      form: {
        grant_type: TOKEN_EXCHANGE,
        audience: ext.audience,
        scope: ctx.scopes.join(' '),
        requested_token_type: ACCESS_TOKEN_TYPE,
        subject_token: subject,
        subject_token_type: ext.subjectTokenType,
      },
      what: 'STS token exchange',
      secrets: [subject],
      refused: (detail) =>
        `refused the subject token (${detail}); check that the workload identity provider ${ext.audience} trusts this workload (issuer, attribute condition, allowed audiences)`,
    },
    ctx,
  );
}

/** generateAccessToken: a service account's token for the caller's (federated, user or key) token. */
export async function impersonate(
  rule: Rule,
  url: string,
  bearer: string,
  opts: { delegates?: string[]; lifetimeSeconds?: number },
  ctx: GrantContext,
): Promise<TokenAnswer> {
  const account = /\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(new URL(url).pathname)?.[1];
  const who = account ? decodeURIComponent(account) : 'the service account';
  const lifetime = opts.lifetimeSeconds ?? DEFAULT_LIFETIME_S;
  let res;
  try {
    res = await httpRequest({
      url,
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...(opts.delegates?.length ? { delegates: opts.delegates } : {}), scope: ctx.scopes, lifetime: `${lifetime}s` }),
      allowInsecureHttp: ctx.allowInsecureHttp,
      env: ctx.env,
    });
  } catch (e) {
    throw transportError(rule, e, 'service-account impersonation');
  }
  const answer = await readTokenAnswer(rule, res, {
    endpoint: displayEndpoint(url),
    fields: ['accessToken'],
    ttlSeconds: ctx.ttlSeconds,
    expect: ctx.expect,
    now: ctx.now,
    secrets: [bearer],
    refused: (detail) =>
      `refused to let ${ctx.where} impersonate ${who} (${detail}); grant it roles/iam.workloadIdentityUser or roles/iam.serviceAccountTokenCreator on ${who}`,
  });
  // expireTime (RFC 3339) is this answer's expiry; readTokenAnswer knows only expires_in.
  const at = typeof answer.body.expireTime === 'string' ? Math.floor(Date.parse(answer.body.expireTime) / 1000) : NaN;
  if (Number.isFinite(at)) {
    if (at <= ctx.now)
      throw sourceError(
        rule,
        `${displayEndpoint(url)} answered with a token that expired at ${new Date(at * 1000).toISOString()} already (is this machine's clock right?)`,
      );
    return { ...answer, expiresAt: Math.min(at, answer.expiresAt ?? at) };
  }
  return answer;
}

/** An external_account credentials file: subject token → STS → (impersonation). */
export async function externalAccountToken(rule: Rule, ext: ExternalAccount, ctx: GrantContext): Promise<TokenAnswer> {
  const subject = await subjectFromSource(rule, ext.source, ctx);
  const federated = await stsExchange(rule, ext, subject, ctx);
  if (ext.impersonationUrl === undefined) return federated;
  return impersonate(rule, ext.impersonationUrl, federated.token, { lifetimeSeconds: ext.lifetimeSeconds }, ctx);
}

/** The rule's own workloadIdentity: a CI identity token → STS → (impersonation). */
export async function workloadIdentityToken(rule: Rule, wi: GoogleWorkloadIdentity, ctx: GrantContext): Promise<TokenAnswer> {
  const subject = await ciIdentityToken(rule, wi.identity, { env: ctx.env, now: () => ctx.now, allowInsecureHttp: ctx.allowInsecureHttp });
  const federated = await stsExchange(
    rule,
    { audience: wi.audience, subjectTokenType: JWT_TYPE, tokenUrl: wi.tokenUrl ?? DEFAULT_STS_URL },
    subject,
    ctx,
  );
  if (wi.serviceAccount === undefined) return federated;
  return impersonate(rule, wi.impersonationUrl ?? impersonationUrlFor(wi.serviceAccount), federated.token, {}, ctx);
}
