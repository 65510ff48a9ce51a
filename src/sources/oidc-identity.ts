// The CI identity token (an OIDC JWT) the oidc source exchanges: requested from the GitHub Actions
// runtime, or taken from a GitLab `id_tokens` variable, any env var, or a file re-read every time
// (Kubernetes projected service-account tokens are rotated in place).
import { fsp } from '../platform/lazy-fs.js';
import { join } from 'node:path';
import type { OidcIdentity, Rule } from '../model/rule.js';
import type { Env } from '../platform/paths.js';
import { displayEndpoint } from '../http/policy.js';
import { httpRequest } from '../http/request.js';
import { sourceError, transportError } from './errors.js';
import { jwtExp } from './jwt-expiry.js';
import { parseJsonObject, TOKEN_CHARS } from './token-answer.js';

/** A projected token is a few KiB; anything much larger is not one. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

export interface IdentityContext {
  env: Env;
  now: () => number;
  allowInsecureHttp?: boolean;
}

function describe(identity: OidcIdentity): string {
  switch (identity.provider) {
    case 'github':
      return 'the GitHub Actions ID token';
    case 'gitlab':
      return `the GitLab ID token in $${identity.var}`;
    case 'env':
      return `the identity token in $${identity.var}`;
    case 'file':
      return `the identity token in ${identity.path}`;
  }
}

export async function ciIdentityToken(rule: Rule, identity: OidcIdentity, ctx: IdentityContext): Promise<string> {
  const raw = await fetchIdentity(rule, identity, ctx);
  const token = raw.trim();
  const what = describe(identity);
  if (!TOKEN_CHARS.test(token)) throw sourceError(rule, `${what} is empty or not a single token`);
  const exp = await jwtExp(token);
  if (exp === undefined) throw sourceError(rule, `${what} is not a JWT; an OIDC identity token is one`);
  if (typeof exp === 'number' && exp <= ctx.now()) {
    const fix =
      identity.provider === 'file'
        ? ' (is the token file still being refreshed?)'
        : identity.provider === 'github'
          ? ''
          : ' (CI sets it once per job: re-run the job)';
    throw sourceError(rule, `${what} expired at ${new Date(exp * 1000).toISOString()}${fix}`);
  }
  return token;
}

async function fetchIdentity(rule: Rule, identity: OidcIdentity, ctx: IdentityContext): Promise<string> {
  switch (identity.provider) {
    case 'github':
      return githubIdToken(rule, identity.audience, ctx);
    case 'gitlab':
    case 'env': {
      const v = ctx.env[identity.var];
      if (v === undefined || v === '') {
        const fix =
          identity.provider === 'gitlab'
            ? `declare it in the job: id_tokens: { ${identity.var}: { aud: <audience> } }`
            : `export ${identity.var} where the helper runs`;
        throw sourceError(rule, `$${identity.var} is not set; ${fix}`);
      }
      return v;
    }
    case 'file': {
      const path = identity.path.startsWith('~/') ? join(ctx.env.HOME ?? '', identity.path.slice(2)) : identity.path;
      try {
        const buf = await fsp().readFile(path);
        if (buf.length > MAX_TOKEN_FILE_BYTES) throw sourceError(rule, `${path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes; not a token file`);
        return buf.toString('utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (!code) throw e;
        throw sourceError(rule, `cannot read the identity token file ${path} (${code}); is the projected volume mounted and readable?`);
      }
    }
  }
}

/**
 * GitHub Actions: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud> with the request token as a
 * bearer → {"value": <jwt>}. Both variables exist only in jobs with `permissions: id-token: write`.
 */
async function githubIdToken(rule: Rule, audience: string | undefined, ctx: IdentityContext): Promise<string> {
  const base = ctx.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = ctx.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!base || !requestToken) {
    throw sourceError(
      rule,
      'not in a GitHub Actions job that may request an ID token (ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN are unset); add "permissions: id-token: write" to the workflow or job',
    );
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw sourceError(rule, 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  if (audience !== undefined) url.searchParams.set('audience', audience);
  const at = displayEndpoint(url.href);
  let res;
  try {
    res = await httpRequest({
      url: url.href,
      method: 'GET',
      headers: { authorization: `Bearer ${requestToken}` },
      allowInsecureHttp: ctx.allowInsecureHttp,
      env: ctx.env,
    });
  } catch (e) {
    throw transportError(rule, e, 'GitHub ID token request');
  }
  if (res.status === 401 || res.status === 403) {
    throw sourceError(rule, `${at} refused the ID token request (HTTP ${res.status}); the job needs "permissions: id-token: write"`);
  }
  const body = parseJsonObject(res.text);
  if (res.status !== 200 || !body || typeof body.value !== 'string') {
    throw sourceError(rule, `${at} answered HTTP ${res.status} without {"value": <token>}; credmux keeps retrying with backoff`);
  }
  return body.value;
}
