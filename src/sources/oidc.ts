// oidc: a CI identity token (oidc-identity.ts) exchanged for a service token — at a mint endpoint
// (pyx Trusted Access / PyPI-style: POST {"token": <jwt>} → {"token": …}) or by OAuth 2.0 token
// exchange (RFC 8693). No stored secret at all: the CI system vouches for the job.
import type { OidcSourceConfig, Rule } from '../model/rule.js';
import { displayEndpoint } from '../http/policy.js';
import { httpRequest, type HttpResponse } from '../http/request.js';
import { transportError } from './errors.js';
import { postForm } from './oauth2-client.js';
import { ciIdentityToken } from './oidc-identity.js';
import { readTokenAnswer } from './token-answer.js';
import { DEFAULT_TOKEN_USERNAME, type TokenSource } from './types.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

function config(rule: Rule): OidcSourceConfig {
  if (rule.source.type !== 'oidc') throw new Error('not an oidc rule');
  return rule.source;
}

export const oidcSource: TokenSource = {
  refreshing: true,
  inputs() {
    return [];
  },
  audience(rule) {
    const src = config(rule);
    return (src.identity.provider === 'github' ? src.identity.audience : undefined) ?? src.audience;
  },
  async mint(rule, ctx) {
    const src = config(rule);
    const grant = src.grant ?? 'mint';
    const endpoint = displayEndpoint(src.endpoint);
    const identity = await ciIdentityToken(rule, src.identity, { env: ctx.env, now: ctx.now, allowInsecureHttp: src.allowInsecureHttp });
    let res: HttpResponse;
    try {
      res =
        grant === 'mint'
          ? await httpRequest({
              url: src.endpoint,
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ token: identity }),
              allowInsecureHttp: src.allowInsecureHttp,
              env: ctx.env,
            })
          : await postForm({
              url: src.endpoint,
              form: {
                grant_type: TOKEN_EXCHANGE,
                subject_token: identity,
                subject_token_type: JWT_TOKEN_TYPE,
                audience: src.audience,
                scope: src.scope,
                requested_token_type: src.requestedTokenType,
              },
              ...(src.clientId ? { client: { clientId: src.clientId } } : {}),
              allowInsecureHttp: src.allowInsecureHttp,
              env: ctx.env,
            });
    } catch (e) {
      throw transportError(rule, e, grant === 'mint' ? 'token mint' : 'token exchange');
    }
    const aud = oidcSource.audience(rule);
    const answer = await readTokenAnswer(rule, res, {
      endpoint,
      fields: [src.tokenField ?? (grant === 'mint' ? 'token' : 'access_token')],
      expect: src.expect,
      ttlSeconds: src.ttlSeconds,
      now: ctx.now(),
      secrets: [identity],
      refused: (detail) =>
        `refused the CI identity token (${detail}); check that it trusts this workload (issuer, subject/repository, branch${aud ? `, audience "${aud}"` : ''})`,
    });
    const credential = { kind: rule.kind ?? 'bearer', username: rule.username ?? DEFAULT_TOKEN_USERNAME, secret: answer.token } as const;
    return answer.expiresAt === undefined ? { ...credential } : { ...credential, expiresAt: answer.expiresAt };
  },
};
