// The aws source through a real daemon (built entries, CREDMUX_DAEMON unset): one ECR mint serves a
// burst of helpers; S3 signatures cross the daemon socket as headers (Credential.headers) and are made
// per URL from AWS credentials the daemon keeps (one credential_process run for many URLs); callers
// with other AWS keys in their environment get their own.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import { daemonStatus, startDaemon } from '../../src/client/daemon-control.js';
import { daemonFiles } from '../../src/ipc/paths.js';
import { distBin, requireBuilt } from '../helpers/dist.js';
import { daemonTestEnv } from '../helpers/daemon-env.js';
import { startAwsServer, type AwsServer, type Keys } from '../helpers/aws-server.js';

const BURST = 40;
const ECR_HOST = '123456789012.dkr.ecr.ap-south-1.amazonaws.com';
const S3_HOST = 'artifacts.s3.us-east-2.amazonaws.com';
let srv: AwsServer;

beforeAll(async () => {
  requireBuilt();
  srv = await startAwsServer();
});

afterAll(async () => {
  await srv.close();
});

function daemonEnv(extra: Record<string, string>): Record<string, string> {
  const rules = [
    { id: 'ecr', match: `https://${ECR_HOST}`, source: { type: 'aws', service: 'ecr', allowInsecureHttp: true } },
    { id: 's3', match: `https://${S3_HOST}`, source: { type: 'aws', service: 's3' } },
  ];
  return daemonTestEnv(rules, { AWS_ENDPOINT_URL_ECR: srv.url, AWS_EC2_METADATA_DISABLED: 'true', ...extra });
}

function helper(
  name: 'credmux-bazel' | 'docker-credential-credmux',
  env: Record<string, string>,
  stdin: string,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(distBin(name), ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
}

function s3Get(uri: string, headers: Record<string, string[]>): Promise<number> {
  const u = new URL(uri);
  const flat: Record<string, string> = { host: u.host };
  for (const [k, v] of Object.entries(headers)) flat[k] = v.join(',');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(new URL(srv.url).port), path: u.pathname, headers: flat }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function daemonGets(env: Env): Promise<number> {
  const s = await daemonStatus(env);
  return s.running ? s.requests.get : -1;
}

function keyEnv(k: Keys): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: k.accessKeyId,
    AWS_SECRET_ACCESS_KEY: k.secretAccessKey,
    ...(k.sessionToken ? { AWS_SESSION_TOKEN: k.sessionToken } : {}),
  };
}

describe('aws through the daemon', () => {
  it(`${BURST} docker helpers at once on a cold cache: one ECR GetAuthorizationToken, one password`, { timeout: 120_000 }, async () => {
    srv.reset();
    const env = daemonEnv(keyEnv(srv.newKeys({ session: true })));
    await startDaemon(env);
    const answers = await Promise.all(Array.from({ length: BURST }, () => helper('docker-credential-credmux', env, ECR_HOST)));
    const failed = answers.filter((a) => a.code !== 0);
    expect(failed.map((a) => a.out + a.err).slice(0, 3)).toEqual([]);
    const secrets = new Set(answers.map((a) => (JSON.parse(a.out) as { Secret: string }).Secret));
    expect(secrets.size).toBe(1);
    expect(srv.issued).toEqual([...secrets]);
    expect(srv.count('ecr')).toBe(1);
    expect(await daemonGets(env)).toBe(BURST);
  });

  it(
    'S3: two URLs signed by the daemon from one credential_process run; a caller with other keys signs with its own',
    { timeout: 60_000 },
    async () => {
      srv.reset();
      const k = srv.newKeys({ session: true });
      const dir = mkdtempSync(join(tmpdir(), 'cmx-p-'));
      const runs = join(dir, 'runs');
      const script = join(dir, 'creds.sh');
      const exp = new Date(Date.now() + 3600_000).toISOString();
      writeFileSync(
        script,
        `#!/bin/sh\necho run >> '${runs}'\nprintf '%s' '{"Version":1,"AccessKeyId":"${k.accessKeyId}","SecretAccessKey":"${k.secretAccessKey}","SessionToken":"${k.sessionToken}","Expiration":"${exp}"}'\n`,
      );
      chmodSync(script, 0o755);
      const config = join(dir, 'config');
      writeFileSync(config, `[default]\ncredential_process = ${script}\n`, { mode: 0o600 });
      const env = daemonEnv({ AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials') });
      await startDaemon(env);
      for (const path of ['/a/one.tar.gz', '/b/two.zip']) {
        const uri = `https://${S3_HOST}${path}`;
        const r = await helper('credmux-bazel', env, JSON.stringify({ uri }));
        expect(r.code, r.err).toBe(0);
        const { headers } = JSON.parse(r.out) as { headers: Record<string, string[]> };
        expect(await s3Get(uri, headers)).toBe(200);
        expect(srv.calls.at(-1)).toMatchObject({ api: 's3', region: 'us-east-2', accessKeyId: k.accessKeyId });
      }
      expect(readFileSync(runs, 'utf8')).toBe('run\n');
      expect(await daemonGets(env)).toBe(2);

      // Another caller of the same daemon with keys of its own in its environment.
      const other = srv.newKeys();
      const r = await helper('credmux-bazel', { ...env, ...keyEnv(other) }, JSON.stringify({ uri: `https://${S3_HOST}/c/three` }));
      expect(r.code, r.err).toBe(0);
      expect(await s3Get(`https://${S3_HOST}/c/three`, (JSON.parse(r.out) as { headers: Record<string, string[]> }).headers)).toBe(200);
      expect(srv.calls.at(-1)?.accessKeyId).toBe(other.accessKeyId);
      expect(await daemonGets(env)).toBe(3);
      expect(readFileSync(daemonFiles(env).logFile, 'utf8')).not.toContain(k.secretAccessKey);
    },
  );
});
