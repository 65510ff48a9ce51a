// The aws source through all four doors: the BUILT entries (dist/bin) as Bazel, git, Docker and
// pip/uv run them, in process (no daemon), against a loopback AWS (test/helpers/aws-server.ts) that
// verifies every SigV4 signature itself. Endpoints are moved there the way a user would: the SDKs'
// AWS_ENDPOINT_URL_<SERVICE> and AWS_EC2_METADATA_SERVICE_ENDPOINT variables.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isolatedEnv, run, type RunResult } from '../cli/run-bin.js';
import { requireBuilt } from '../helpers/dist.js';
import { startAwsServer, type AwsServer, type Keys } from '../helpers/aws-server.js';

let srv: AwsServer;
beforeAll(async () => {
  requireBuilt();
  srv = await startAwsServer();
});
afterAll(() => srv.close());
beforeEach(() => srv.reset());

const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const CA_HOST = 'acme-pkgs-111122223333.d.codeartifact.us-west-2.amazonaws.com';
const S3_HOST = 'build-cache.s3.eu-central-1.amazonaws.com';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'credmux-aws-'));
}

function keyEnv(k: Keys): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: k.accessKeyId,
    AWS_SECRET_ACCESS_KEY: k.secretAccessKey,
    ...(k.sessionToken ? { AWS_SESSION_TOKEN: k.sessionToken } : {}),
  };
}

/** A HOME with this config; every AWS endpoint on the loopback server; the machine's own IMDS never asked. */
function setup(rules: unknown[], extra: Record<string, string> = {}): Record<string, string> {
  const env = isolatedEnv({
    AWS_ENDPOINT_URL_ECR: srv.url,
    AWS_ENDPOINT_URL_CODEARTIFACT: srv.url,
    AWS_ENDPOINT_URL_STS: srv.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  });
  const dir = join(env.HOME!, '.config', 'credmux');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules }, null, 2));
  return env;
}

function rule(service: string, match: string, more: Record<string, unknown> = {}, ruleMore: Record<string, unknown> = {}) {
  return { id: `aws-${service}`, match, ...ruleMore, source: { type: 'aws', service, allowInsecureHttp: true, ...more } };
}

interface Doors {
  bazel: RunResult;
  git: RunResult;
  docker: RunResult;
  keyring: RunResult;
}

/** Asks all four doors for `host` (`path` below it), each as its tool does. */
async function askAll(env: Record<string, string>, host: string, path = '/team/app', user = 'AWS'): Promise<Doors> {
  const [bazel, git, docker, keyring] = await Promise.all([
    run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${host}${path}` })),
    run('git-credential-credmux', ['get'], env, `protocol=https\nhost=${host}\npath=${path.slice(1)}\n\n`),
    run('docker-credential-credmux', ['get'], env, host),
    run('keyring', ['get', `https://${host}${path}`, user], env),
  ]);
  return { bazel: bazel!, git: git!, docker: docker!, keyring: keyring! };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Every door served `user` with a password the server issued (in process each helper mints its own),
 * and the expiry where the door carries one.
 */
function expectServed(out: Doors, host: string, user: string): void {
  for (const [name, r] of Object.entries(out)) expect(r.code, `${name}: ${r.stderr}${r.stdout}`).toBe(0);
  const bazel = JSON.parse(out.bazel.stdout) as { headers: Record<string, string[]>; expires: string };
  const decoded = Buffer.from(bazel.headers.Authorization![0]!.replace(/^Basic /, ''), 'base64').toString();
  expect(decoded.startsWith(`${user}:`)).toBe(true);
  expect(bazel.headers).toEqual({ Authorization: [basic(user, decoded.slice(user.length + 1))] });
  expect(srv.issued).toContain(decoded.slice(user.length + 1));
  // The API's expiry, in whole seconds, hours away.
  expect(Date.parse(bazel.expires) / 1000).toBeGreaterThan(Date.now() / 1000 + 600);
  const git = /^username=(.*)\npassword=(.*)\npassword_expiry_utc=(\d+)\n$/.exec(out.git.stdout);
  expect(git?.[1]).toBe(user);
  expect(srv.issued).toContain(git?.[2]);
  expect(Number(git?.[3])).toBeGreaterThan(Date.now() / 1000 + 600);
  const docker = JSON.parse(out.docker.stdout) as { ServerURL: string; Username: string; Secret: string };
  expect(docker).toEqual({ ServerURL: host, Username: user, Secret: expect.any(String) });
  expect(srv.issued).toContain(docker.Secret);
  expect(srv.issued).toContain(out.keyring.stdout.replace(/\n$/, ''));
}

function everything(out: Doors): string {
  return Object.values(out)
    .map((r) => r.stdout + r.stderr)
    .join('\n');
}

describe('ECR: GetAuthorizationToken, region from the registry host, user AWS', () => {
  it('temporary keys from the environment: every door gets AWS:<password>, signed for eu-west-1 with the session token', async () => {
    const k = srv.newKeys({ session: true });
    const env = setup([rule('ecr', `https://${ECR_HOST}`)], keyEnv(k));
    const out = await askAll(env, ECR_HOST);
    // In process, each helper mints its own; the server verified all four signatures.
    expect(srv.count('ecr')).toBe(4);
    expect(srv.calls.filter((c) => c.api === 'ecr').map((c) => [c.region, c.accessKeyId])).toEqual(Array(4).fill(['eu-west-1', k.accessKeyId]));
    expectServed(out, ECR_HOST, 'AWS');
    expect(everything(out)).not.toContain(k.secretAccessKey);
    expect(everything(out)).not.toContain(k.sessionToken);
  });

  it('a profile in AWS_SHARED_CREDENTIALS_FILE, named by the rule; a profile that does not exist is named in the error', async () => {
    const k = srv.newKeys();
    const dir = scratch();
    const creds = join(dir, 'credentials');
    writeFileSync(
      creds,
      `[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n[ci]\naws_access_key_id = ${k.accessKeyId}\naws_secret_access_key = ${k.secretAccessKey}\n`,
      {
        mode: 0o600,
      },
    );
    const env = setup([rule('ecr', `https://${ECR_HOST}`, { profile: 'ci' })], {
      AWS_SHARED_CREDENTIALS_FILE: creds,
      AWS_CONFIG_FILE: join(dir, 'config'),
    });
    const r = await run('docker-credential-credmux', ['get'], env, ECR_HOST);
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout).Username).toBe('AWS');
    expect(srv.calls.at(-1)?.accessKeyId).toBe(k.accessKeyId);

    const missing = setup([rule('ecr', `https://${ECR_HOST}`, { profile: 'nope' })], {
      AWS_SHARED_CREDENTIALS_FILE: creds,
      AWS_CONFIG_FILE: join(dir, 'config'),
    });
    const m = await run('docker-credential-credmux', ['get'], missing, ECR_HOST);
    expect(m.code).toBe(1);
    expect(m.stdout).toContain(`AWS profile "nope" is in neither ${creds} nor ${join(dir, 'config')}; fix: aws configure --profile nope`);
  });

  it('web identity (IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through STS; a role that does not trust it is named with the fix', async () => {
    const dir = scratch();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${srv.webIdentityToken}\n`);
    const env = setup([rule('ecr', `https://${ECR_HOST}`)], { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: srv.trustedRole });
    const r = await run('git-credential-credmux', ['get'], env, `protocol=https\nhost=${ECR_HOST}\n\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('username=AWS\n');
    expect(srv.count('sts')).toBe(1);
    expect(srv.count('ecr')).toBe(1);

    const denied = setup([rule('ecr', `https://${ECR_HOST}`)], {
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/other',
    });
    const d = await run('git-credential-credmux', ['get'], denied, `protocol=https\nhost=${ECR_HOST}\n\n`);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('STS AssumeRoleWithWebIdentity');
    expect(d.stderr).toContain('AccessDenied');
    expect(d.stderr).toContain('fix: check that role arn:aws:iam::123456789012:role/other trusts this identity');
    expect(d.stderr).not.toContain(srv.webIdentityToken);
  });

  it('the instance metadata service (IMDSv2) at AWS_EC2_METADATA_SERVICE_ENDPOINT', async () => {
    const env = setup([rule('ecr', `https://${ECR_HOST}`)], { AWS_EC2_METADATA_DISABLED: 'false', AWS_EC2_METADATA_SERVICE_ENDPOINT: srv.url });
    const r = await run('keyring', ['get', `https://${ECR_HOST}/`, 'AWS'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(srv.issued).toContain(r.stdout.trim());
    const imds = srv.calls.filter((c) => c.api === 'imds').map((c) => c.path);
    expect(imds).toEqual([
      '/latest/api/token',
      '/latest/meta-data/iam/security-credentials/',
      '/latest/meta-data/iam/security-credentials/instance-role',
    ]);
  });

  it('no credentials anywhere and an unreachable metadata service: named with what was tried and the fix', async () => {
    const closed = await import('node:net').then(
      (net) =>
        new Promise<number>((resolve) => {
          const s = net.createServer().listen(0, '127.0.0.1', () => {
            const { port } = s.address() as import('node:net').AddressInfo;
            s.close(() => resolve(port));
          });
        }),
    );
    const env = setup([rule('ecr', `https://${ECR_HOST}`)], {
      AWS_EC2_METADATA_DISABLED: 'false',
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${closed}`,
    });
    const out = await askAll(env, ECR_HOST);
    for (const [name, r] of Object.entries(out)) {
      expect(r.code, name).toBe(1);
      const said = name === 'docker' ? r.stdout : r.stderr;
      expect(said, name).toContain('rule "aws-ecr"');
      expect(said, name).toContain(`no AWS credentials found (tried environment variables, profile "default"`);
      expect(said, name).toContain(`the instance metadata service at http://127.0.0.1:${closed}: the instance metadata service did not answer`);
      expect(said, name).toContain('fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    }
    expect(srv.count('ecr')).toBe(0);
  });

  it('no credentials with AWS_EC2_METADATA_DISABLED=true: the metadata service is not asked, and the error says so', async () => {
    const r = await run('credmux-bazel', ['get'], setup([rule('ecr', `https://${ECR_HOST}`)]), JSON.stringify({ uri: `https://${ECR_HOST}/v2/` }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no AWS credentials found (tried environment variables, profile "default"');
    expect(r.stderr).toContain('instance metadata is off by AWS_EC2_METADATA_DISABLED); fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  });

  it('expired credentials, a denied action, a wrong secret: each named with its fix, never the secret', async () => {
    const expired = srv.newKeys({ session: true, expired: true });
    const e = await run('docker-credential-credmux', ['get'], setup([rule('ecr', `https://${ECR_HOST}`)], keyEnv(expired)), ECR_HOST);
    expect(e.code).toBe(1);
    expect(e.stdout).toContain('ECR GetAuthorizationToken');
    expect(e.stdout).toContain('ExpiredTokenException');
    expect(e.stdout).toContain(
      'the AWS credentials from environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY have expired; fix: renew them',
    );

    const k = srv.newKeys();
    srv.ecr = 'denied';
    const d = await run('docker-credential-credmux', ['get'], setup([rule('ecr', `https://${ECR_HOST}`)], keyEnv(k)), ECR_HOST);
    expect(d.stdout).toContain('AccessDeniedException');
    expect(d.stdout).toContain('fix: allow ecr:GetAuthorizationToken in the IAM policy of that user or role');
    srv.ecr = 'ok';

    const wrong = { ...k, secretAccessKey: `${k.secretAccessKey.slice(0, -4)}AAAA` };
    const w = await run('docker-credential-credmux', ['get'], setup([rule('ecr', `https://${ECR_HOST}`)], keyEnv(wrong)), ECR_HOST);
    expect(w.stdout).toContain('InvalidSignatureException');
    expect(w.stdout).toContain('AWS did not accept the credentials from environment variables');
    for (const r of [e, d, w]) {
      expect(r.stdout + r.stderr).not.toContain(k.secretAccessKey);
      expect(r.stdout + r.stderr).not.toContain(expired.sessionToken);
    }
  });
});

describe('CodeArtifact: domain, owner and region from the repository host, user aws', () => {
  it('credential_process (JSON Version 1) in AWS_CONFIG_FILE: every door gets aws:<token>; the query names the domain', async () => {
    const k = srv.newKeys({ session: true });
    const dir = scratch();
    const script = join(dir, 'creds helper.sh');
    const exp = iso(Math.floor(Date.now() / 1000) + 3600);
    writeFileSync(
      script,
      `#!/bin/sh\nprintf '%s' '{"Version": 1, "AccessKeyId": "${k.accessKeyId}", "SecretAccessKey": "${k.secretAccessKey}", "SessionToken": "${k.sessionToken}", "Expiration": "${exp}"}'\n`,
    );
    chmodSync(script, 0o755);
    const config = join(dir, 'config');
    writeFileSync(config, `[profile build]\nregion = us-west-2\ncredential_process = "${script}" --profile build\n`, { mode: 0o600 });
    const env = setup([rule('codeartifact', `https://${CA_HOST}`, { durationSeconds: 3600 })], {
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
      AWS_PROFILE: 'build',
    });
    const out = await askAll(env, CA_HOST, '/pypi/main/simple/', 'aws');
    expectServed(out, CA_HOST, 'aws');
    const calls = srv.calls.filter((c) => c.api === 'codeartifact');
    expect(calls).toHaveLength(4);
    expect(calls[0]).toMatchObject({
      region: 'us-west-2',
      accessKeyId: k.accessKeyId,
      query: { domain: 'acme-pkgs', 'domain-owner': '111122223333', duration: '3600' },
    });
  });

  it('"kind": "bearer" gives Bazel a bearer token; a denied call names both IAM actions', async () => {
    const k = srv.newKeys();
    const env = setup([rule('codeartifact', `https://${CA_HOST}`, {}, { kind: 'bearer' })], keyEnv(k));
    const r = await run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${CA_HOST}/maven/main/a.jar` }));
    expect(r.code, r.stderr).toBe(0);
    const auth = (JSON.parse(r.stdout) as { headers: { Authorization: string[] } }).headers.Authorization[0]!;
    expect(srv.issued).toContain(auth.replace(/^Bearer /, ''));
    expect(srv.calls.at(-1)?.query?.duration).toBe('43200');

    srv.codeartifact = 'denied';
    const d = await run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${CA_HOST}/maven/main/b.jar` }));
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('CodeArtifact GetAuthorizationToken');
    expect(d.stderr).toContain('AccessDeniedException');
    expect(d.stderr).toContain('fix: allow codeartifact:GetAuthorizationToken and sts:GetServiceBearerToken');
  });
});

/** GET through node:http to the loopback S3, with the Host a real client would send for `uri`. */
function s3Get(uri: string, headers: Record<string, string[]>): Promise<{ status: number; body: string }> {
  const u = new URL(uri);
  const flat: Record<string, string> = { host: u.host };
  for (const [k, v] of Object.entries(headers)) flat[k] = v.join(',');
  const port = Number(new URL(srv.url).port);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `${u.pathname}${u.search}`, method: 'GET', headers: flat }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('S3: a SigV4 signature per URL, for Bazel only', () => {
  it('Bazel gets headers S3 accepts, expiring within 5 minutes; another URL needs its own; git, Docker and keyring say S3 signing only serves Bazel', async () => {
    const k = srv.newKeys({ session: true });
    const env = setup([rule('s3', `https://${S3_HOST}`)], keyEnv(k));
    const uri = `https://${S3_HOST}/cas/ab/abcdef0123.tar.gz`;
    const before = Math.floor(Date.now() / 1000);
    const r = await run('credmux-bazel', ['get'], env, JSON.stringify({ uri }));
    expect(r.code, r.stderr).toBe(0);
    const answer = JSON.parse(r.stdout) as { headers: Record<string, string[]>; expires: string };
    expect(Object.keys(answer.headers).sort()).toEqual(['Authorization', 'X-Amz-Content-Sha256', 'X-Amz-Date', 'X-Amz-Security-Token']);
    const expires = Date.parse(answer.expires) / 1000;
    expect(expires).toBeGreaterThan(before);
    expect(expires).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 300);

    const ok = await s3Get(uri, answer.headers);
    expect(ok).toEqual({ status: 200, body: 'object bytes of /cas/ab/abcdef0123.tar.gz' });
    expect(srv.calls.at(-1)).toMatchObject({ api: 's3', region: 'eu-central-1', accessKeyId: k.accessKeyId, host: S3_HOST });
    const other = await s3Get(`https://${S3_HOST}/cas/ab/other.tar.gz`, answer.headers);
    expect(other.status).toBe(403);
    expect(other.body).toContain('<Code>SignatureDoesNotMatch</Code>');

    // `credmux get` names the headers; their values only with --show-secret.
    const shown = await run('credmux', ['get', uri], env);
    expect(shown.stdout).toContain(
      'headers:  X-Amz-Content-Sha256, X-Amz-Date, X-Amz-Security-Token, Authorization (signed for this URL; only Bazel sends them;',
    );
    expect(shown.stdout).not.toContain('Signature=');
    const secretShown = await run('credmux', ['get', uri, '--show-secret'], env);
    expect(secretShown.stdout).toMatch(/^ {4}Authorization: AWS4-HMAC-SHA256 Credential=ASIA/m);

    // The doors added later hand on one token or one header for many URLs: they say the same.
    const later = await Promise.all([
      run('credmux-go', [uri], env),
      run('terraform-credentials-credmux', ['get', S3_HOST], env),
      run('credmux', ['token', uri], env),
      run('credmux-kube', ['--url', `https://${S3_HOST}`], env),
      run(
        'credmux-kubelet',
        [],
        env,
        JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: `${S3_HOST}/cas/app:1` }),
      ),
    ]);
    for (const res of later) {
      expect(res.code, res.stdout + res.stderr).not.toBe(0);
      expect(res.stderr).toContain('S3 signing only serves Bazel');
      expect(res.stdout).not.toContain('AWS4-HMAC-SHA256');
    }
    // cargo: an `other` error (exit 0), which cargo shows to the person (docs/protocols.md §10).
    const cargoGet = `{"v":1,"registry":{"index-url":"sparse+${uri.replace(/[^/]*$/, '')}","name":"s3"},"kind":"get","operation":"read"}\n`;
    const cargo = await run('cargo-credential-credmux', ['--cargo-plugin'], env, cargoGet);
    expect(cargo.stdout).toContain(
      '"Err":{"kind":"other","message":"credmux: rule \\"aws-s3\\" signs each request with AWS SigV4 (S3): S3 signing only serves Bazel',
    );

    for (const [name, out, args, stdin] of [
      ['git', 'stderr', ['get'], `protocol=https\nhost=${S3_HOST}\npath=cas/x\n\n`],
      ['docker', 'stdout', ['get'], S3_HOST],
      ['keyring', 'stderr', ['get', uri, '__token__'], ''],
    ] as const) {
      const entry = name === 'git' ? 'git-credential-credmux' : name === 'docker' ? 'docker-credential-credmux' : 'keyring';
      const res = await run(entry, [...args], env, stdin);
      expect(res.code, name).toBe(1);
      expect(res[out], name).toContain('rule "aws-s3" signs each request with AWS SigV4 (S3): S3 signing only serves Bazel');
      expect(res.stdout + res.stderr).not.toContain(k.secretAccessKey);
    }
  });

  it('a presigned URL is left alone; a host that names no region needs "region"', async () => {
    const k = srv.newKeys();
    const env = setup([rule('s3', '*.example.test')], keyEnv(k));
    const presigned = await run(
      'credmux-bazel',
      ['get'],
      env,
      JSON.stringify({ uri: 'https://files.example.test/a?X-Amz-Signature=abc&X-Amz-Credential=x' }),
    );
    expect(presigned.stdout).toBe('{"headers":{}}\n');
    const r = await run('credmux-bazel', ['get'], env, JSON.stringify({ uri: 'https://files.example.test/a' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot tell the AWS region: files.example.test is not an S3 endpoint name');
    expect(r.stderr).toContain('fix: set "region" in the rule');
    const withRegion = setup([rule('s3', '*.example.test', { region: 'us-east-2' })], keyEnv(k));
    const signed = await run('credmux-bazel', ['get'], withRegion, JSON.stringify({ uri: 'https://files.example.test/a' }));
    expect(signed.code, signed.stderr).toBe(0);
    const headers = (JSON.parse(signed.stdout) as { headers: Record<string, string[]> }).headers;
    expect(headers.Authorization![0]).toContain('/us-east-2/s3/aws4_request');
    expect((await s3Get('https://files.example.test/a', headers)).status).toBe(200);
  });
});
