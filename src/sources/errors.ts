// How a token source says what went wrong: which rule, which endpoint (never its query string), and
// the command or change that fixes it. Text that came from a server (an OAuth error_description, a
// command's stderr) is shown only after every secret we sent and anything token-shaped is cut out.
import type { Rule } from '../model/rule.js';
import { CredmuxError } from '../model/types.js';
import { HttpFailure } from '../http/request.js';

export function ruleLabel(rule: Rule): string {
  return `rule "${rule.id}" (${rule.match})`;
}

export function sourceError(rule: Rule, message: string): CredmuxError {
  return new CredmuxError('source', `${ruleLabel(rule)}: ${message}`);
}

/** Long runs of token alphabet: JWTs, API keys, base64 blobs. */
const TOKENISH = /[A-Za-z0-9._~+/=-]{24,}/g;

/** Server- or command-provided text made safe to show: one line, no secret, short. */
export function safeText(text: string, secrets: readonly (string | undefined)[], max = 160): string {
  let s = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  for (const secret of secrets) if (secret && secret.length >= 4) s = s.split(secret).join('[redacted]');
  s = s.replace(TOKENISH, '[redacted]');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A request that got no HTTP answer (timeout, connection, TLS, redirect) as the rule's error. */
export function transportError(rule: Rule, e: unknown, what: string): CredmuxError {
  if (e instanceof HttpFailure) {
    const retry =
      e.kind === 'refused-url' || e.kind === 'redirect' ? '' : '; credmux keeps retrying with backoff (check the network and HTTPS_PROXY/NO_PROXY)';
    return sourceError(rule, `${what}: ${e.message}${retry}`);
  }
  if (e instanceof CredmuxError) return e;
  return sourceError(rule, `${what}: failed (${(e as Error)?.name ?? 'unknown error'})`);
}
