// A credential as an HTTP `Authorization` value, for every answer that is a header (Bazel, Go) or a
// header's value handed on (`credmux exec --cargo`).
import { type Credential } from './types.js';

/**
 * `Basic base64(user:pass)` or `Bearer <token>`. Undefined when a token holds a control character:
 * a CR/LF would split the header (base64 cannot contain one).
 */
export function authorizationValue(cred: Credential): string | undefined {
  if (cred.kind === 'basic') return `Basic ${Buffer.from(`${cred.username}:${cred.secret}`, 'utf8').toString('base64')}`;
  if (/[\u0000-\u001f\u007f]/.test(cred.secret)) return undefined;
  return `Bearer ${cred.secret}`;
}
