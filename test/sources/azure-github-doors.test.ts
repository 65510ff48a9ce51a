// The azure and github-app sources through the four original doors — the BUILT credmux-bazel,
// git-credential-credmux, docker-credential-credmux and keyring, run as their tools run them — in
// process and through a real daemon, against the fake Entra/ACR (HTTPS, trusted through
// NODE_EXTRA_CA_CERTS as a user's private CA would be) and GitHub (under apiUrl) servers.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { daemonFiles } from '../../src/ipc/paths.js';
import { isolatedEnv, run } from '../cli/run-bin.js';
import { requireBuilt } from '../helpers/dist.js';
import { bazelGet, daemonTestEnv } from '../helpers/daemon-env.js';
import { startAzureServer, type AzureServer } from '../helpers/azure-server.js';
import { startGitHubServer, type GitHubServer } from '../helpers/github-server.js';

const ACR_USER = '00000000-0000-0000-0000-000000000000';
let az: AzureServer;
let gh: GitHubServer;

beforeAll(async () => {
  requireBuilt();
  [az, gh] = await Promise.all([startAzureServer(), startGitHubServer()]);
});
afterAll(async () => {
  await Promise.all([az.close(), gh.close()]);
});
beforeEach(() => {
  az.reset();
  gh.reset();
});

function withConfig(env: Record<string, string>, rules: unknown[]): Record<string, string> {
  const dir = join(env.HOME!, '.config', 'credmux');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules }, null, 2));
  return env;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Asks every door for https://<host><path> (Docker: the bare host) and parses what each printed. */
async function askAll(env: Record<string, string>, host: string, path: string, keyringUser: string) {
  const [bazel, git, docker, keyring] = await Promise.all([
    run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${host}${path}` })),
    run('git-credential-credmux', ['get'], env, `protocol=https\nhost=${host}\npath=${path.slice(1)}\n\n`),
    run('docker-credential-credmux', ['get'], env, host),
    run('keyring', ['get', `https://${host}${path}`, keyringUser], env),
  ]);
  for (const [name, r] of Object.entries({ bazel, git, docker, keyring })) expect(r!.code, `${name}: ${r!.stderr}${r!.stdout}`).toBe(0);
  const b = JSON.parse(bazel!.stdout) as { headers: { Authorization: string[] }; expires?: string };
  const gitAttrs = Object.fromEntries(
    git!.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    bazel: b,
    git: gitAttrs,
    docker: JSON.parse(docker!.stdout) as { ServerURL: string; Username: string; Secret: string },
    keyring: keyring!.stdout.trim(),
  };
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

function azureEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { AZURE_AUTHORITY_HOST: az.url, AZURE_TENANT_ID: az.tenant, AZURE_CLIENT_ID: az.clientId, NODE_EXTRA_CA_CERTS: az.tls.caFile, ...extra };
}

async function federatedFile(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'credmux-wi-')), 'token');
  writeFileSync(file, await az.serviceAccountToken());
  return file;
}

describe('azure through the four doors (in process)', () => {
  it('acr with workload identity: every door gets the ACR refresh token as the password of 00000000-…, with its expiry', async () => {
    const env = withConfig(isolatedEnv(azureEnv({ AZURE_FEDERATED_TOKEN_FILE: await federatedFile() })), [
      { id: 'acr', match: `https://${az.registry}`, source: { type: 'azure', service: 'acr' } },
    ]);
    const out = await askAll(env, az.registry, '/v2/team/app/manifests/v1', ACR_USER);
    // In process: each of the four helpers minted its own (the daemon test below shares one).
    const refresh = new Set(az.issued.filter((t) => decodeJwt(t).grant_type === 'refresh_token'));
    expect(refresh.size).toBe(4);
    expect(refresh.has(out.docker.Secret)).toBe(true);
    expect(out.docker).toEqual({ ServerURL: az.registry, Username: ACR_USER, Secret: out.docker.Secret });
    const bazelPass = Buffer.from(out.bazel.headers.Authorization[0]!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    expect(bazelPass[0]).toBe(ACR_USER);
    expect(refresh.has(bazelPass[1]!)).toBe(true);
    expect(out.bazel.headers.Authorization).toEqual([basic(ACR_USER, bazelPass[1]!)]);
    expect(out.bazel.expires).toBe(iso(decodeJwt(bazelPass[1]!).exp!));
    expect(out.git.username).toBe(ACR_USER);
    expect(refresh.has(out.git.password!)).toBe(true);
    expect(Number(out.git.password_expiry_utc)).toBe(decodeJwt(out.git.password!).exp);
    expect(refresh.has(out.keyring)).toBe(true);
    expect(az.requests('exchange').every((r) => r.form.get('service') === az.registry)).toBe(true);
  });

  it('artifacts with a client secret in AZURE_CLIENT_SECRET: Bazel gets Bearer, pip/git/Docker the token as a password', async () => {
    const host = 'pkgs.dev.azure.com';
    const env = withConfig(isolatedEnv(azureEnv({ AZURE_CLIENT_SECRET: az.clientSecret })), [
      // Host-wide: Docker asks for a registry host, never a path.
      { id: 'feed', match: `https://${host}`, source: { type: 'azure', service: 'artifacts', clientSecret: { env: 'AZURE_CLIENT_SECRET' } } },
    ]);
    const out = await askAll(env, host, '/acme/_packaging/feed/pypi/simple/', '__token__');
    const t = out.bazel.headers.Authorization[0]!.replace(/^Bearer /, '');
    expect(az.issued).toContain(t);
    expect(decodeJwt(t).aud).toBe('499b84ac-1321-427f-aa17-267ca6975798');
    expect(out.git.username).toBe('__token__');
    expect(az.issued).toContain(out.git.password);
    expect(az.issued).toContain(out.docker.Secret);
    expect(az.issued).toContain(out.keyring);
    const shown = JSON.stringify(out);
    expect(shown).not.toContain(az.clientSecret);
  });

  it('a refused client secret reaches every door as its own error, with the fix and without the secret', async () => {
    const wrong = 'wrong-secret-0123456789abcdefghij';
    const env = withConfig(isolatedEnv(azureEnv({ AZURE_CLIENT_SECRET: wrong })), [
      { id: 'acr', match: `https://${az.registry}`, source: { type: 'azure', service: 'acr', clientSecret: { env: 'AZURE_CLIENT_SECRET' } } },
    ]);
    const rs = await Promise.all([
      run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${az.registry}/v2/` })),
      run('git-credential-credmux', ['get'], env, `protocol=https\nhost=${az.registry}\n\n`),
      run('docker-credential-credmux', ['get'], env, az.registry),
      run('keyring', ['get', `https://${az.registry}/`, ACR_USER], env),
    ]);
    for (const r of rs) {
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain('AADSTS7000215: Invalid client secret provided.');
      expect(r.stdout + r.stderr).toContain('fix: set AZURE_CLIENT_SECRET to a valid client secret');
      expect(r.stdout + r.stderr).not.toContain(wrong);
    }
  });
});

describe('github-app through the four doors (in process)', () => {
  function ghRule(extra: Record<string, unknown> = {}) {
    return {
      id: 'gh',
      match: 'https://github.com', // host-wide: Docker asks for a registry host, never a path
      source: {
        type: 'github-app',
        appId: gh.clientId,
        privateKey: { env: 'GH_APP_KEY' },
        installation: { repository: 'acme/app' },
        apiUrl: gh.apiUrl,
        allowInsecureHttp: true,
      },
      ...extra,
    };
  }

  it('git, Docker and keyring get x-access-token + the installation token; Bazel Basic, or Bearer where the rule says', async () => {
    const env = withConfig(isolatedEnv({ GH_APP_KEY: gh.privateKeyPem }), [
      ghRule(),
      { ...ghRule({ kind: 'bearer' }), id: 'raw', match: 'https://raw.githubusercontent.com/acme' },
    ]);
    const out = await askAll(env, 'github.com', '/acme/app.git', 'x-access-token');
    expect(out.git.username).toBe('x-access-token');
    expect(gh.issued).toContain(out.git.password);
    expect(Number(out.git.password_expiry_utc)).toBe(Date.parse(gh.answers.find((a) => a.token === out.git.password)!.expires_at as string) / 1000);
    expect(out.docker.Username).toBe('x-access-token');
    expect(gh.issued).toContain(out.docker.Secret);
    expect(gh.issued).toContain(out.keyring);
    const [user, token] = Buffer.from(out.bazel.headers.Authorization[0]!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    expect(user).toBe('x-access-token');
    expect(gh.issued).toContain(token);
    const raw = await run('credmux-bazel', ['get'], env, JSON.stringify({ uri: 'https://raw.githubusercontent.com/acme/app/main/BUILD' }));
    const bearer = (JSON.parse(raw.stdout) as { headers: { Authorization: string[] } }).headers.Authorization[0]!;
    expect(bearer).toMatch(/^Bearer ghs_/);
    expect(gh.issued).toContain(bearer.slice(7));
    expect(JSON.stringify(out)).not.toContain('PRIVATE KEY');
  });
});

describe('through a real daemon: a burst of helpers mints once', () => {
  it('acr: 20 helpers at once → one Entra token request and one exchange, one refresh token for all', { timeout: 60_000 }, async () => {
    const env = daemonTestEnv(
      [{ id: 'acr', match: `https://${az.registry}`, source: { type: 'azure', service: 'acr' } }],
      azureEnv({ AZURE_FEDERATED_TOKEN_FILE: await federatedFile() }),
    );
    const answers = await Promise.all(Array.from({ length: 20 }, () => bazelGet(env, `https://${az.registry}/v2/`)));
    expect(answers.filter((a) => a.code !== 0).map((a) => a.stderr)).toEqual([]);
    expect(new Set(answers.map((a) => a.authorization)).size).toBe(1);
    expect(az.requests('token')).toHaveLength(1);
    expect(az.requests('exchange')).toHaveLength(1);
    // And it was the daemon that minted: its status lists the cached token under the rule.
    const status = await run('credmux', ['daemon', 'status', '--json'], env);
    expect(status.stdout).toContain('acr');
    expect(readFileSync(daemonFiles(env).logFile, 'utf8')).not.toContain(az.issued[1]!);
  });

  it('github-app: 20 helpers at once → one lookup and one mint', { timeout: 60_000 }, async () => {
    const env = daemonTestEnv(
      [
        {
          id: 'gh',
          match: 'https://github.com/acme',
          source: {
            type: 'github-app',
            appId: gh.appId,
            privateKey: { env: 'GH_APP_KEY' },
            installation: { org: 'acme' },
            apiUrl: gh.apiUrl,
            allowInsecureHttp: true,
          },
        },
      ],
      { GH_APP_KEY: gh.privateKeyPem },
    );
    const answers = await Promise.all(Array.from({ length: 20 }, () => bazelGet(env, 'https://github.com/acme/app/releases/download/v1/app.tar.gz')));
    expect(answers.filter((a) => a.code !== 0).map((a) => a.stderr)).toEqual([]);
    expect(new Set(answers.map((a) => a.authorization)).size).toBe(1);
    expect(gh.issued).toHaveLength(1);
    expect(gh.requests().map((r) => r.path)).toEqual(['/api/v3/orgs/acme/installation', '/api/v3/app/installations/4242/access_tokens']);
  });
});
