// One OAuth 2.0 token-endpoint call (RFC 6749 §3.2): a form POST, with the client authenticated the
// way the rule says — public clients send only client_id; confidential ones HTTP Basic (§2.3.1, the
// method every server must support) or the secret in the form (§2.3.1 "post").
import type { Env } from '../platform/paths.js';
import { httpRequest, type HttpResponse } from '../http/request.js';

export interface OAuthClient {
  clientId: string;
  clientSecret?: string;
  clientAuth?: 'basic' | 'post';
}

export interface FormPost {
  url: string;
  form: Record<string, string | undefined>;
  client?: OAuthClient;
  allowInsecureHttp?: boolean;
  env: Env;
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before they are joined for Basic. */
function basic(id: string, secret: string): string {
  const enc = (s: string) => new URLSearchParams({ s }).toString().slice(2);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export function postForm(req: FormPost): Promise<HttpResponse> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(req.form)) if (v !== undefined) form.set(k, v);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const c = req.client;
  if (c) {
    if (c.clientSecret !== undefined && (c.clientAuth ?? 'basic') === 'basic') {
      headers.authorization = basic(c.clientId, c.clientSecret);
    } else {
      form.set('client_id', c.clientId);
      if (c.clientSecret !== undefined) form.set('client_secret', c.clientSecret);
    }
  }
  return httpRequest({ url: req.url, method: 'POST', headers, body: form.toString(), allowInsecureHttp: req.allowInsecureHttp, env: req.env });
}
