// The EC2 instance metadata service, IMDSv2 only
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html):
// PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds) → a session token; with it,
// GET /latest/meta-data/iam/security-credentials/ → the role; GET …/<role> → the credentials.
//
// It is the chain's last resort and most machines have none, so every call is bounded well under a
// second, and an endpoint that did not answer is not asked again for a minute (the negative cache):
// a rule on a laptop fails fast instead of waiting on 169.254.169.254 at every mint.
import { httpRequest, HttpFailure, type HttpLimits, type HttpResponse } from '../../http/request.js';
import type { Env } from '../../platform/paths.js';
import { isoSeconds, type AwsCredentials } from './credentials.js';

export const IMDS_LIMITS: Partial<HttpLimits> = { connectMs: 500, totalMs: 900, maxRedirects: 0, maxBodyBytes: 64 * 1024 };
const UNREACHABLE_FOR_MS = 60_000;
const CREDENTIALS_PATH = '/latest/meta-data/iam/security-credentials/';

/** Endpoint → until when (ms) it counts as unreachable, and why. */
const unreachable = new Map<string, { until: number; why: string }>();

export function imdsEndpoint(env: Env): string {
  const configured = env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  if (configured) return configured.replace(/\/+$/, '');
  return (env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE ?? '').toLowerCase() === 'ipv6' ? 'http://[fd00:ec2::254]' : 'http://169.254.169.254';
}

export function imdsDisabled(env: Env): boolean {
  return (env.AWS_EC2_METADATA_DISABLED ?? '').toLowerCase() === 'true';
}

/** Forgets the negative cache (tests; a person who just attached a role is served within a minute anyway). */
export function forgetUnreachable(): void {
  unreachable.clear();
}

/** Why the service gave no credentials — unreachable, no role — as a plain Error; or the credentials. */
export async function imdsCredentials(env: Env): Promise<AwsCredentials> {
  const base = imdsEndpoint(env);
  const known = unreachable.get(base);
  if (known && known.until > Date.now()) throw new Error(`${known.why} (not asked again for ${Math.ceil((known.until - Date.now()) / 1000)} s)`);
  const call = async (method: 'GET' | 'PUT', path: string, headers: Record<string, string>): Promise<HttpResponse> => {
    try {
      // Plain http is the service's own scheme: allowed to its link-local address, or to loopback when
      // AWS_EC2_METADATA_SERVICE_ENDPOINT names one. It is sent no secret but the session token it issued.
      return await httpRequest({ url: `${base}${path}`, method, headers, env, allowInsecureHttp: true, metadataService: true, limits: IMDS_LIMITS });
    } catch (e) {
      if (e instanceof HttpFailure && e.kind === 'refused-url')
        throw new Error(`AWS_EC2_METADATA_SERVICE_ENDPOINT refused: ${e.message}`, { cause: e });
      const why = e instanceof HttpFailure ? `the instance metadata service did not answer: ${e.message}` : `the instance metadata service failed`;
      unreachable.set(base, { until: Date.now() + UNREACHABLE_FOR_MS, why });
      throw new Error(why, { cause: e });
    }
  };
  const tokenRes = await call('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' });
  if (tokenRes.status !== 200 || tokenRes.text.trim() === '')
    throw new Error(`the instance metadata service refused a session token (HTTP ${tokenRes.status})`);
  const auth = { 'x-aws-ec2-metadata-token': tokenRes.text.trim() };
  const roleRes = await call('GET', CREDENTIALS_PATH, auth);
  const role = roleRes.status === 200 ? roleRes.text.split('\n')[0]!.trim() : '';
  if (role === '' || /[^\w+=,.@-]/.test(role)) {
    throw new Error(
      `the instance has no IAM role (instance profile) attached (metadata answered HTTP ${roleRes.status}); attach one with the permission the rule needs`,
    );
  }
  const credsRes = await call('GET', `${CREDENTIALS_PATH}${role}`, auth);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(credsRes.text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  const from = `instance metadata role "${role}"`;
  if (credsRes.status !== 200 || body.Code !== 'Success' || typeof body.AccessKeyId !== 'string' || typeof body.SecretAccessKey !== 'string') {
    const code = typeof body.Code === 'string' ? ` (${body.Code.replace(/[^\w]/g, '').slice(0, 40)})` : '';
    throw new Error(`the instance metadata service gave no credentials for ${from}: HTTP ${credsRes.status}${code}`);
  }
  const creds: AwsCredentials = { accessKeyId: body.AccessKeyId, secretAccessKey: body.SecretAccessKey, from };
  if (typeof body.Token === 'string' && body.Token) creds.sessionToken = body.Token;
  const exp = isoSeconds(body.Expiration);
  if (exp !== undefined) creds.expiresAt = exp;
  return creds;
}
