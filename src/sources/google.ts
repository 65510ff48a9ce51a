// google: Google Cloud access tokens, for Artifact Registry, Container Registry (username
// `oauth2accesstoken`, the token as password: https://cloud.google.com/artifact-registry/docs/docker/authentication)
// and Cloud Storage for Bazel (Bearer). From a credentials JSON (service account key, authorized user,
// external account, impersonated service account), application default credentials, workload identity
// federation configured in the rule, or the metadata server. Minted in the daemon like every token
// source; jose (the assertion's signature) and undici load only when a google rule mints.
import type { GoogleSourceConfig, Rule } from '../model/rule.js';
import { readTokenAnswer, type TokenAnswer } from './token-answer.js';
import { isStoredRef } from './secret-ref.js';
import { locateCredentials, type GoogleCredentials } from './google-credentials.js';
import { authorizedUserToken, serviceAccountToken, type GrantContext } from './google-grants.js';
import { externalAccountToken, impersonate, workloadIdentityToken } from './google-federation.js';
import { metadataHost, metadataToken } from './google-metadata.js';
import type { TokenSource } from './types.js';

/** What Artifact Registry and Container Registry take as the username with an access token. */
export const GOOGLE_TOKEN_USERNAME = 'oauth2accesstoken';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

function config(rule: Rule): GoogleSourceConfig {
  if (rule.source.type !== 'google') throw new Error('not a google rule');
  return rule.source;
}

async function tokenFrom(rule: Rule, creds: GoogleCredentials, ctx: GrantContext): Promise<TokenAnswer> {
  switch (creds.type) {
    case 'service_account':
      return serviceAccountToken(rule, creds, ctx);
    case 'authorized_user':
      return authorizedUserToken(rule, creds, ctx);
    case 'external_account':
      return externalAccountToken(rule, creds, ctx);
    case 'impersonated_service_account': {
      // The source credentials need only the IAM scope to call generateAccessToken (impersonated_credentials.py _IAM_SCOPE).
      const source = await tokenFrom(rule, creds.source, { ...ctx, scopes: [CLOUD_PLATFORM_SCOPE] });
      return impersonate(rule, creds.impersonationUrl, source.token, { delegates: creds.delegates }, ctx);
    }
  }
}

export const googleSource: TokenSource = {
  refreshing: true,
  inputs(rule) {
    const { credentials } = config(rule);
    return credentials !== undefined && credentials !== 'metadata' && !('file' in credentials) && isStoredRef(credentials) ? [credentials] : [];
  },
  audience() {
    return undefined;
  },
  async mint(rule, ctx) {
    const src = config(rule);
    const now = ctx.now();
    const base = {
      env: ctx.env,
      now,
      scopes: src.scopes ?? [CLOUD_PLATFORM_SCOPE],
      allowInsecureHttp: src.allowInsecureHttp,
      ttlSeconds: src.ttlSeconds,
      expect: src.expect,
    };
    let answer: TokenAnswer;
    if (src.workloadIdentity) {
      answer = await workloadIdentityToken(rule, src.workloadIdentity, {
        ...base,
        where: `the federated identity of ${src.workloadIdentity.audience}`,
      });
    } else {
      const { credentials, where } = await locateCredentials(rule, src, ctx.env, ctx.secrets);
      if (credentials === 'metadata') {
        const res = await metadataToken(rule, ctx.env, now, src.scopes);
        answer = await readTokenAnswer(rule, res, {
          endpoint: `http://${metadataHost(ctx.env).host}/computeMetadata/v1/instance/service-accounts/default/token`,
          fields: ['access_token'],
          ttlSeconds: src.ttlSeconds,
          expect: src.expect,
          now,
          secrets: [],
          refused: (detail) => `refused a token to this instance (${detail}); check the service account attached to it and its scopes`,
        });
      } else {
        answer = await tokenFrom(rule, credentials, { ...base, where });
      }
    }
    const credential = { kind: rule.kind ?? 'bearer', username: rule.username ?? GOOGLE_TOKEN_USERNAME, secret: answer.token } as const;
    return answer.expiresAt === undefined ? { ...credential } : { ...credential, expiresAt: answer.expiresAt };
  },
};
