// A loopback AWS for the aws source's tests: the ECR and CodeArtifact GetAuthorizationToken APIs, STS
// AssumeRoleWithWebIdentity, the EC2 instance metadata service (IMDSv2) and S3 object GETs. Every
// signed call is VERIFIED: the expected SigV4 signature is computed here with node:crypto from the
// documented algorithm (never with aws4, which the product signs with), and a mismatch, an unknown
// key, a missing or wrong session token or a stale X-Amz-Date is refused in the API's own error shape.
//
// Shapes, by source:
// - SigV4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
//   (canonical request, string to sign, signing key), and for S3 (URI encoded once, payload hash in
//   X-Amz-Content-Sha256) https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// - ECR (JSON 1.1): https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html
//   and API_AuthorizationData.html; errors {"__type", "message"} per
//   https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#operation-error-serialization
// - CodeArtifact (REST-JSON): https://docs.aws.amazon.com/codeartifact/latest/APIReference/API_GetAuthorizationToken.html;
//   errors in X-Amzn-ErrorType + {"message"} per https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html
// - STS (Query, XML): https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html,
//   errors https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
// - IMDSv2: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html and
//   …/iam-roles-for-amazon-ec2.html#instance-metadata-security-credentials
// - S3 errors: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** ExpiredTokenException for every call signed with them. */
  expired?: boolean;
}

export type ApiMode = 'ok' | 'denied' | '500';

export interface SeenCall {
  api: 'ecr' | 'codeartifact' | 'sts' | 's3' | 'imds';
  region?: string;
  accessKeyId?: string;
  query?: Record<string, string>;
  path: string;
  host?: string;
}

export interface AwsServer {
  url: string;
  keys: Map<string, Keys>;
  /** The ECR password and CodeArtifact tokens handed out, newest last. */
  issued: string[];
  calls: SeenCall[];
  count(api: SeenCall['api']): number;
  ecr: ApiMode;
  codeartifact: ApiMode;
  /** STS: the web identity token it accepts, the role it lets assume it, and the keys it hands out. */
  webIdentityToken: string;
  trustedRole: string;
  /** IMDS: the role name, and whether the instance has one. */
  imdsRole: string | null;
  /** Seconds until credentials from STS and IMDS expire. */
  sessionSeconds: number;
  /** Adds a fresh key pair it accepts. */
  newKeys(opts?: { session?: boolean; expired?: boolean }): Keys;
  reset(): void;
  close(): Promise<void>;
}

/** RFC 3986 unreserved characters stay; everything else %XX upper-case (the SigV4 UriEncode). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function canonicalUri(rawPath: string, s3: boolean): string {
  const segments = rawPath.split('/').map((seg) => uriEncode(decodeURIComponent(seg)));
  // Every service but S3 encodes the (already encoded) path a second time.
  return (s3 ? segments : segments.map(uriEncode)).join('/') || '/';
}

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery.split('&').map((p) => {
    const eq = p.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? p : p.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(p.slice(eq + 1));
    return [uriEncode(k), uriEncode(v)] as const;
  });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export type Verdict = { ok: true; keys: Keys; region: string; service: string } | { ok: false; status: number; code: string; message: string };

/**
 * Verifies a request's SigV4 Authorization header against `keys`; `body` is the raw payload. Exported
 * so a unit test can check it against AWS's published example.
 */
export function verifySigV4(
  req: { method: string; rawPath: string; rawQuery: string; headers: IncomingMessage['headers']; body: Buffer },
  keys: Map<string, Keys>,
  nowMs = Date.now(),
): Verdict {
  const auth = String(req.headers.authorization ?? '');
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m)
    return { ok: false, status: 403, code: 'IncompleteSignature', message: 'Authorization header requires Credential, SignedHeaders and Signature' };
  const [, akid, date, region, service, signedList, signature] = m as unknown as string[];
  const s3 = service === 's3';
  const k = keys.get(akid!);
  if (!k)
    return {
      ok: false,
      status: 403,
      code: s3 ? 'InvalidAccessKeyId' : 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const signed = signedList!.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) {
    return { ok: false, status: 403, code: 'IncompleteSignature', message: 'host and x-amz-date must be signed' };
  }
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date)
    return { ok: false, status: 403, code: 'IncompleteSignature', message: 'bad X-Amz-Date' };
  const at = Date.UTC(
    +amzDate.slice(0, 4),
    +amzDate.slice(4, 6) - 1,
    +amzDate.slice(6, 8),
    +amzDate.slice(9, 11),
    +amzDate.slice(11, 13),
    +amzDate.slice(13, 15),
  );
  if (Math.abs(nowMs - at) > 15 * 60_000) {
    return {
      ok: false,
      status: 403,
      code: s3 ? 'RequestTimeTooSkewed' : 'InvalidSignatureException',
      message: 'Signature expired: the request time is too far from the current time.',
    };
  }
  const token = req.headers['x-amz-security-token'];
  if ((k.sessionToken ?? '') !== (token ?? '') || (k.sessionToken && !signed.includes('x-amz-security-token'))) {
    return {
      ok: false,
      status: 403,
      code: s3 ? 'InvalidToken' : 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  }
  const headerLines = signed.map((name) => {
    const v = req.headers[name];
    const value = (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
    return `${name}:${value}\n`;
  });
  let payloadHash = sha256(req.body);
  if (s3) {
    const declared = String(req.headers['x-amz-content-sha256'] ?? '');
    if (declared !== 'UNSIGNED-PAYLOAD' && declared !== payloadHash) {
      return {
        ok: false,
        status: 400,
        code: 'XAmzContentSHA256Mismatch',
        message: 'The provided x-amz-content-sha256 header does not match what was computed.',
      };
    }
    payloadHash = declared;
  }
  const canonical = [req.method, canonicalUri(req.rawPath, s3), canonicalQuery(req.rawQuery), headerLines.join(''), signedList, payloadHash].join(
    '\n',
  );
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${k.secretAccessKey}`, date!), region!), service!), 'aws4_request');
  const expected = hmac(key, toSign).toString('hex');
  if (expected !== signature) {
    return {
      ok: false,
      status: s3 ? 403 : 400,
      code: s3 ? 'SignatureDoesNotMatch' : 'InvalidSignatureException',
      message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    };
  }
  if (k.expired)
    return {
      ok: false,
      status: s3 ? 400 : 400,
      code: s3 ? 'ExpiredToken' : 'ExpiredTokenException',
      message: 'The security token included in the request is expired',
    };
  return { ok: true, keys: k, region: region!, service: service! };
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export async function startAwsServer(): Promise<AwsServer> {
  const sockets = new Set<Socket>();
  const imdsTokens = new Set<string>();
  const state: Omit<AwsServer, 'url' | 'close' | 'count' | 'newKeys' | 'reset'> = {
    keys: new Map(),
    issued: [],
    calls: [],
    ecr: 'ok',
    codeartifact: 'ok',
    webIdentityToken: `wi-${randomBytes(12).toString('hex')}`,
    trustedRole: 'arn:aws:iam::123456789012:role/ci',
    imdsRole: 'instance-role',
    sessionSeconds: 3600,
  };
  const newKeys = (opts: { session?: boolean; expired?: boolean } = {}): Keys => {
    const k: Keys = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64') };
    if (opts.session) {
      k.accessKeyId = `ASIA${k.accessKeyId.slice(4)}`;
      k.sessionToken = `IQoJb3JpZ2luX2Vj${randomBytes(40).toString('base64')}`;
    }
    if (opts.expired) k.expired = true;
    state.keys.set(k.accessKeyId, k);
    return k;
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...headers });
    res.end(JSON.stringify(body));
  };
  const xml = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/xml' });
    res.end(body);
  };

  function ecr(res: ServerResponse, v: Verdict & { ok: true }) {
    if (state.ecr === 'denied') {
      return json(res, 400, {
        __type: 'AccessDeniedException',
        message: `User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action`,
      });
    }
    if (state.ecr === '500') return json(res, 500, { __type: 'ServerException', message: 'internal' });
    const password = `eyJwYXlsb2FkIjoi${randomBytes(24).toString('hex')}`;
    state.issued.push(password);
    const expiresAt = Date.now() / 1000 + 12 * 3600 + 0.123;
    return json(res, 200, {
      authorizationData: [
        {
          authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
          expiresAt,
          proxyEndpoint: `https://123456789012.dkr.ecr.${v.region}.amazonaws.com`,
        },
      ],
    });
  }

  function codeartifact(res: ServerResponse, query: URLSearchParams) {
    if (state.codeartifact === 'denied') {
      res.writeHead(403, {
        'content-type': 'application/json',
        'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/',
      });
      return res.end(JSON.stringify({ message: 'User is not authorized to perform: codeartifact:GetAuthorizationToken' }));
    }
    if (state.codeartifact === '500') return json(res, 500, { message: 'internal' }, { 'x-amzn-errortype': 'InternalServerException' });
    const token = `eyJ2ZXIiOjEsImlzdSI6${randomBytes(24).toString('hex')}`;
    state.issued.push(token);
    const duration = Number(query.get('duration') ?? '43200') || 3600;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ authorizationToken: token, expiration: Math.floor(Date.now() / 1000) + duration }));
  }

  function sts(res: ServerResponse, form: URLSearchParams) {
    const err = (status: number, code: string, message: string) =>
      xml(
        res,
        status,
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
      );
    if (form.get('Action') !== 'AssumeRoleWithWebIdentity' || form.get('Version') !== '2011-06-15')
      return err(400, 'InvalidAction', 'unknown action');
    if (form.get('WebIdentityToken') !== state.webIdentityToken)
      return err(400, 'InvalidIdentityToken', "Couldn't retrieve verification key from your identity provider");
    if (form.get('RoleArn') !== state.trustedRole || !form.get('RoleSessionName'))
      return err(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    const k = newKeys({ session: true });
    return xml(
      res,
      200,
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>` +
        `<SubjectFromWebIdentityToken>system:serviceaccount:ci:builder</SubjectFromWebIdentityToken>` +
        `<AssumedRoleUser><Arn>${state.trustedRole}/${xmlEscape(form.get('RoleSessionName')!)}</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>` +
        `<Credentials><SessionToken>${k.sessionToken}</SessionToken><SecretAccessKey>${k.secretAccessKey}</SecretAccessKey>` +
        `<Expiration>${iso(Math.floor(Date.now() / 1000) + state.sessionSeconds)}</Expiration><AccessKeyId>${k.accessKeyId}</AccessKeyId></Credentials>` +
        `<Audience>sts.amazonaws.com</Audience></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
    );
  }

  function imds(req: IncomingMessage, res: ServerResponse, path: string) {
    if (req.method === 'PUT' && path === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!(ttl >= 1 && ttl <= 21600)) return (res.writeHead(400), res.end());
      const t = randomBytes(16).toString('base64');
      imdsTokens.add(t);
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(t);
    }
    // IMDSv2: without a valid session token the answer is 401.
    if (!imdsTokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return (res.writeHead(401), res.end());
    const base = '/latest/meta-data/iam/security-credentials/';
    if (state.imdsRole === null) return (res.writeHead(404), res.end());
    if (path === base) return (res.writeHead(200, { 'content-type': 'text/plain' }), res.end(state.imdsRole));
    if (path === `${base}${state.imdsRole}`) {
      const k = newKeys({ session: true });
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(
        JSON.stringify({
          Code: 'Success',
          LastUpdated: iso(Math.floor(Date.now() / 1000)),
          Type: 'AWS-HMAC',
          AccessKeyId: k.accessKeyId,
          SecretAccessKey: k.secretAccessKey,
          Token: k.sessionToken,
          Expiration: iso(Math.floor(Date.now() / 1000) + state.sessionSeconds),
        }),
      );
    }
    res.writeHead(404);
    res.end();
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const rawPath = q < 0 ? raw : raw.slice(0, q);
      const rawQuery = q < 0 ? '' : raw.slice(q + 1);
      const query = new URLSearchParams(rawQuery);
      if (rawPath.startsWith('/latest/')) {
        state.calls.push({ api: 'imds', path: rawPath });
        return imds(req, res, rawPath);
      }
      const contentType = String(req.headers['content-type'] ?? '');
      if (req.method === 'POST' && rawPath === '/' && contentType.startsWith('application/x-www-form-urlencoded')) {
        state.calls.push({ api: 'sts', path: rawPath });
        return sts(res, new URLSearchParams(body.toString('utf8')));
      }
      const api: SeenCall['api'] = req.method === 'GET' ? 's3' : rawPath === '/v1/authorization-token' ? 'codeartifact' : 'ecr';
      const v = verifySigV4({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers, body }, state.keys);
      const call: SeenCall = { api, path: rawPath, host: String(req.headers.host ?? '') };
      if (v.ok) {
        call.region = v.region;
        call.accessKeyId = v.keys.accessKeyId;
      }
      if (api === 'codeartifact') call.query = Object.fromEntries(query);
      state.calls.push(call);
      if (!v.ok) {
        if (api === 's3') {
          return xml(
            res,
            v.status,
            `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${v.code}</Code><Message>${xmlEscape(v.message)}</Message><RequestId>r</RequestId></Error>`,
          );
        }
        if (api === 'codeartifact') {
          res.writeHead(v.status, { 'content-type': 'application/json', 'x-amzn-errortype': v.code });
          return res.end(JSON.stringify({ message: v.message }));
        }
        return json(res, v.status, { __type: v.code, message: v.message });
      }
      if (api === 's3') {
        if (v.service !== 's3') return xml(res, 403, '<Error><Code>SignatureDoesNotMatch</Code><Message>wrong service</Message></Error>');
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(`object bytes of ${rawPath}`);
      }
      if (api === 'codeartifact') {
        if (v.service !== 'codeartifact')
          return json(res, 403, { message: 'Credential should be scoped to correct service' }, { 'x-amzn-errortype': 'InvalidSignatureException' });
        return codeartifact(res, query);
      }
      if (v.service !== 'ecr' || req.headers['x-amz-target'] !== 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken') {
        return json(res, 400, { __type: 'UnknownOperationException', message: 'unknown operation' });
      }
      return ecr(res, v);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const srv: AwsServer = Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    count: (api: SeenCall['api']) => state.calls.filter((c) => c.api === api).length,
    newKeys,
    reset() {
      state.calls.length = 0;
      state.issued.length = 0;
      state.ecr = 'ok';
      state.codeartifact = 'ok';
      state.imdsRole = 'instance-role';
      state.sessionSeconds = 3600;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  }) as AwsServer;
  return srv;
}
