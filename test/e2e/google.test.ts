// The google source end to end: the built helpers as Bazel, git, Docker and pip/uv run them, a real
// daemon, and a fake Google (test/helpers/google-server.ts) over HTTPS trusted through
// NODE_EXTRA_CA_CERTS — the way a user with GOOGLE_APPLICATION_CREDENTIALS runs them. Then real git
// cloning from nginx that accepts only `oauth2accesstoken` with the token the metadata server issued.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { distBin, requireBuilt, requireBuiltAndTools } from '../helpers/dist.js';
import { GOOGLE_ROUTES, startGoogleServer, type GoogleServer } from '../helpers/google-server.js';
import { markLog, summary } from '../helpers/logs.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startGitServer, type GitServer } from '../helpers/servers.js';
import { makeTestTls, type TestTls } from '../helpers/tls.js';

const HOST = 'us-docker.pkg.dev';
let tls: TestTls;
let g: GoogleServer;
let sb: Sandbox;

beforeAll(async () => {
  requireBuilt();
  tls = makeTestTls();
  g = await startGoogleServer({ tls });
});
afterAll(async () => {
  await g?.close();
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
});
beforeEach(async () => {
  g.reset();
  sb = await createSandbox('google');
});
afterEach(async () => {
  await sb.cleanup();
});

async function writeConfig(rules: unknown[]): Promise<void> {
  const dir = join(sb.home, '.config', 'credmux');
  await mkdir(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules }, null, 2));
}

function keyFile(content: unknown): string {
  const file = join(mkdtempSync(join(sb.root, 'key-')), 'key.json');
  writeFileSync(file, JSON.stringify(content), { mode: 0o600 });
  return file;
}

/** Each door asks for HOST once, one after another, as four tools would. */
async function askEachDoor(env: NodeJS.ProcessEnv) {
  const bazel = await sb.run(sb.bin('credmux-bazel'), ['get'], {
    env,
    input: JSON.stringify({ uri: `https://${HOST}/v2/proj/repo/img/manifests/1` }),
  });
  const git = await sb.run(sb.bin('git-credential-credmux'), ['get'], { env, input: `protocol=https\nhost=${HOST}\npath=proj/repo.git\n\n` });
  const docker = await sb.run(sb.bin('docker-credential-credmux'), ['get'], { env, input: HOST });
  const keyring = await sb.run(sb.bin('keyring'), ['get', `https://${HOST}/simple/`, 'oauth2accesstoken'], { env });
  return { bazel, git, docker, keyring };
}

describe('google through Bazel, git, Docker and keyring (built helpers, real daemon, HTTPS)', () => {
  it('GOOGLE_APPLICATION_CREDENTIALS → a service-account key: one verified assertion, the token served to every door as each expects', async () => {
    await writeConfig([{ id: 'gar', match: `https://${HOST}`, source: { type: 'google' } }]);
    const env = {
      ...sb.env,
      GOOGLE_APPLICATION_CREDENTIALS: keyFile(g.serviceAccountKey()),
      NODE_EXTRA_CA_CERTS: tls.caFile,
      GCE_METADATA_HOST: '127.0.0.1:9', // never reached: the key file comes first
    };
    const out = await askEachDoor(env);
    for (const [door, r] of Object.entries(out)) expect(r.code, `${door}: ${show(r)}`).toBe(0);
    const token = g.issued.token[0]!;
    expect(token).toMatch(/^ya29\./);
    expect(g.lastAssertion).toMatchObject({ iss: g.clientEmail, aud: 'https://oauth2.googleapis.com/token' });
    // Bazel: a Bearer header and the expiry; git and Docker: oauth2accesstoken + the token; keyring: the password.
    const bazel = JSON.parse(out.bazel.stdout) as { headers: { Authorization: string[] }; expires: string };
    expect(bazel.headers.Authorization).toEqual([`Bearer ${token}`]);
    expect(Date.parse(bazel.expires)).toBeGreaterThan(Date.now());
    expect(out.git.stdout).toContain(`username=oauth2accesstoken\npassword=${token}\n`);
    expect(out.git.stdout).toMatch(/^password_expiry_utc=\d+$/m);
    expect(JSON.parse(out.docker.stdout)).toEqual({ ServerURL: HOST, Username: 'oauth2accesstoken', Secret: token });
    expect(out.keyring.stdout.trim()).toBe(token);
    // Minted once, by the daemon, for all four.
    expect(g.count('token')).toBe(1);
    expect(
      Object.values(out)
        .map((r) => r.stderr)
        .join(''),
    ).not.toContain(g.serviceAccountKey().private_key!.split('\n')[1]!);
  });

  it('without a daemon (CREDMUX_DAEMON=0), each helper mints in process and presents the token the same way', async () => {
    const keyUrl = 'https://iam.credmux.test';
    await writeConfig([{ id: 'gar', match: `https://${HOST}`, source: { type: 'google', credentials: { stored: keyUrl } } }]);
    await sb.credmux(['login', keyUrl, '--token-stdin'], `${JSON.stringify(g.serviceAccountKey())}\n`);
    const env = { ...sb.env, CREDMUX_DAEMON: '0', NODE_EXTRA_CA_CERTS: tls.caFile };
    const out = await askEachDoor(env);
    for (const [door, r] of Object.entries(out)) expect(r.code, `${door}: ${show(r)}`).toBe(0);
    expect(g.count('token')).toBe(4); // one mint per helper process: there is no daemon to share it
    expect(JSON.parse(out.docker.stdout)).toMatchObject({ Username: 'oauth2accesstoken', Secret: g.issued.token[2] });
    expect(JSON.parse(out.bazel.stdout).headers.Authorization).toEqual([`Bearer ${g.issued.token[0]}`]);
    // The stored key is an input, never an answer.
    const key = await sb.run(sb.bin('docker-credential-credmux'), ['get'], { env, input: 'iam.credmux.test' });
    expect(key.stdout).not.toContain('private_key');
  });

  it('workload identity in the rule (a CI token in the environment): STS, impersonation, the service account token in every door', async () => {
    await writeConfig([
      {
        id: 'gar-ci',
        match: `https://${HOST}`,
        source: {
          type: 'google',
          workloadIdentity: {
            audience: g.poolAudience,
            identity: { provider: 'env', var: 'CI_OIDC_TOKEN' },
            serviceAccount: g.impersonatedAccount,
            tokenUrl: `${g.url}${GOOGLE_ROUTES.sts}`,
            impersonationUrl: `${g.url}${GOOGLE_ROUTES.impersonate}${g.impersonatedAccount}:generateAccessToken`,
          },
        },
      },
    ]);
    const env = { ...sb.env, CI_OIDC_TOKEN: await g.ciToken(), NODE_EXTRA_CA_CERTS: tls.caFile };
    const out = await askEachDoor(env);
    for (const [door, r] of Object.entries(out)) expect(r.code, `${door}: ${show(r)}`).toBe(0);
    const token = g.issued.impersonate[0]!;
    expect(JSON.parse(out.docker.stdout)).toEqual({ ServerURL: HOST, Username: 'oauth2accesstoken', Secret: token });
    expect(out.keyring.stdout.trim()).toBe(token);
    expect(g.count('sts')).toBe(1);
    expect(g.count('impersonate')).toBe(1);
  });

  it('no metadata server and no credentials: every door fails in its own shape with the fix, and the absent server is not asked again', async () => {
    const notGoogle = await startGoogleServer();
    try {
      notGoogle.setMode('metadata', 'not-google');
      await writeConfig([{ id: 'gar', match: `https://${HOST}`, source: { type: 'google' } }]);
      const env = { ...sb.env, CLOUDSDK_CONFIG: mkdtempSync(join(sb.root, 'gcloud-')), GCE_METADATA_HOST: new URL(notGoogle.url).host };
      const out = await askEachDoor(env);
      for (const [door, r] of Object.entries(out)) {
        expect(r.code, door).not.toBe(0);
        expect(r.stderr + r.stdout, door).toContain('run gcloud auth application-default login');
      }
      expect(out.docker.stdout).toContain('rule "gar"');
      // One look at the server: every later door was answered from the negative cache or the daemon's backoff.
      expect(notGoogle.count('metadata')).toBe(1);
    } finally {
      await notGoogle.close();
    }
  });
});

describe('real git through the metadata server', () => {
  const TOKEN = `ya29.metadata-${Date.now().toString(36)}-0123456789abcdef`;
  let meta: GoogleServer;
  let server: GitServer;

  beforeAll(async () => {
    requireBuiltAndTools(['git', 'nginx', 'fcgiwrap', 'htpasswd']);
    meta = await startGoogleServer({ accessToken: TOKEN });
    server = await startGitServer({ user: 'oauth2accesstoken', password: TOKEN });
  });
  afterAll(async () => {
    await server?.stop();
    await meta?.close();
  });

  it('git clones as oauth2accesstoken with the token the metadata server (GCE_METADATA_HOST) gave credmux; without the rule it cannot', async () => {
    const git = (dest: string) =>
      sb.run(
        'git',
        ['-c', 'credential.helper=', '-c', `credential.helper=${distBin('git-credential-credmux')}`, 'clone', '-q', server.repoUrl, dest],
        {
          env: { ...sb.env, GCE_METADATA_HOST: new URL(meta.url).host },
        },
      );
    const denied = await git('denied');
    expect(denied.code, show(denied)).not.toBe(0);
    expect(meta.count('metadata')).toBe(0);

    await writeConfig([{ id: 'git-gcp', match: server.url, source: { type: 'google', credentials: 'metadata' } }]);
    const mark = await markLog(server);
    const ok = await git('repo');
    expect(ok.code, show(ok)).toBe(0);
    const log = await mark.lines((l) => l.some((x) => x.status === 200 && x.user === 'oauth2accesstoken'));
    expect(
      log.some((x) => x.status === 200 && x.user === 'oauth2accesstoken'),
      summary(log).join('\n'),
    ).toBe(true);
    expect(meta.count('metadata')).toBe(1);
    expect(meta.requests('metadata')[0]!.headers['metadata-flavor']).toBe('Google');
  });
});
