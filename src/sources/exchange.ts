// exchange: a long-lived secret (an API key, from the store or an env var) traded at a token endpoint
// for a short-lived token — pyx's `POST /auth/cli/access-token` with `Authorization: Bearer <key>`
// (docs/protocols.md §5.3), or endpoints that want the secret in a JSON or form body.
import type { ExchangeSourceConfig, Rule } from '../model/rule.js';
import { displayEndpoint } from '../http/policy.js';
import { httpRequest, type HttpRequest } from '../http/request.js';
import { sourceError, transportError } from './errors.js';
import { isStoredRef, refWording } from './secret-ref.js';
import { readTokenAnswer } from './token-answer.js';
import { DEFAULT_TOKEN_USERNAME, type TokenSource } from './types.js';

function config(rule: Rule): ExchangeSourceConfig {
  if (rule.source.type !== 'exchange') throw new Error('not an exchange rule');
  return rule.source;
}

/** The request for one exchange; the secret goes in a header or the body, never in the URL. */
function buildRequest(src: ExchangeSourceConfig, secret: string): Pick<HttpRequest, 'headers' | 'body'> {
  const style = src.style ?? 'bearer';
  if (style === 'bearer') return { headers: { authorization: `Bearer ${secret}` }, body: '' };
  const field = src.secretField as string; // the schema requires it for json and form
  if (style === 'json') {
    return { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...src.fields, [field]: secret }) };
  }
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(src.fields ?? {})) form.set(k, String(v));
  form.set(field, secret);
  return { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
}

export const exchangeSource: TokenSource = {
  refreshing: true,
  inputs(rule) {
    const { secret } = config(rule);
    return isStoredRef(secret) ? [secret] : [];
  },
  audience() {
    return undefined;
  },
  async mint(rule, ctx) {
    const src = config(rule);
    const endpoint = displayEndpoint(src.endpoint);
    const ref = refWording(src.secret);
    const secret = await ctx.secrets.read(src.secret);
    if (secret === undefined) {
      throw sourceError(rule, `no secret to exchange at ${endpoint}: ${ref.name} is missing; fix: ${ref.fix}`);
    }
    let res;
    try {
      res = await httpRequest({
        url: src.endpoint,
        method: 'POST',
        ...buildRequest(src, secret),
        allowInsecureHttp: src.allowInsecureHttp,
        env: ctx.env,
      });
    } catch (e) {
      throw transportError(rule, e, 'token exchange');
    }
    const answer = await readTokenAnswer(rule, res, {
      endpoint,
      fields: src.tokenField ? [src.tokenField] : ['access_token', 'token'],
      expect: src.expect,
      ttlSeconds: src.ttlSeconds,
      now: ctx.now(),
      secrets: [secret],
      refused: (detail) => `refused ${ref.name} (${detail}); fix: ${ref.fix}`,
    });
    const credential = { kind: rule.kind ?? 'bearer', username: rule.username ?? DEFAULT_TOKEN_USERNAME, secret: answer.token } as const;
    return answer.expiresAt === undefined ? { ...credential } : { ...credential, expiresAt: answer.expiresAt };
  },
};
