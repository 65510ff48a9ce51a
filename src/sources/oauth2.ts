// oauth2: the refresh-token grant (RFC 6749 §6). The refresh token lives in the store (put there by
// `credmux login URL --oauth`, see src/cli/oauth2-login.ts); a rotated one is written back before the new
// access token is served, so a crash between the two never leaves the store holding a spent token.
//
// Servers that rotate refresh tokens often treat a reuse as theft and revoke the whole grant. The
// daemon's single flight keeps one refresh per rule in flight; helpers resolving in process (no
// daemon) are serialised by an inter-process lock, and re-read the token once they hold it.
import { fsp } from '../platform/lazy-fs.js';
import { join } from 'node:path';
import type { OAuth2SourceConfig, Rule, StoredRef } from '../model/rule.js';
import { stateDir, type Env } from '../platform/paths.js';
import { displayEndpoint } from '../http/policy.js';
import { withFileLock } from '../store/file-lock.js';
import { sourceError, transportError } from './errors.js';
import { postForm } from './oauth2-client.js';
import { isStoredRef, refWording, shellWord } from './secret-ref.js';
import { readTokenAnswer, TOKEN_CHARS } from './token-answer.js';
import { DEFAULT_TOKEN_USERNAME, REFRESH_TOKEN_USERNAME, type TokenSource } from './types.js';

export function oauth2Config(rule: Rule): OAuth2SourceConfig {
  if (rule.source.type !== 'oauth2') throw new Error('not an oauth2 rule');
  return rule.source;
}

/** Where the rule's refresh token is kept: configured, else under the rule's own pattern. */
export function refreshTokenRef(rule: Pick<Rule, 'match'> & { source: OAuth2SourceConfig }): StoredRef {
  const r = rule.source.refreshToken;
  return { stored: r?.stored ?? rule.match, username: r?.username ?? REFRESH_TOKEN_USERNAME };
}

export function loginCommand(rule: Rule): string {
  return `credmux login ${shellWord(rule.match)} --oauth`;
}

async function withRefreshLock<T>(env: Env, rule: Rule, fn: () => Promise<T>): Promise<T> {
  const dir = join(stateDir(env), 'locks');
  await fsp().mkdir(dir, { recursive: true, mode: 0o700 });
  return withFileLock(join(dir, `oauth2-${rule.id}.lock`), `the refresh token of rule "${rule.id}"`, fn);
}

export const oauth2Source: TokenSource = {
  refreshing: true,
  inputs(rule) {
    const src = oauth2Config(rule);
    const refs: StoredRef[] = [refreshTokenRef({ match: rule.match, source: src })];
    if (src.clientSecret && isStoredRef(src.clientSecret)) refs.push(src.clientSecret);
    return refs;
  },
  audience(rule) {
    return oauth2Config(rule).audience;
  },
  async mint(rule, ctx) {
    const src = oauth2Config(rule);
    const endpoint = displayEndpoint(src.tokenEndpoint);
    let clientSecret: string | undefined;
    if (src.clientSecret) {
      clientSecret = await ctx.secrets.read(src.clientSecret);
      const ref = refWording(src.clientSecret, 'client secret');
      if (clientSecret === undefined) throw sourceError(rule, `cannot refresh at ${endpoint}: ${ref.name} is missing; fix: ${ref.fix}`);
    }
    const rtRef = refreshTokenRef({ match: rule.match, source: src });
    return withRefreshLock(ctx.env, rule, async () => {
      // Read under the lock: another process may have rotated it while we waited.
      const refreshToken = await ctx.secrets.read(rtRef);
      if (refreshToken === undefined) {
        throw sourceError(rule, `no refresh token is stored for ${rtRef.stored}; log in: ${loginCommand(rule)}`);
      }
      let res;
      try {
        res = await postForm({
          url: src.tokenEndpoint,
          form: { grant_type: 'refresh_token', refresh_token: refreshToken, scope: src.scope, audience: src.audience },
          client: { clientId: src.clientId, clientSecret, clientAuth: src.clientAuth },
          allowInsecureHttp: src.allowInsecureHttp,
          env: ctx.env,
        });
      } catch (e) {
        throw transportError(rule, e, 'token refresh');
      }
      const answer = await readTokenAnswer(rule, res, {
        endpoint,
        fields: ['access_token'],
        expect: src.expect,
        ttlSeconds: src.ttlSeconds,
        now: ctx.now(),
        secrets: [refreshToken, clientSecret],
        refused: (detail, error) =>
          error === 'invalid_client' || error === 'unauthorized_client'
            ? `refused the client "${src.clientId}" (${detail}); check clientId${src.clientSecret ? ` and ${refWording(src.clientSecret, 'client secret').name}` : ''}`
            : `refused the refresh token (${detail}); log in again: ${loginCommand(rule)}`,
      });
      const rotated = answer.body.refresh_token;
      if (typeof rotated === 'string' && rotated !== '' && rotated !== refreshToken && TOKEN_CHARS.test(rotated)) {
        // The old one may already be void: keep the new one before serving anything.
        await ctx.secrets.write(rtRef, rotated);
      }
      const credential = { kind: rule.kind ?? 'bearer', username: rule.username ?? DEFAULT_TOKEN_USERNAME, secret: answer.token } as const;
      return answer.expiresAt === undefined ? { ...credential } : { ...credential, expiresAt: answer.expiresAt };
    });
  },
};
