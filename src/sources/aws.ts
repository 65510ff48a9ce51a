// aws: ECR and CodeArtifact authorization tokens, and S3 request signatures for Bazel, all signed
// with SigV4 from the standard credential chain (aws/chain.ts). The token APIs
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html,
// https://docs.aws.amazon.com/codeartifact/latest/APIReference/API_GetAuthorizationToken.html) are
// minted once per token life through the token cache, one token per region (ECR) or repository
// domain (CodeArtifact) — TokenSource.scope. S3 has no token: the cache keeps the AWS credentials
// and every request URL gets its own signature (TokenSource.present), which only Bazel can send.
import type { AwsSourceConfig, Rule } from '../model/rule.js';
import { CredmuxError, type Credential } from '../model/types.js';
import { displayEndpoint, endpointProblem } from '../http/policy.js';
import { httpRequest, type HttpResponse } from '../http/request.js';
import { sourceError, transportError } from './errors.js';
import { envRegion, resolveCredentials } from './aws/chain.js';
import { packCredentials, secretsOf, unpackCredentials, type AwsCredentials } from './aws/credentials.js';
import { endpointFor, type AwsApi } from './aws/endpoints.js';
import { awsFailure } from './aws/errors.js';
import { codeArtifactRepo, ecrRegion, s3Region } from './aws/hosts.js';
import { signedHeaders } from './aws/sign.js';
import type { MintContext, TokenSource } from './types.js';

/** How long Bazel may reuse an S3 signature: S3 accepts one for 15 minutes after its X-Amz-Date; a third of that leaves room for clock skew. */
export const S3_SIGNATURE_SECONDS = 300;
/** Long-term keys carry no expiry: they are read again this often, so a changed key file is picked up. */
const STATIC_CREDENTIALS_SECONDS = 900;
/** CodeArtifact's longest token (and its default). */
const CODEARTIFACT_DEFAULT_DURATION = 43_200;
/** SHA-256 of the empty body: what a GET signs as its payload. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function config(rule: Rule): AwsSourceConfig {
  if (rule.source.type !== 'aws') throw new Error('not an aws rule');
  return rule.source;
}

function credentialsFor(rule: Rule, ctx: MintContext, region: string | undefined): Promise<AwsCredentials> {
  const src = config(rule);
  return resolveCredentials({ rule, env: ctx.env, profile: src.profile, region, allowInsecureHttp: src.allowInsecureHttp });
}

interface Call {
  api: AwsApi;
  /** signing name */
  service: string;
  region: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  name: string;
  action: string;
}

/** One signed POST to an AWS API; its JSON answer, or the rule's error with AWS's code and the fix. */
async function callAws(rule: Rule, ctx: MintContext, creds: AwsCredentials, call: Call): Promise<Record<string, unknown>> {
  const src = config(rule);
  const base = endpointFor(ctx.env, call.api, call.region);
  const url = new URL(`${base}${call.path}`);
  const endpoint = displayEndpoint(url.href);
  const headers = await signedHeaders(
    { url, method: 'POST', service: call.service, region: call.region, headers: call.headers, body: call.body, now: ctx.now() },
    creds,
  );
  let res: HttpResponse;
  try {
    res = await httpRequest({ url: url.href, method: 'POST', headers, body: call.body, allowInsecureHttp: src.allowInsecureHttp, env: ctx.env });
  } catch (e) {
    throw transportError(rule, e, call.name);
  }
  const info = { rule, call: call.name, action: call.action, endpoint, from: creds.from, secrets: secretsOf(creds) };
  if (res.status !== 200) throw awsFailure(info, res);
  try {
    const body: unknown = JSON.parse(res.text);
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // below
  }
  throw sourceError(rule, `${call.name} at ${endpoint} answered HTTP 200 without a JSON object; credmux keeps retrying with backoff`);
}

/** The earliest of the API's expiry and the rule's ttlSeconds, in whole seconds. */
function expiry(apiSeconds: unknown, ttl: number | undefined, now: number): number | undefined {
  const api = typeof apiSeconds === 'number' && Number.isFinite(apiSeconds) ? Math.floor(apiSeconds) : undefined;
  const cap = ttl === undefined ? undefined : now + ttl;
  if (api === undefined) return cap;
  return cap === undefined ? api : Math.min(api, cap);
}

function noRegion(rule: Rule, what: string): CredmuxError {
  return sourceError(rule, `cannot tell the AWS region: ${what}; fix: set "region" in the rule (or AWS_REGION)`);
}

async function mintEcr(rule: Rule, ctx: MintContext): Promise<Credential> {
  const src = config(rule);
  const region = ctx.scope || src.region || envRegion(ctx.env, src.profile);
  if (!region) throw noRegion(rule, 'the registry is not named <account>.dkr.ecr.<region>.amazonaws.com');
  const creds = await credentialsFor(rule, ctx, region);
  const body = await callAws(rule, ctx, creds, {
    api: 'ECR',
    service: 'ecr',
    region,
    path: '/',
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken' },
    body: '{}',
    name: 'ECR GetAuthorizationToken',
    action: 'ecr:GetAuthorizationToken',
  });
  const data = Array.isArray(body.authorizationData) ? (body.authorizationData[0] as Record<string, unknown> | undefined) : undefined;
  const token = typeof data?.authorizationToken === 'string' ? Buffer.from(data.authorizationToken, 'base64').toString('utf8') : '';
  // base64 of "AWS:<password>": the registry's username is always AWS.
  const colon = token.indexOf(':');
  if (colon <= 0 || token.slice(colon + 1) === '') {
    throw sourceError(rule, `ECR GetAuthorizationToken answered without an authorizationToken of the form base64("AWS:<password>")`);
  }
  const expiresAt = expiry(data?.expiresAt, src.ttlSeconds, ctx.now());
  const cred: Credential = { kind: 'basic', username: token.slice(0, colon), secret: token.slice(colon + 1) };
  return expiresAt === undefined ? cred : { ...cred, expiresAt };
}

interface Repo {
  domain: string;
  owner: string;
  region: string;
}

/** The CodeArtifact domain, owner and region: the rule's settings, else the host's name (scope). */
function repoOf(rule: Rule, host: string): Repo | Partial<Repo> {
  const src = config(rule);
  const fromHost = codeArtifactRepo(host);
  return {
    domain: src.domain ?? fromHost?.domain,
    owner: src.domainOwner ?? fromHost?.owner,
    region: src.region ?? fromHost?.region,
  };
}

async function mintCodeArtifact(rule: Rule, ctx: MintContext): Promise<Credential> {
  const src = config(rule);
  const [domain, owner, scopedRegion] = (ctx.scope ?? '||').split('|');
  const region = scopedRegion || envRegion(ctx.env, src.profile);
  if (!domain || !owner) {
    throw sourceError(
      rule,
      'cannot tell the CodeArtifact domain: the host is not <domain>-<owner>.d.codeartifact.<region>.amazonaws.com; fix: set "domain" and "domainOwner" in the rule',
    );
  }
  if (!region) throw noRegion(rule, 'the host does not name it');
  const creds = await credentialsFor(rule, ctx, region);
  const duration = src.durationSeconds ?? CODEARTIFACT_DEFAULT_DURATION;
  const query = new URLSearchParams({ domain, 'domain-owner': owner, duration: String(duration) });
  const body = await callAws(rule, ctx, creds, {
    api: 'CODEARTIFACT',
    service: 'codeartifact',
    region,
    path: `/v1/authorization-token?${query.toString()}`,
    headers: {},
    body: '',
    name: 'CodeArtifact GetAuthorizationToken',
    action: 'codeartifact:GetAuthorizationToken and sts:GetServiceBearerToken',
  });
  const token = body.authorizationToken;
  if (typeof token !== 'string' || token === '' || /[\u0000-\u0020\u007f]/.test(token)) {
    throw sourceError(rule, 'CodeArtifact GetAuthorizationToken answered without an authorizationToken');
  }
  const expiresAt = expiry(body.expiration, src.ttlSeconds, ctx.now());
  // pip, twine and Maven send it as Basic aws:<token>; npm (and a "bearer" rule) as a bearer token.
  const cred: Credential = { kind: rule.kind ?? 'basic', username: rule.username ?? 'aws', secret: token };
  return expiresAt === undefined ? cred : { ...cred, expiresAt };
}

async function mintS3Credentials(rule: Rule, ctx: MintContext): Promise<Credential> {
  const src = config(rule);
  const creds = await credentialsFor(rule, ctx, src.region ?? envRegion(ctx.env, src.profile));
  const now = ctx.now();
  const cap = now + (src.ttlSeconds ?? STATIC_CREDENTIALS_SECONDS);
  return packCredentials({
    ...creds,
    expiresAt: creds.expiresAt === undefined ? cap : Math.min(creds.expiresAt, src.ttlSeconds === undefined ? Infinity : cap),
  });
}

export const awsSource: TokenSource = {
  refreshing: true,
  inputs() {
    return [];
  },
  audience() {
    return undefined;
  },
  scope(rule, host) {
    const src = config(rule);
    if (src.service === 'ecr') return src.region ?? ecrRegion(host) ?? '';
    if (src.service === 'codeartifact') {
      const r = repoOf(rule, host);
      return `${r.domain ?? ''}|${r.owner ?? ''}|${r.region ?? ''}`;
    }
    return undefined; // S3: one set of credentials signs for every bucket and region
  },
  mint(rule, ctx) {
    const service = config(rule).service;
    if (service === 'ecr') return mintEcr(rule, ctx);
    if (service === 'codeartifact') return mintCodeArtifact(rule, ctx);
    return mintS3Credentials(rule, ctx);
  },
  async present(rule, cached, req) {
    const src = config(rule);
    if (src.service !== 's3') return cached;
    const url = new URL(req.url.includes('://') ? req.url : `https://${req.url}`);
    // A presigned URL carries its own signature; a second one would make S3 refuse the request.
    if (url.searchParams.has('X-Amz-Signature') || url.searchParams.has('X-Amz-Credential')) return null;
    const problem = endpointProblem(url.href, src.allowInsecureHttp);
    if (problem) throw sourceError(rule, `will not sign ${displayEndpoint(url.href)}: it ${problem}`);
    const region = src.region ?? s3Region(url.hostname) ?? (req.env.AWS_REGION || req.env.AWS_DEFAULT_REGION || undefined);
    if (!region) throw noRegion(rule, `${url.hostname} is not an S3 endpoint name (s3.<region>.amazonaws.com, <bucket>.s3.<region>.amazonaws.com)`);
    const creds = unpackCredentials(cached);
    const now = req.now();
    let headers: Record<string, string>;
    try {
      // GET: Bazel downloads; a GET's payload is the empty body.
      headers = await signedHeaders({ url, method: 'GET', service: 's3', region, headers: { 'X-Amz-Content-Sha256': EMPTY_SHA256 }, now }, creds);
    } catch {
      throw sourceError(rule, `cannot sign ${displayEndpoint(url.href)}: its path is not a valid percent-encoded URL path`);
    }
    const served: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(headers)) served[k] = [v];
    const expiresAt = Math.min(now + S3_SIGNATURE_SECONDS, creds.expiresAt ?? Infinity);
    return { kind: 'bearer', username: '', secret: '', expiresAt, headers: served };
  },
};
