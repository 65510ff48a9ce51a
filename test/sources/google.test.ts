// google: service-account keys (a JWT-bearer assertion the fake server verifies with the key's public
// half), authorized-user refresh, external accounts (file / URL subject tokens, STS, impersonation),
// workload identity in the rule, application default credentials and the metadata server — against
// test/helpers/google-server.ts, through the engine as the daemon wires it.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../src/model/rule.js';
import { parseConfig } from '../../src/engine/config.js';
import { GOOGLE_ROUTES, startGoogleServer, type GoogleServer } from '../helpers/google-server.js';
import { errorOf, harness, storedKey } from './harness.js';

let g: GoogleServer;
/** Every key file, gcloud dir and shared dir of this file: private (0700), removed at the end. */
const ROOT = mkdtempSync(join(tmpdir(), 'credmux-google-'));
beforeAll(async () => {
  g = await startGoogleServer();
});
afterAll(async () => {
  await g.close();
  rmSync(ROOT, { recursive: true, force: true });
});
beforeEach(() => g.reset());

const GAR = 'https://us-docker.pkg.dev';
const CLOUD = 'https://www.googleapis.com/auth/cloud-platform';

function rule(source: Record<string, unknown>, extra: Partial<RuleConfig> = {}): RuleConfig {
  return { id: 'gar', match: GAR, ...extra, source: { type: 'google', allowInsecureHttp: true, ...source } } as RuleConfig;
}

/** A private directory holding `name` with `content` (0600), as gcloud and key downloads leave them. */
function keyFile(content: unknown, name = 'key.json'): string {
  const dir = mkdtempSync(join(ROOT, 'key-'));
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2), { mode: 0o600 });
  return file;
}

/** An environment in which ADC finds nothing and no metadata server is asked (a closed loopback port). */
function noAdc(extra: Record<string, string> = {}): Record<string, string> {
  return { CLOUDSDK_CONFIG: mkdtempSync(join(ROOT, 'gcloud-')), GCE_METADATA_HOST: '127.0.0.1:9', ...extra };
}

describe('google: service-account key', () => {
  it('signs an RS256 assertion the server verifies (iss, aud, scope, iat/exp, kid) and serves the access token as oauth2accesstoken', async () => {
    const h = harness([rule({ credentials: { file: keyFile(g.serviceAccountKey()) } })]);
    const c = await h.token(`${GAR}/proj/repo/img`);
    expect(c).toEqual({ kind: 'bearer', username: 'oauth2accesstoken', secret: g.issued.token[0], expiresAt: h.clock.nowS + g.ttl });
    expect(g.lastAssertion).toMatchObject({ iss: g.clientEmail, aud: 'https://oauth2.googleapis.com/token', scope: CLOUD });
    expect((g.lastAssertion!.exp as number) - (g.lastAssertion!.iat as number)).toBe(3600);
    const form = new URLSearchParams(g.requests('token')[0]!.body);
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    // Cached: a second request mints nothing.
    await h.token(`${GAR}/other`);
    expect(g.count('token')).toBe(1);
  });

  it('sends the configured scopes in the assertion', async () => {
    const scopes = ['https://www.googleapis.com/auth/devstorage.read_only', CLOUD];
    const h = harness([rule({ credentials: { file: keyFile(g.serviceAccountKey()) }, scopes })]);
    await h.token(GAR);
    expect(g.lastAssertion!.scope).toBe(scopes.join(' '));
  });

  it('reads the key JSON from the store (one line, as `jq -c . key.json | credmux login … --token-stdin` stores it); the key itself is never served', async () => {
    const keyUrl = 'https://iam.credmux.test';
    const h = harness([rule({ credentials: { stored: keyUrl } })], { stored: [storedKey(keyUrl, JSON.stringify(g.serviceAccountKey()))] });
    expect((await h.token(GAR)).secret).toBe(g.issued.token[0]);
    const r = await h.get(keyUrl);
    expect(r.op === 'get' && r.credential).toBeFalsy();
  });

  it('reads the key JSON base64-encoded from an env var (a CI secret)', async () => {
    const b64 = Buffer.from(JSON.stringify(g.serviceAccountKey())).toString('base64');
    const h = harness([rule({ credentials: { env: 'GCP_SA_KEY' } })], { env: { GCP_SA_KEY: b64 } });
    expect((await h.token(GAR)).secret).toBe(g.issued.token[0]);
  });

  it('a refused key (invalid_grant) names the account and how to make a new key, never the key', async () => {
    g.setMode('token', 'deny');
    const key = g.serviceAccountKey();
    const h = harness([rule({ credentials: { file: keyFile(key) } })]);
    const e = await errorOf(h, GAR);
    expect(e.message).toContain(`refused the service-account key of ${g.clientEmail}`);
    expect(e.message).toContain('invalid_grant');
    expect(e.message).toContain(`gcloud iam service-accounts keys create KEY.json --iam-account=${g.clientEmail}`);
    expect(e.message).not.toContain(key.private_key!.split('\n')[1]!);
  });

  it('a key file other users can write is refused with the chmod fix, before anything is sent', async () => {
    const file = keyFile(g.serviceAccountKey());
    chmodSync(file, 0o622);
    const h = harness([rule({ credentials: { file } })]);
    expect((await errorOf(h, GAR)).message).toContain(
      `is writable by group or others; credmux does not use credentials another user can change. Fix: chmod go-w ${file}`,
    );
    expect(g.count('token')).toBe(0);
  });

  it('a malformed key names the missing field, never a value', async () => {
    const { private_key: _pk, ...noKey } = g.serviceAccountKey();
    const h = harness([rule({ credentials: { file: keyFile(noKey) } })]);
    expect((await errorOf(h, GAR)).message).toMatch(/the credentials file .*key\.json has no "private_key" string/);
    const bad = harness([rule({ credentials: { file: keyFile({ ...g.serviceAccountKey(), private_key: 'not-a-key-0123456789' }) } })]);
    const e = await errorOf(bad, GAR);
    expect(e.message).toContain('is not a PKCS#8 RSA private key');
    expect(e.message).not.toContain('not-a-key-0123456789');
    const notJson = harness([rule({ credentials: { file: keyFile('{"type": "service_account", ') } })]);
    expect((await errorOf(notJson, GAR)).message).toContain('is not a Google credentials JSON');
  });
});

describe('google: application default credentials', () => {
  it('GOOGLE_APPLICATION_CREDENTIALS names an authorized_user file: refresh-token grant with client_id and client_secret in the form', async () => {
    const h = harness([rule({})], { env: noAdc({ GOOGLE_APPLICATION_CREDENTIALS: keyFile(g.authorizedUser()) }) });
    expect((await h.token(GAR)).secret).toBe(g.issued.token[0]);
    const form = new URLSearchParams(g.requests('token')[0]!.body);
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: g.authorizedUser().refresh_token,
      client_id: g.authorizedUser().client_id,
      client_secret: g.authorizedUser().client_secret,
    });
  });

  it("gcloud's well-known file ($CLOUDSDK_CONFIG/application_default_credentials.json) when the variable is unset", async () => {
    const env = noAdc();
    writeFileSync(join(env.CLOUDSDK_CONFIG!, 'application_default_credentials.json'), JSON.stringify(g.authorizedUser()), { mode: 0o600 });
    const h = harness([rule({})], { env });
    expect((await h.token(GAR)).secret).toBe(g.issued.token[0]);
  });

  it('a revoked refresh token says to log in again with gcloud', async () => {
    g.setMode('token', 'deny');
    const h = harness([rule({})], { env: noAdc({ GOOGLE_APPLICATION_CREDENTIALS: keyFile(g.authorizedUser()) }) });
    const e = await errorOf(h, GAR);
    expect(e.message).toContain('refused the refresh token');
    expect(e.message).toContain('log in again: gcloud auth application-default login');
    expect(e.message).not.toContain(g.authorizedUser().refresh_token);
  });

  it('GOOGLE_APPLICATION_CREDENTIALS naming a missing file is an error, not a fall-through', async () => {
    const h = harness([rule({})], { env: noAdc({ GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/credmux/key.json' }) });
    expect((await errorOf(h, GAR)).message).toContain(
      'cannot read the credentials file /nonexistent/credmux/key.json ($GOOGLE_APPLICATION_CREDENTIALS) (ENOENT)',
    );
  });

  it('with nothing found, the metadata server is the last resort; none there → an error naming every way to configure credentials', async () => {
    const h = harness([rule({})], { env: noAdc() });
    const e = await errorOf(h, GAR);
    expect(e.message).toContain(
      'no Google credentials: the metadata server at http://127.0.0.1:9 (GCE_METADATA_HOST) is not there (connection failed (ECONNREFUSED))',
    );
    expect(e.message).toContain(
      'set GOOGLE_APPLICATION_CREDENTIALS to a credentials file, run gcloud auth application-default login, or set "credentials" in the rule',
    );
  });
});

describe('google: metadata server', () => {
  let meta: GoogleServer;
  beforeAll(async () => {
    meta = await startGoogleServer();
  });
  afterAll(() => meta.close());
  beforeEach(() => meta.reset());
  const hostOf = (s: GoogleServer) => new URL(s.url).host;

  it('GETs the token with Metadata-Flavor: Google (GCE_METADATA_HOST) and serves it', async () => {
    const h = harness([rule({ credentials: 'metadata' })], { env: { GCE_METADATA_HOST: hostOf(meta) } });
    const c = await h.token(GAR);
    expect(c.secret).toBe(meta.issued.metadata[0]);
    expect(c.expiresAt).toBe(h.clock.nowS + meta.ttl);
    expect(meta.requests('metadata')[0]!.headers['metadata-flavor']).toBe('Google');
    expect(meta.requests('metadata')[0]!.url).toBe(GOOGLE_ROUTES.metadata);
  });

  it('passes configured scopes as ?scopes=', async () => {
    const h = harness([rule({ credentials: 'metadata', scopes: ['https://www.googleapis.com/auth/devstorage.read_only', CLOUD] })], {
      env: { GCE_METADATA_HOST: hostOf(meta) },
    });
    await h.token(GAR);
    expect(meta.requests('metadata')[0]!.url).toBe(
      `${GOOGLE_ROUTES.metadata}?scopes=${encodeURIComponent('https://www.googleapis.com/auth/devstorage.read_only')},${encodeURIComponent(CLOUD)}`,
    );
  });

  it('an answer without Metadata-Flavor: Google is not a metadata server; it is remembered, and not asked again (negative cache)', async () => {
    const other = await startGoogleServer();
    try {
      other.setMode('metadata', 'not-google');
      const env = { GCE_METADATA_HOST: hostOf(other) };
      const h = harness([rule({ credentials: 'metadata' })], { env });
      expect((await errorOf(h, GAR)).message).toContain('without "Metadata-Flavor: Google": not a Google metadata server');
      expect(other.count('metadata')).toBe(1);
      // Another engine (as a helper resolving in process would be) and a fresh cache: still not asked.
      const again = harness([rule({ credentials: 'metadata' })], { env });
      expect((await errorOf(again, GAR)).message).toContain('did not answer in the last 60 s, so it is not asked again yet');
      expect(other.count('metadata')).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('a metadata server without a service account (404) says to attach one', async () => {
    meta.setMode('metadata', 'no-account');
    const h = harness([rule({ credentials: 'metadata' })], { env: { GCE_METADATA_HOST: hostOf(meta) } });
    expect((await errorOf(h, GAR)).message).toContain('has no service account for this instance (HTTP 404); attach one');
  });
});

describe('google: workload identity federation', () => {
  it('external_account file, subject token from a file: STS exchange, then generateAccessToken for the service account (expiry from expireTime)', async () => {
    const tokenFile = keyFile(await g.ciToken(), 'oidc-token');
    const ext = {
      type: 'external_account',
      audience: g.poolAudience,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${g.url}${GOOGLE_ROUTES.sts}`,
      credential_source: { file: tokenFile },
      service_account_impersonation_url: `${g.url}${GOOGLE_ROUTES.impersonate}${g.impersonatedAccount}:generateAccessToken`,
    };
    const h = harness([rule({})], { env: noAdc({ GOOGLE_APPLICATION_CREDENTIALS: keyFile(ext) }) });
    const c = await h.token(GAR);
    expect(c.secret).toBe(g.issued.impersonate[0]);
    expect(g.requests('impersonate')[0]!.headers.authorization).toBe(`Bearer ${g.issued.sts[0]}`);
    expect(JSON.parse(g.requests('impersonate')[0]!.body)).toEqual({ scope: [CLOUD], lifetime: '3600s' });
    expect(Math.abs(c.expiresAt! - (h.clock.nowS + g.ttl))).toBeLessThanOrEqual(2);
    expect(new URLSearchParams(g.requests('sts')[0]!.body).get('scope')).toBe(CLOUD);
  });

  it('external_account with a URL credential_source (headers, JSON format), no impersonation: the STS token is served', async () => {
    const ext = {
      type: 'external_account',
      audience: g.poolAudience,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${g.url}${GOOGLE_ROUTES.sts}`,
      credential_source: {
        url: `${g.url}${GOOGLE_ROUTES.subject}`,
        headers: { Authorization: g.subjectHeader },
        format: { type: 'json', subject_token_field_name: 'value' },
      },
    };
    const h = harness([rule({ credentials: { file: keyFile(ext) } })]);
    expect((await h.token(GAR)).secret).toBe(g.issued.sts[0]);
    expect(g.count('subject')).toBe(1);
  });

  it('workloadIdentity in the rule, identity from a CI variable: STS, then impersonation of serviceAccount', async () => {
    const wi = {
      audience: g.poolAudience,
      identity: { provider: 'env', var: 'CI_OIDC_TOKEN' },
      serviceAccount: g.impersonatedAccount,
      tokenUrl: `${g.url}${GOOGLE_ROUTES.sts}`,
      impersonationUrl: `${g.url}${GOOGLE_ROUTES.impersonate}${g.impersonatedAccount}:generateAccessToken`,
    };
    const h = harness([rule({ workloadIdentity: wi })], { env: { CI_OIDC_TOKEN: await g.ciToken() } });
    expect((await h.token(GAR)).secret).toBe(g.issued.impersonate[0]);
  });

  it('a provider that does not trust the workload (403) and a denied impersonation each name their fix', async () => {
    const wi = { audience: g.poolAudience, identity: { provider: 'env', var: 'CI_OIDC_TOKEN' }, tokenUrl: `${g.url}${GOOGLE_ROUTES.sts}` };
    g.setMode('sts', 'deny');
    const env = { CI_OIDC_TOKEN: await g.ciToken() };
    const denied = await errorOf(harness([rule({ workloadIdentity: wi })], { env }), GAR);
    expect(denied.message).toContain(
      `refused the subject token (HTTP 403, unauthorized_client: The given credential is rejected by the attribute condition.)`,
    );
    expect(denied.message).toContain(`check that the workload identity provider ${g.poolAudience} trusts this workload`);
    expect(denied.message).not.toContain(env.CI_OIDC_TOKEN);
    g.setMode('sts', 'ok');
    const other = 'someone-else@credmux-test.iam.gserviceaccount.com';
    const noRole = await errorOf(
      harness(
        [
          rule({
            workloadIdentity: { ...wi, serviceAccount: other, impersonationUrl: `${g.url}${GOOGLE_ROUTES.impersonate}${other}:generateAccessToken` },
          }),
        ],
        { env },
      ),
      GAR,
    );
    expect(noRole.message).toContain(
      `impersonate ${other} (HTTP 403); grant it roles/iam.workloadIdentityUser or roles/iam.serviceAccountTokenCreator on ${other}`,
    );
  });
});

describe('google: impersonation and hostile endpoints', () => {
  it('impersonated_service_account (gcloud --impersonate-service-account ADC): the user token, then generateAccessToken with delegates', async () => {
    const file = keyFile({
      type: 'impersonated_service_account',
      service_account_impersonation_url: `${g.url}${GOOGLE_ROUTES.impersonate}${g.impersonatedAccount}:generateAccessToken`,
      delegates: ['projects/-/serviceAccounts/hop@credmux-test.iam.gserviceaccount.com'],
      source_credentials: g.authorizedUser(),
    });
    const h = harness([rule({})], { env: noAdc({ GOOGLE_APPLICATION_CREDENTIALS: file }) });
    expect((await h.token(GAR)).secret).toBe(g.issued.impersonate[0]);
    const call = g.requests('impersonate')[0]!;
    expect(call.headers.authorization).toBe(`Bearer ${g.issued.token[0]}`);
    expect(JSON.parse(call.body)).toEqual({
      delegates: ['projects/-/serviceAccounts/hop@credmux-test.iam.gserviceaccount.com'],
      scope: [CLOUD],
      lifetime: '3600s',
    });
  });

  it('an endpoint that echoes what it was sent gets none of it into the error: not the refresh token, the client secret or the assertion', async () => {
    g.setMode('token', 'echo');
    const user = g.authorizedUser();
    const h = harness([rule({})], { env: noAdc({ GOOGLE_APPLICATION_CREDENTIALS: keyFile(user) }) });
    const e = await errorOf(h, GAR);
    expect(e.message).toContain('refused the refresh token');
    expect(e.message).toContain('invalid_grant: you sent'); // the echo is quoted, cut where it carried a secret
    for (const secret of [user.refresh_token!, user.client_secret!, encodeURIComponent(user.refresh_token!)]) expect(e.message).not.toContain(secret);
    const sa = harness([rule({ credentials: { file: keyFile(g.serviceAccountKey()) } })]);
    const e2 = await errorOf(sa, GAR);
    expect(e2.message).toContain('refused the service-account key');
    expect(e2.message).toContain('invalid_grant: you sent');
    expect(e2.message).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('an external_account file whose token_url is plain http off this machine: refused before the subject token is sent', async () => {
    const ext = {
      type: 'external_account',
      audience: g.poolAudience,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: 'http://sts.evil.test/v1/token',
      credential_source: { file: keyFile(await g.ciToken(), 'oidc-token') },
    };
    const h = harness([rule({ credentials: { file: keyFile(ext) } })]);
    expect((await errorOf(h, GAR)).message).toContain(
      'STS token exchange: http://sts.evil.test/v1/token uses plain http to a host that is not this machine; use https',
    );
  });
});

describe('google: config', () => {
  it('accepts the documented shapes and rejects credentials together with workloadIdentity, or an unknown key', () => {
    const ok = (source: unknown) => () => parseConfig(JSON.stringify({ rules: [{ id: 'g', match: GAR, source }] }));
    expect(ok({ type: 'google' })).not.toThrow();
    expect(ok({ type: 'google', credentials: 'metadata' })).not.toThrow();
    expect(ok({ type: 'google', credentials: { file: '~/keys/sa.json' }, scopes: [CLOUD] })).not.toThrow();
    expect(ok({ type: 'google', credentials: { stored: 'https://iam.example.com', username: 'sa' } })).not.toThrow();
    expect(
      ok({ type: 'google', workloadIdentity: { audience: '//iam.googleapis.com/projects/1/x', identity: { provider: 'github' } } }),
    ).not.toThrow();
    expect(
      ok({ type: 'google', credentials: 'metadata', workloadIdentity: { audience: '//iam.googleapis.com/x', identity: { provider: 'github' } } }),
    ).toThrow('/rules/0/source/credentials: give either "credentials" or "workloadIdentity", not both');
    expect(ok({ type: 'google', credential: 'metadata' })).toThrow('/rules/0/source: unknown key "credential"; remove it or check its spelling');
    expect(ok({ type: 'google', credentials: 'metdata' })).toThrow('/rules/0/source/credentials: must be "metadata"');
    expect(ok({ type: 'google', credentials: { file: 'relative/key.json' } })).toThrow(
      /^config\.json is invalid:\n {2}- \/rules\/0\/source\/credentials\/file: "\^\(\/\|~\/\)" does not match; write an absolute path \(or ~\/…\)$/,
    );
    expect(ok({ type: 'google', credentials: {} })).toThrow('/rules/0/source/credentials: say where the secret comes from');
    expect(
      ok({
        type: 'google',
        workloadIdentity: { audience: '//iam.googleapis.com/x', identity: { provider: 'github' }, tokenUrl: 'http://sts.example.com/v1/token' },
      }),
    ).toThrow(/plain http/);
  });
});

describe('google: ADC in a directory other users can write', () => {
  it('refuses a key whose directory is group-writable (not sticky)', async () => {
    const dir = mkdtempSync(join(ROOT, 'dir-'));
    mkdirSync(join(dir, 'shared'));
    const file = join(dir, 'shared', 'key.json');
    writeFileSync(file, JSON.stringify(g.serviceAccountKey()), { mode: 0o600 });
    chmodSync(join(dir, 'shared'), 0o775);
    const h = harness([rule({ credentials: { file } })]);
    expect((await errorOf(h, GAR)).message).toContain('can be changed by another user; move the file to a directory of yours');
    expect(g.count('token')).toBe(0);
  });
});
