// azure: Entra ID client credentials (client secret, or workload identity's federated token file) and
// what is made of the token (entra, acr, artifacts), against a fake Entra authority + ACR token service
// over HTTPS (test/helpers/azure-server.ts) that verifies every token it is handed. Endpoints are
// reached the way users point the Azure SDKs elsewhere: AZURE_AUTHORITY_HOST, and the registry name.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, compileRules } from '../../src/engine/config.js';
import type { RuleConfig } from '../../src/model/rule.js';
import { ACR_AUDIENCE, ARM_AUDIENCE, DEVOPS_AUDIENCE, startAzureServer, type AzureServer } from '../helpers/azure-server.js';
import { errorOf, harness, storedKey } from './harness.js';

let srv: AzureServer;
beforeAll(async () => {
  srv = await startAzureServer();
});
afterAll(() => srv.close());
beforeEach(() => srv.reset());

/** What the workload-identity webhook injects (and AZURE_AUTHORITY_HOST pointing at the fake). */
function azureEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    AZURE_AUTHORITY_HOST: srv.url,
    AZURE_TENANT_ID: srv.tenant,
    AZURE_CLIENT_ID: srv.clientId,
    CREDMUX_EXTRA_CA_CERTS: srv.tls.caFile,
    ...extra,
  };
}

async function tokenFile(token?: string): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'credmux-wi-')), 'azure-identity-token');
  writeFileSync(file, token ?? (await srv.serviceAccountToken()));
  return file;
}

function rule(source: Record<string, unknown>, match = `https://${srv.registry}`): RuleConfig {
  return { id: 'az', match, source: { type: 'azure', ...source } } as RuleConfig;
}

describe('azure: Entra ID client credentials', () => {
  it('client secret from an env var: POSTs the client-credentials form, serves the access token as a bearer until its expires_in', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default`, clientSecret: { env: 'AZURE_CLIENT_SECRET' } })], {
      env: azureEnv({ AZURE_CLIENT_SECRET: srv.clientSecret }),
    });
    const c = await h.token(`https://${srv.registry}/x`);
    expect(c.kind).toBe('bearer');
    expect(c.username).toBe('__token__');
    expect(srv.issued).toEqual([c.secret]);
    expect(decodeJwt(c.secret).aud).toBe(ARM_AUDIENCE);
    expect(c.expiresAt).toBe(h.clock.nowS + 3599);
    const [req] = srv.requests('token');
    expect(req!.path).toBe(`/${srv.tenant}/oauth2/v2.0/token`);
    expect(Object.fromEntries(req!.form)).toEqual({
      grant_type: 'client_credentials',
      scope: `${ARM_AUDIENCE}/.default`,
      client_id: srv.clientId,
      client_secret: srv.clientSecret,
    });
    // Cached: a second ask mints nothing.
    expect((await h.token(`https://${srv.registry}/y`)).secret).toBe(c.secret);
    expect(srv.requests('token')).toHaveLength(1);
  });

  it('workload identity: the federated token file is the client assertion, re-read at every mint (the kubelet rotates it)', async () => {
    const first = await srv.serviceAccountToken();
    const file = await tokenFile(first);
    const rules = [rule({ scope: `${ARM_AUDIENCE}/.default` })];
    const env = azureEnv({ AZURE_FEDERATED_TOKEN_FILE: file });
    const c1 = await harness(rules, { env }).token(`https://${srv.registry}/`);
    const req1 = srv.requests('token')[0]!;
    expect(req1.form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(req1.form.get('client_assertion')).toBe(first);
    expect(req1.form.has('client_secret')).toBe(false);
    const second = await srv.serviceAccountToken({ expSeconds: 7200 });
    writeFileSync(file, `${second}\n`);
    // The next mint in this process (a fresh token cache, as after expiry) reads the file again.
    const c2 = await harness(rules, { env }).token(`https://${srv.registry}/`);
    expect(c2.secret).not.toBe(c1.secret);
    expect(srv.requests('token')[1]!.form.get('client_assertion')).toBe(second);
  });

  it('tenantId, clientId and federatedTokenFile in the rule win over the variables', async () => {
    const file = await tokenFile();
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default`, tenantId: srv.tenant, clientId: srv.clientId, federatedTokenFile: file })], {
      env: { AZURE_AUTHORITY_HOST: srv.url, AZURE_TENANT_ID: 'other-tenant', AZURE_CLIENT_ID: 'other', CREDMUX_EXTRA_CA_CERTS: srv.tls.caFile },
    });
    await h.token(`https://${srv.registry}/`);
    expect(srv.requests('token')[0]!.path).toBe(`/${srv.tenant}/oauth2/v2.0/token`);
  });

  it('artifacts: the token is for Azure DevOps (its resource id) and goes to pip/npm as a password', async () => {
    const h = harness(
      [rule({ service: 'artifacts', clientSecret: { stored: 'https://login.microsoftonline.com' } }, 'https://pkgs.dev.azure.com/acme')],
      {
        env: azureEnv(),
        stored: [storedKey('https://login.microsoftonline.com', srv.clientSecret)],
      },
    );
    const c = await h.token('https://pkgs.dev.azure.com/acme/_packaging/feed/pypi/simple/');
    expect(srv.requests('token')[0]!.form.get('scope')).toBe(`${DEVOPS_AUDIENCE}/.default`);
    expect(decodeJwt(c.secret).aud).toBe(DEVOPS_AUDIENCE);
  });
});

describe('azure: ACR', () => {
  it('Entra token (ACR audience) → POST /oauth2/exchange → refresh token for user 00000000-…, expiring at its own exp', async () => {
    const file = await tokenFile();
    const h = harness([rule({ service: 'acr' })], { env: azureEnv({ AZURE_FEDERATED_TOKEN_FILE: file }) });
    const c = await h.token(`https://${srv.registry}/v2/`);
    expect(c.kind).toBe('basic');
    expect(c.username).toBe('00000000-0000-0000-0000-000000000000');
    expect(srv.requests('token')[0]!.form.get('scope')).toBe(`${ACR_AUDIENCE}/.default`);
    const [ex] = srv.requests('exchange');
    expect(Object.fromEntries(ex!.form)).toEqual({
      grant_type: 'access_token',
      service: srv.registry,
      tenant: srv.tenant,
      access_token: srv.issued[0],
    });
    expect(c.secret).toBe(srv.issued[1]);
    expect(c.expiresAt).toBe(decodeJwt(c.secret).exp); // 3 h: the refresh token's, not the Entra token's hour
    expect(c.expiresAt! - h.clock.nowS).toBeGreaterThan(3600);
  });

  it('a registry that grants the identity no role: the error names the role to give, and no token is served', async () => {
    srv.acrPull.clear();
    const h = harness([rule({ service: 'acr' })], { env: azureEnv({ AZURE_FEDERATED_TOKEN_FILE: await tokenFile() }) });
    const e = await errorOf(h, `https://${srv.registry}/v2/`);
    expect(e.message).toContain(
      `rule "az" (https://${srv.registry}): https://${srv.registry}/oauth2/exchange refused the Entra ID token of client "${srv.clientId}" (HTTP 401)`,
    );
    expect(e.message).toContain('give it a pull role on the registry (AcrPull)');
    for (const t of srv.issued) expect(e.message).not.toContain(t);
  });

  it('a wildcard rule must name its registry (a config error, before any request)', () => {
    expect(() => compileRules(parseConfig(JSON.stringify({ rules: [rule({ service: 'acr' }, '*.azurecr.io')] })))).toThrow(
      /\/rules\/0\/source\/registry: a wildcard rule covers many registries/,
    );
    const ok = compileRules(parseConfig(JSON.stringify({ rules: [rule({ service: 'acr', registry: 'acme.azurecr.io' }, '*.azurecr.io')] })));
    expect(ok).toHaveLength(1);
  });
});

describe('azure: failures name the rule, the endpoint and the fix, never a secret', () => {
  it('no tenant anywhere: says where to set one, sends nothing', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default`, clientSecret: { env: 'AZURE_CLIENT_SECRET' } })], {
      env: { AZURE_CLIENT_SECRET: srv.clientSecret, AZURE_CLIENT_ID: srv.clientId },
    });
    expect((await errorOf(h, `https://${srv.registry}/`)).message).toBe(
      `rule "az" (https://${srv.registry}): no tenantId: set "tenantId" in the rule, or AZURE_TENANT_ID where the helper runs`,
    );
    expect(srv.requests('token')).toHaveLength(0);
  });

  it('neither a client secret nor a federated token file', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default` })], { env: azureEnv() });
    expect((await errorOf(h, `https://${srv.registry}/`)).message).toContain(
      'no credential for Entra ID: set "clientSecret" in the rule, or run where AZURE_FEDERATED_TOKEN_FILE is set (workload identity)',
    );
  });

  it('a wrong client secret: Entra’s AADSTS reason and how to replace the secret; the secret itself is never shown', async () => {
    const wrong = 'wrong-client-secret-0123456789abcdef';
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default`, clientSecret: { env: 'AZURE_CLIENT_SECRET' } })], {
      env: azureEnv({ AZURE_CLIENT_SECRET: wrong }),
    });
    const { message } = await errorOf(h, `https://${srv.registry}/`);
    expect(message).toContain(
      `${srv.url}/${srv.tenant}/oauth2/v2.0/token refused the client secret in $AZURE_CLIENT_SECRET of client "${srv.clientId}" in tenant "${srv.tenant}" (HTTP 401, invalid_client: AADSTS7000215: Invalid client secret provided.); fix: set AZURE_CLIENT_SECRET to a valid client secret`,
    );
    expect(message).not.toContain(wrong);
  });

  it('an expired federated token is refused before it is sent', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default` })], {
      env: azureEnv({ AZURE_FEDERATED_TOKEN_FILE: await tokenFile(await srv.serviceAccountToken({ expSeconds: -60 })) }),
    });
    expect((await errorOf(h, `https://${srv.registry}/`)).message).toMatch(
      /the identity token in \/.*azure-identity-token expired at .*is the token file still being refreshed/,
    );
    expect(srv.requests('token')).toHaveLength(0);
  });

  it('a workload the app does not trust: AADSTS70021 and what to check in the federated credential', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default` })], {
      env: azureEnv({ AZURE_FEDERATED_TOKEN_FILE: await tokenFile(await srv.serviceAccountToken({ sub: 'system:serviceaccount:other:sa' })) }),
    });
    const { message } = await errorOf(h, `https://${srv.registry}/`);
    expect(message).toContain('refused the federated token from');
    expect(message).toContain('AADSTS70021');
    expect(message).toContain(
      "check that the app's federated credential (issuer, subject, audience api://AzureADTokenExchange) matches this workload",
    );
  });

  it('an unknown client id (AADSTS700016)', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default`, clientSecret: { env: 'S' } })], {
      env: azureEnv({ S: srv.clientSecret, AZURE_CLIENT_ID: 'not-the-app' }),
    });
    expect((await errorOf(h, `https://${srv.registry}/`)).message).toContain('(HTTP 400, unauthorized_client: AADSTS700016');
  });

  it('an unreachable authority: a connection error, retried with backoff', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default`, clientSecret: { env: 'S' } })], {
      env: azureEnv({ S: srv.clientSecret, AZURE_AUTHORITY_HOST: 'https://127.0.0.1:1' }),
    });
    expect((await errorOf(h, `https://${srv.registry}/`)).message).toContain(
      'Entra ID token request: https://127.0.0.1:1/' + srv.tenant + '/oauth2/v2.0/token refused the connection; credmux keeps retrying with backoff',
    );
  });

  it('an authority on plain http is refused unless it is loopback and the rule opts in', async () => {
    const h = harness([rule({ scope: `${ARM_AUDIENCE}/.default`, clientSecret: { env: 'S' } })], {
      env: azureEnv({ S: srv.clientSecret, AZURE_AUTHORITY_HOST: 'http://login.example.test' }),
    });
    expect((await errorOf(h, `https://${srv.registry}/`)).message).toContain('uses plain http to a host that is not this machine; use https');
  });
});

describe('azure: config schema', () => {
  const parse = (source: Record<string, unknown>) => () =>
    parseConfig(JSON.stringify({ rules: [{ match: 'https://x.test', source: { type: 'azure', ...source } }] }));
  it('entra needs a scope; acr and artifacts have one', () => {
    expect(parse({})).toThrow(/scope/);
    expect(parse({ service: 'acr' })).not.toThrow();
    expect(parse({ service: 'artifacts' })).not.toThrow();
  });
  it('registry only for acr; a tenant that would leave its path segment is refused', () => {
    expect(parse({ service: 'artifacts', registry: 'x.azurecr.io' })).toThrow(/registry/);
    expect(parse({ service: 'acr', tenantId: '../evil' })).toThrow(/tenantId/);
    expect(parse({ service: 'acr', authorityHost: 'http://login.example.test' })).toThrow(/authorityHost.*plain http/);
  });
});
