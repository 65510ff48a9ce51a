// A Microsoft Entra ID token by the client-credentials grant, as the Azure SDKs' ClientSecretCredential
// and WorkloadIdentityCredential get one: POST <authority>/<tenant>/oauth2/v2.0/token with client_id,
// scope and either client_secret or the federated token as a jwt-bearer client_assertion
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
// Unset ids come from the variables the workload-identity webhook injects and the SDKs read
// (https://azure.github.io/azure-workload-identity/docs/installation/mutating-admission-webhook.html).
import type { AzureSourceConfig, Rule } from '../model/rule.js';
import { displayEndpoint } from '../http/policy.js';
import type { HttpResponse } from '../http/request.js';
import { sourceError, transportError } from './errors.js';
import { postForm } from './oauth2-client.js';
import { ciIdentityToken } from './oidc-identity.js';
import { refWording } from './secret-ref.js';
import { readTokenAnswer, type TokenAnswer } from './token-answer.js';
import type { MintContext } from './types.js';

/** The variables an azure rule reads when the rule does not say (env-names.ts sends the caller's). */
export const AZURE_ENV_NAMES = ['AZURE_AUTHORITY_HOST', 'AZURE_CLIENT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_TENANT_ID'] as const;

/** Azure public cloud; sovereign clouds set AZURE_AUTHORITY_HOST or "authorityHost". */
export const PUBLIC_AUTHORITY = 'https://login.microsoftonline.com';

const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A tenant is a GUID or a verified domain: it becomes a path segment, so nothing else gets in. */
const TENANT = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$/;
/** A client id is a GUID; printable ASCII is all a form field needs. */
const CLIENT_ID = /^[\x21-\x7e]{1,256}$/;

export interface EntraIdentity {
  tenant: string;
  clientId: string;
  tokenUrl: string;
}

/** The rule's setting, else the caller's variable; a bad value is an error naming where it came from. */
function setting(rule: Rule, ctx: MintContext, value: string | undefined, field: string, variable: string, valid: RegExp): string {
  if (value !== undefined) return value; // the schema checked it
  const v = ctx.env[variable];
  if (v === undefined || v === '') {
    throw sourceError(rule, `no ${field}: set "${field}" in the rule, or ${variable} where the helper runs`);
  }
  if (!valid.test(v)) throw sourceError(rule, `$${variable} is not a valid ${field}; fix the variable or set "${field}" in the rule`);
  return v;
}

export function entraIdentity(rule: Rule, src: AzureSourceConfig, ctx: MintContext): EntraIdentity {
  const tenant = setting(rule, ctx, src.tenantId, 'tenantId', 'AZURE_TENANT_ID', TENANT);
  const clientId = setting(rule, ctx, src.clientId, 'clientId', 'AZURE_CLIENT_ID', CLIENT_ID);
  const authority = (src.authorityHost ?? (ctx.env.AZURE_AUTHORITY_HOST || PUBLIC_AUTHORITY)).replace(/\/+$/, '');
  return { tenant, clientId, tokenUrl: `${authority}/${tenant}/oauth2/v2.0/token` };
}

/** How the app proves itself: its client secret, or the federated token the kubelet keeps fresh. */
async function clientProof(rule: Rule, src: AzureSourceConfig, ctx: MintContext, tokenUrl: string) {
  if (src.clientSecret) {
    const ref = refWording(src.clientSecret, 'client secret');
    const secret = await ctx.secrets.read(src.clientSecret);
    if (secret === undefined)
      throw sourceError(rule, `cannot get an Entra ID token at ${displayEndpoint(tokenUrl)}: ${ref.name} is missing; fix: ${ref.fix}`);
    return { secret, form: {}, what: ref.name, fix: `fix: ${ref.fix}; check tenantId and clientId too` };
  }
  const path = src.federatedTokenFile ?? ctx.env.AZURE_FEDERATED_TOKEN_FILE;
  if (!path) {
    throw sourceError(
      rule,
      'no credential for Entra ID: set "clientSecret" in the rule, or run where AZURE_FEDERATED_TOKEN_FILE is set (workload identity)',
    );
  }
  // Re-read at every mint: the kubelet rotates the projected token in place.
  const assertion = await ciIdentityToken(rule, { provider: 'file', path }, ctx);
  return {
    secret: assertion,
    form: { client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion },
    what: `the federated token from ${path}`,
    fix: "check that the app's federated credential (issuer, subject, audience api://AzureADTokenExchange) matches this workload, and tenantId and clientId",
  };
}

/** An Entra ID access token for `scope`. */
export async function entraToken(rule: Rule, src: AzureSourceConfig, scope: string, ctx: MintContext): Promise<TokenAnswer & EntraIdentity> {
  const id = entraIdentity(rule, src, ctx);
  const proof = await clientProof(rule, src, ctx, id.tokenUrl);
  let res: HttpResponse;
  try {
    res = await postForm({
      url: id.tokenUrl,
      form: { grant_type: 'client_credentials', scope, ...proof.form },
      // MSAL sends the secret in the form (client_secret_post), as Entra documents it.
      client: src.clientSecret ? { clientId: id.clientId, clientSecret: proof.secret, clientAuth: 'post' } : { clientId: id.clientId },
      allowInsecureHttp: src.allowInsecureHttp,
      env: ctx.env,
    });
  } catch (e) {
    throw transportError(rule, e, 'Entra ID token request');
  }
  const answer = await readTokenAnswer(rule, res, {
    endpoint: displayEndpoint(id.tokenUrl),
    fields: ['access_token'],
    // Entra's own token is read for its expiry; "expect" is about what is served (the ACR token for acr).
    expect: src.service === 'acr' ? undefined : src.expect,
    ttlSeconds: src.ttlSeconds,
    now: ctx.now(),
    secrets: [proof.secret],
    refused: (detail) => `refused ${proof.what} of client "${id.clientId}" in tenant "${id.tenant}" (${detail}); ${proof.fix}`,
  });
  return { ...answer, ...id };
}
