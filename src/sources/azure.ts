// azure: an Entra ID token (azure-entra.ts) served as it is — for any Azure resource (`entra`) or for
// Azure DevOps, whose Artifacts feeds take it as a password (`artifacts`) — or traded for an Azure
// Container Registry refresh token (`acr`), which Docker-style clients present as the password of the
// fixed user 00000000-0000-0000-0000-000000000000 (Azure/acr docs/AAD-OAuth.md).
import type { AzureSourceConfig, Rule } from '../model/rule.js';
import { displayEndpoint } from '../http/policy.js';
import type { HttpResponse } from '../http/request.js';
import { transportError } from './errors.js';
import { entraToken } from './azure-entra.js';
import { postForm } from './oauth2-client.js';
import { isStoredRef } from './secret-ref.js';
import { readTokenAnswer } from './token-answer.js';
import { DEFAULT_TOKEN_USERNAME, type MintContext, type TokenSource } from './types.js';

/** The audience of ACR data-plane tokens: accepted even where a registry refuses ARM-audience tokens. */
export const ACR_SCOPE = 'https://containerregistry.azure.net/.default';
/** Azure DevOps' resource id (its app id in every tenant). */
export const AZURE_DEVOPS_SCOPE = '499b84ac-1321-427f-aa17-267ca6975798/.default';
/** The username ACR expects with a refresh token as the password. */
export const ACR_USERNAME = '00000000-0000-0000-0000-000000000000';

function config(rule: Rule): AzureSourceConfig {
  if (rule.source.type !== 'azure') throw new Error('not an azure rule');
  return rule.source;
}

export function azureScope(src: AzureSourceConfig): string | undefined {
  if (src.scope !== undefined) return src.scope;
  if (src.service === 'acr') return ACR_SCOPE;
  if (src.service === 'artifacts') return AZURE_DEVOPS_SCOPE;
  return undefined; // entra: the schema requires a scope
}

/** The registry's login server: configured, else the rule's own host (a wildcard rule must name it). */
export function acrRegistry(rule: Pick<Rule, 'pattern'>, src: AzureSourceConfig): string | undefined {
  if (src.registry !== undefined) return src.registry.toLowerCase();
  const p = rule.pattern;
  if (p.wildcard) return undefined;
  return p.port === 443 ? p.host : `${p.host}:${p.port}`;
}

interface EntraGrant {
  token: string;
  tenant: string;
  clientId: string;
}

async function acrRefreshToken(rule: Rule, src: AzureSourceConfig, registry: string, entra: EntraGrant, ctx: MintContext) {
  const url = `https://${registry}/oauth2/exchange`;
  let res: HttpResponse;
  try {
    res = await postForm({
      url,
      form: { grant_type: 'access_token', service: registry, tenant: entra.tenant, access_token: entra.token },
      env: ctx.env,
    });
  } catch (e) {
    throw transportError(rule, e, 'ACR token exchange');
  }
  return readTokenAnswer(rule, res, {
    endpoint: displayEndpoint(url),
    fields: ['refresh_token'],
    expect: src.expect,
    ttlSeconds: src.ttlSeconds,
    now: ctx.now(),
    secrets: [entra.token],
    refused: (detail) =>
      `refused the Entra ID token of client "${entra.clientId}" (${detail}); give it a pull role on the registry (AcrPull), and if the registry refuses ARM-audience tokens keep the default scope ${ACR_SCOPE}`,
  });
}

export const azureSource: TokenSource = {
  refreshing: true,
  inputs(rule) {
    const { clientSecret } = config(rule);
    return clientSecret && isStoredRef(clientSecret) ? [clientSecret] : [];
  },
  audience(rule) {
    return azureScope(config(rule));
  },
  async mint(rule, ctx) {
    const src = config(rule);
    const entra = await entraToken(rule, src, azureScope(src) ?? '', ctx);
    if (src.service !== 'acr') {
      const credential = { kind: rule.kind ?? 'bearer', username: rule.username ?? DEFAULT_TOKEN_USERNAME, secret: entra.token } as const;
      return entra.expiresAt === undefined ? { ...credential } : { ...credential, expiresAt: entra.expiresAt };
    }
    const registry = acrRegistry(rule, src)!; // source-validate.ts refuses a wildcard rule without "registry"
    const acr = await acrRefreshToken(rule, src, registry, entra, ctx);
    const credential = { kind: rule.kind ?? 'basic', username: rule.username ?? ACR_USERNAME, secret: acr.token } as const;
    return acr.expiresAt === undefined ? { ...credential } : { ...credential, expiresAt: acr.expiresAt };
  },
};
