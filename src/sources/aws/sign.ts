// SigV4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
// through aws4, loaded on first use. Credentials are always passed in: aws4 would otherwise read the
// daemon's own AWS_* variables, and a daemon answers callers from many environments.
import { awsDeps } from './deps.js';
import type { AwsCredentials } from './credentials.js';

export interface ToSign {
  url: URL;
  method: 'GET' | 'POST';
  service: string;
  region: string;
  headers?: Record<string, string>;
  body?: string;
  /** Unix seconds: the request's X-Amz-Date. */
  now: number;
}

/** SigV4's basic format of the time: 20260901T120000Z. */
export function amzDate(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/** The request's headers with X-Amz-Date, X-Amz-Security-Token and Authorization added (Host left out: the client sends it). */
export async function signedHeaders(req: ToSign, creds: AwsCredentials): Promise<Record<string, string>> {
  const { sign } = await awsDeps();
  const headers: Record<string, string> = { ...req.headers, 'X-Amz-Date': amzDate(req.now) };
  const signed = sign(
    {
      // `host` with the port (u.host) is what the client will send as Host, and so what is signed.
      host: req.url.host,
      path: `${req.url.pathname}${req.url.search}`,
      method: req.method,
      service: req.service,
      region: req.region,
      headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
    },
    { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}) },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers ?? {})) if (k.toLowerCase() !== 'host' && v !== undefined) out[k] = String(v);
  return out;
}
