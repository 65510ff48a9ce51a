// What credmux serves for a URL, asked the way a helper asks: through the daemon (so a token minted for
// `credmux token` or `credmux exec` is the one Bazel, git and Docker get too, and is minted once), in
// process when no daemon answers. For the commands that hand a secret on: token and exec.
import { resolveRequest } from '../client/run.js';
import type { Env } from '../platform/paths.js';
import { CredmuxError, IDENTITY_TOKEN_USERNAME, onlyBazelMessage, type Credential } from '../model/types.js';
import { redactUrl } from '../model/url.js';
import { canonicalUrl } from './credentials.js';

/** Thrown when nothing is served for a URL: exit 1, with what to do about it. */
export class NotServedError extends Error {
  constructor(readonly url: string) {
    super(
      `no credential is served for ${redactUrl(url)}: store one (credmux login ${redactUrl(url)} …) or add a rule for it; credmux get URL shows what matches`,
    );
    this.name = 'NotServedError';
  }
}

/** The credential served for `url` (of `username`, when given); throws NotServedError or CredmuxError. */
export async function servedCredential(env: Env, url: string, username?: string): Promise<Credential> {
  const req = username === undefined ? { op: 'get' as const, url: canonicalUrl(url) } : { op: 'get' as const, url: canonicalUrl(url), username };
  const r = await resolveRequest(req, env);
  if (r.op === 'error') throw new CredmuxError(r.error.code, r.error.message);
  if (r.op !== 'get') throw new CredmuxError('internal', `expected get, got ${r.op}`);
  // A Docker identity token is a refresh token for a registry's token endpoint, not a secret a tool can use.
  if (r.credential === null || r.credential.username === IDENTITY_TOKEN_USERNAME) throw new NotServedError(url);
  // A per-request signature (S3) has no secret to hand on: only Bazel's helper can use it.
  if (r.credential.headers) throw new CredmuxError('source', onlyBazelMessage(r));
  return r.credential;
}
