// The aws source's pure parts: SigV4 as aws4 signs it against the test server's own verifier (written
// from AWS's documentation with node:crypto) and against AWS's published example, the host names
// that carry a region or a CodeArtifact domain, credential_process command lines, AWS error shapes.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readProfile } from '../../src/sources/aws/profile.js';
import { signedHeaders } from '../../src/sources/aws/sign.js';
import { codeArtifactRepo, ecrRegion, s3Region } from '../../src/sources/aws/hosts.js';
import { shellWords } from '../../src/sources/aws/shell-words.js';
import { awsErrorOf } from '../../src/sources/aws/errors.js';
import { parseConfig } from '../../src/engine/config.js';
import { forgetUnreachable, imdsCredentials } from '../../src/sources/aws/imds.js';
import { verifySigV4, type Keys } from '../helpers/aws-server.js';

// AWS's SigV4 test suite, "get-vanilla" (aws-sig-v4-test-suite/get-vanilla in the SigV4 docs' examples):
// the signature below is AWS's, not computed here.
const EXAMPLE: Keys = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const EXAMPLE_SIGNATURE = '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';
const EXAMPLE_TIME = Date.UTC(2015, 7, 30, 12, 36, 0) / 1000;

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

describe('SigV4', () => {
  it("the verifier accepts AWS's published get-vanilla example and refuses it with one character changed", () => {
    const keys = new Map([[EXAMPLE.accessKeyId, EXAMPLE]]);
    const headers = {
      host: 'example.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${EXAMPLE_SIGNATURE}`,
    };
    const req = { method: 'GET', rawPath: '/', rawQuery: '', headers, body: Buffer.alloc(0) };
    expect(verifySigV4(req, keys, EXAMPLE_TIME * 1000)).toMatchObject({ ok: true, region: 'us-east-1', service: 'service' });
    expect(verifySigV4({ ...req, rawPath: '/x' }, keys, EXAMPLE_TIME * 1000)).toMatchObject({ ok: false, code: 'InvalidSignatureException' });
    expect(verifySigV4(req, keys, EXAMPLE_TIME * 1000 + 16 * 60_000)).toMatchObject({ ok: false });
  });

  it("credmux's signer gives AWS's signature for the same request", async () => {
    const h = await signedHeaders(
      { url: new URL('https://example.amazonaws.com/'), method: 'GET', service: 'service', region: 'us-east-1', now: EXAMPLE_TIME },
      {
        ...EXAMPLE,
        from: 'test',
      },
    );
    expect(h.Authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${EXAMPLE_SIGNATURE}`,
    );
  });

  it('a POST with a query, a port and a session token verifies; a changed body, query or token does not', async () => {
    const k: Keys = { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'c2VjcmV0', sessionToken: 'session-token-1' };
    const keys = new Map([[k.accessKeyId, k]]);
    const url = new URL('http://127.0.0.1:8443/v1/authorization-token?domain=acme&domain-owner=123456789012&duration=900');
    const now = Math.floor(Date.now() / 1000);
    const h = lower(
      await signedHeaders({ url, method: 'POST', service: 'codeartifact', region: 'eu-west-1', body: '', now }, { ...k, from: 'test' }),
    );
    expect(h['x-amz-security-token']).toBe('session-token-1');
    const req = { method: 'POST', rawPath: url.pathname, rawQuery: url.search.slice(1), headers: { ...h, host: url.host }, body: Buffer.alloc(0) };
    expect(verifySigV4(req, keys)).toMatchObject({ ok: true, region: 'eu-west-1', service: 'codeartifact' });
    expect(verifySigV4({ ...req, body: Buffer.from('x') }, keys)).toMatchObject({ ok: false });
    expect(verifySigV4({ ...req, rawQuery: 'domain=acme&domain-owner=123456789012&duration=901' }, keys)).toMatchObject({ ok: false });
    expect(verifySigV4({ ...req, headers: { ...req.headers, 'x-amz-security-token': 'other' } }, keys)).toMatchObject({ ok: false });
    expect(verifySigV4({ ...req, headers: { ...req.headers, host: '127.0.0.1:8444' } }, keys)).toMatchObject({ ok: false });
  });

  it('an S3 GET with characters to encode in its key verifies', async () => {
    const k: Keys = { accessKeyId: 'AKIAS3', secretAccessKey: 'wJalrXUtnFEMI' };
    const url = new URL('https://my-bucket.s3.eu-central-1.amazonaws.com/dir/a%20b%2Bc~d.tar.gz');
    const h = lower(
      await signedHeaders(
        {
          url,
          method: 'GET',
          service: 's3',
          region: 'eu-central-1',
          headers: { 'X-Amz-Content-Sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
          now: Math.floor(Date.now() / 1000),
        },
        { ...k, from: 'test' },
      ),
    );
    const req = { method: 'GET', rawPath: url.pathname, rawQuery: '', headers: { ...h, host: url.host }, body: Buffer.alloc(0) };
    expect(verifySigV4(req, new Map([[k.accessKeyId, k]]))).toMatchObject({ ok: true, service: 's3' });
  });
});

describe('host names', () => {
  it.each([
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'us-east-1'],
    ['123456789012.dkr.ecr.eu-central-1.amazonaws.com', 'eu-central-1'],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ['public.ecr.aws', undefined],
    ['12345.dkr.ecr.us-east-1.amazonaws.com', undefined],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example', undefined],
  ])('ECR %s → %s', (host, region) => expect(ecrRegion(host)).toBe(region));

  it('CodeArtifact: domain (with hyphens), owner and region from the repository host', () => {
    expect(codeArtifactRepo('my-domain-111122223333.d.codeartifact.us-west-2.amazonaws.com')).toEqual({
      domain: 'my-domain',
      owner: '111122223333',
      region: 'us-west-2',
    });
    expect(codeArtifactRepo('codeartifact.us-west-2.amazonaws.com')).toBeUndefined();
  });

  it.each([
    ['s3.amazonaws.com', 'us-east-1'],
    ['bucket.s3.amazonaws.com', 'us-east-1'],
    ['bucket.s3.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['s3.ap-southeast-2.amazonaws.com', 'ap-southeast-2'],
    ['bucket.s3-us-west-2.amazonaws.com', 'us-west-2'],
    ['bucket.s3.dualstack.sa-east-1.amazonaws.com', 'sa-east-1'],
    ['bucket.s3.cn-northwest-1.amazonaws.com.cn', 'cn-northwest-1'],
    ['storage.googleapis.com', undefined],
    ['bucket.s3-accelerate.amazonaws.com', undefined],
  ])('S3 %s → %s', (host, region) => expect(s3Region(host)).toBe(region));
});

describe('credential_process command lines (POSIX words, no shell)', () => {
  it.each([
    ['/opt/bin/creds --profile dev', ['/opt/bin/creds', '--profile', 'dev']],
    [`"/opt/my tools/creds" --name 'a b' c\\ d`, ['/opt/my tools/creds', '--name', 'a b', 'c d']],
    [`creds "x\\"y" '$HOME' ;rm`, ['creds', 'x"y', '$HOME', ';rm']],
    ['  creds   ', ['creds']],
  ])('%s', (line, words) => expect(shellWords(line)).toEqual(words));
  it.each([`creds "open`, `creds 'open`, 'creds \\'])('%s is refused', (line) => expect(shellWords(line)).toBeUndefined());
});

describe('AWS error answers', () => {
  const res = (status: number, text: string, headers: Record<string, string> = {}) => ({ status, text, headers, url: 'https://x/' });
  it('JSON 1.1 (__type with a namespace), REST-JSON (X-Amzn-ErrorType), Query XML', () => {
    expect(awsErrorOf(res(400, '{"__type":"com.amazonaws.ecr#AccessDeniedException","message":"no"}'))).toEqual({
      code: 'AccessDeniedException',
      message: 'no',
    });
    expect(awsErrorOf(res(403, '{"message":"denied"}', { 'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/' }))).toEqual({
      code: 'AccessDeniedException',
      message: 'denied',
    });
    expect(
      awsErrorOf(res(403, '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>a &amp; b</Message></Error></ErrorResponse>')),
    ).toEqual({
      code: 'AccessDenied',
      message: 'a & b',
    });
    expect(awsErrorOf(res(502, '<html>bad gateway</html>'))).toBeUndefined();
  });
});

describe('config: the aws source in the schema', () => {
  const cfg = (source: Record<string, unknown>, match = 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com') =>
    JSON.stringify({ rules: [{ id: 'a', match, source: { type: 'aws', ...source } }] });
  it('accepts each service with its own keys', () => {
    expect(() => parseConfig(cfg({ service: 'ecr', profile: 'ci', region: 'eu-west-1' }), 't')).not.toThrow();
    expect(() => parseConfig(cfg({ service: 'codeartifact', domain: 'acme', domainOwner: '111122223333', durationSeconds: 900 }), 't')).not.toThrow();
    expect(() =>
      parseConfig(cfg({ service: 's3', region: 'us-east-1', ttlSeconds: 600 }, 'https://bucket.s3.us-east-1.amazonaws.com'), 't'),
    ).not.toThrow();
    // Every bucket's host is under this public suffix: a wildcard over it would serve strangers' buckets.
    expect(() => parseConfig(cfg({ service: 's3' }, '*.s3.us-east-1.amazonaws.com'), 't')).toThrow('public suffix');
  });
  it.each([
    [{ service: 'sqs' }, '/rules/0/source/service'],
    [{ service: 'ecr', domain: 'acme' }, '/rules/0/source'],
    [{ service: 'codeartifact', durationSeconds: 100 }, '/rules/0/source/durationSeconds'],
    [{ service: 'ecr', region: 'Europe' }, '/rules/0/source/region'],
    [{ service: 'ecr', endpoint: 'https://x' }, '/rules/0/source'],
    [{}, '/rules/0/source'],
  ])('refuses %j at %s', (source, at) => {
    expect(() => parseConfig(cfg(source), 't')).toThrow(at);
  });
});

describe('IMDS: bounded, with a negative cache', () => {
  it('a metadata service that never answers is given up on, then not asked again for a while', async () => {
    const { createServer } = await import('node:http');
    let requests = 0;
    const held: import('node:http').ServerResponse[] = [];
    const stall = createServer((_req, res) => {
      requests++;
      held.push(res); // never answered
    });
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(stall.address() as import('node:net').AddressInfo).port}`;
    try {
      forgetUnreachable();
      const env = { AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint };
      await expect(imdsCredentials(env)).rejects.toThrow(
        `the instance metadata service did not answer: ${endpoint}/latest/api/token did not answer within 0.9 s`,
      );
      await expect(imdsCredentials(env)).rejects.toThrow(/\(not asked again for \d+ s\)$/);
      expect(requests).toBe(1);
    } finally {
      for (const r of held) r.destroy();
      stall.closeAllConnections();
      await new Promise((resolve) => stall.close(resolve));
      forgetUnreachable();
    }
  });

  it('plain http only to the link-local address or loopback; another host must be https', async () => {
    await expect(imdsCredentials({ AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://metadata.example.com' })).rejects.toThrow(
      'uses plain http to a host that is not this machine',
    );
  });
});

describe('shared AWS files another user could have written', () => {
  // A credential_process in ~/.aws/config runs as the user: such a file is refused, with the fix.
  it('a config file writable by group or others is refused (chmod go-w named); a private one is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-aws-files-'));
    const config = join(dir, 'config');
    writeFileSync(config, '[profile dev]\ncredential_process = /bin/echo\nregion = eu-west-1\n');
    const env = { HOME: dir, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') };
    chmodSync(config, 0o666);
    expect(() => readProfile(env, 'dev')).toThrow(`${config} is writable by group or others; fix: chmod go-w ${config}`);
    chmodSync(config, 0o600);
    expect(readProfile(env, 'dev').values.credential_process).toBe('/bin/echo');
  });
});
