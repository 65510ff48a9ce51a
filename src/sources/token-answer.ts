// Reading a token endpoint's answer, the same way for every source: status → error with the fix,
// body → JSON object → the token field → its expiry. A broken upstream (HTML error page, empty body,
// a non-JWT where a JWT was promised) becomes an error, never a credential.
import type { Rule } from '../model/rule.js';
import type { HttpResponse } from '../http/request.js';
import { safeText, sourceError } from './errors.js';
import { tokenExpiry, TokenShapeError } from './jwt-expiry.js';

export interface AnswerSpec {
  /** scheme://host/path, as errors show it. */
  endpoint: string;
  /** Fields that may hold the token, tried in order (a.b for nested). */
  fields: readonly string[];
  expect?: 'jwt' | 'any';
  ttlSeconds?: number;
  now: number;
  /** Everything we sent that is secret: cut from any server text we quote. */
  secrets: readonly (string | undefined)[];
  /** What was refused and how to fix it, for 401/403 and OAuth's invalid_grant/invalid_client. */
  refused: (detail: string, oauthError?: string) => string;
}

export interface TokenAnswer {
  token: string;
  expiresAt?: number;
  body: Record<string, unknown>;
}

/** OAuth's error shape (RFC 6749 §5.2), when the body has it. */
export interface OAuthError {
  error: string;
  description?: string;
}

export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function oauthErrorOf(body: Record<string, unknown> | undefined, secrets: readonly (string | undefined)[]): OAuthError | undefined {
  if (!body || typeof body.error !== 'string') return undefined;
  // The error code is an ASCII token by spec; anything else is shown as "invalid".
  const error = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(body.error) ? body.error : 'invalid';
  const description = typeof body.error_description === 'string' ? safeText(body.error_description, secrets) : undefined;
  return description ? { error, description } : { error };
}

export function describeOAuthError(e: OAuthError): string {
  return e.description ? `${e.error}: ${e.description}` : e.error;
}

export function fieldAt(body: Record<string, unknown>, path: string): unknown {
  let v: unknown = body;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A token goes into an HTTP header: printable ASCII, no spaces. */
export const TOKEN_CHARS = /^[\x21-\x7e]+$/;

export async function readTokenAnswer(rule: Rule, res: HttpResponse, spec: AnswerSpec): Promise<TokenAnswer> {
  const at = spec.endpoint;
  const body = parseJsonObject(res.text);
  if (res.status < 200 || res.status >= 300) throw statusError(rule, res.status, body, spec);
  if (!body) {
    throw sourceError(rule, `${at} answered HTTP ${res.status} without a JSON object (${describeBody(res)}); credmux keeps retrying with backoff`);
  }
  const field = spec.fields.find((f) => fieldAt(body, f) !== undefined);
  const value = field === undefined ? undefined : fieldAt(body, field);
  if (typeof value !== 'string' || value === '') {
    const names = Object.keys(body).slice(0, 10).join(', ') || 'none';
    throw sourceError(
      rule,
      `${at} answered without a ${spec.fields.map((f) => `"${f}"`).join(' or ')} string (fields: ${names}); set "tokenField" in the rule if the token is elsewhere`,
    );
  }
  if (!TOKEN_CHARS.test(value)) throw sourceError(rule, `${at} answered with a token containing spaces or control characters; refused`);
  try {
    const expiresAt = await tokenExpiry(value, { expect: spec.expect, expiresIn: body.expires_in, ttlSeconds: spec.ttlSeconds, now: spec.now });
    return expiresAt === undefined ? { token: value, body } : { token: value, expiresAt, body };
  } catch (e) {
    if (e instanceof TokenShapeError) throw sourceError(rule, `${at} answered, but ${e.message}; credmux keeps retrying with backoff`);
    throw e;
  }
}

function describeBody(res: HttpResponse): string {
  const type = (res.headers['content-type'] ?? 'no content type').split(';')[0];
  return res.text.length === 0 ? 'empty body' : `${type}, ${res.text.length} bytes`;
}

function statusError(rule: Rule, status: number, body: Record<string, unknown> | undefined, spec: AnswerSpec) {
  const at = spec.endpoint;
  const oauth = oauthErrorOf(body, spec.secrets);
  const detail = `HTTP ${status}${oauth ? `, ${describeOAuthError(oauth)}` : ''}`;
  if (status === 401 || status === 403 || (oauth && REFUSALS.has(oauth.error))) {
    return sourceError(rule, `${at} ${spec.refused(detail, oauth?.error)}`);
  }
  if (status === 429 || status >= 500) return sourceError(rule, `${at} answered ${detail}; credmux keeps retrying with backoff`);
  if (status === 404 || status === 405) return sourceError(rule, `${at} answered ${detail}; check the endpoint URL in the rule`);
  return sourceError(rule, `${at} answered ${detail}`);
}

/** OAuth errors that mean "this credential is no good", whatever the status code. */
const REFUSALS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'access_denied', 'invalid_token']);
