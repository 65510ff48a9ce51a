// The Vault token a vault rule reads with: a token you have (the rule's reference, $VAULT_TOKEN or
// ~/.vault-token, as the vault CLI looks), or one got by logging in — AppRole, JWT/OIDC (the CI
// identity) or Kubernetes (the pod's service-account token) — and kept in memory for its lease,
// renewed (auth/token/renew-self) or logged in anew before it ends. None of it is ever stored.
//
// Shapes (hashicorp/vault website/content/api-docs/auth/{approle,jwt,kubernetes,token}.mdx):
//   POST /v1/auth/<mount>/login {"role_id","secret_id"} | {"role","jwt"}
//   → {"auth": {"client_token", "lease_duration" (s, 0 = never expires), "renewable", …}}
//   POST /v1/auth/token/renew-self {"increment": "<n>s"} → the same auth block.
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { Rule, SecretRef, VaultAuth, VaultSourceConfig } from '../model/rule.js';
import { defaultRefreshMarginMs } from '../cache/token-cache.js';
import { fsp } from '../platform/lazy-fs.js';
import { sourceError } from './errors.js';
import { envNamesOf } from './env-names.js';
import { ciIdentityToken } from './oidc-identity.js';
import { refWording } from './secret-ref.js';
import { fieldAt, TOKEN_CHARS } from './token-answer.js';
import type { MintContext } from './types.js';
import { vaultAuthOf } from './vault-env.js';
import { vaultFailure, vaultRequest, type VaultConn } from './vault-http.js';

/** Where Kubernetes mounts a pod's service-account token. */
export const K8S_SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface VaultToken {
  /** Undefined for the agent method: the Vault Agent adds its own token. */
  token: string | undefined;
  /** Unix seconds; undefined when unknown or never (a token we were handed, a root token). */
  expiresAt?: number;
  /** From a login of ours: renewable or replaceable, and worth a new login when Vault refuses it. */
  fromLogin: boolean;
  renewable: boolean;
  /** The lease it was issued with (s): the refresh margin is worked out from it. */
  leaseSeconds: number;
  /** Which login state it belongs to (undefined: not kept). */
  key?: string;
}

/** A login is renewed or redone once less than this remains (the token cache's margin, in seconds). */
function marginSeconds(leaseSeconds: number): number {
  return defaultRefreshMarginMs(leaseSeconds * 1000) / 1000;
}

/** Tokens from our logins, per rule and inputs (a digest: never a secret as such). Bounded: a daemon serves many CI jobs. */
const logins = new Map<string, VaultToken>();
const MAX_LOGINS = 1000;

function remember(key: string, t: VaultToken): void {
  logins.delete(key);
  if (logins.size >= MAX_LOGINS) logins.delete(logins.keys().next().value as string);
  logins.set(key, t);
}

/** Forget a login Vault refused (revoked, expired early): the next call logs in again. */
export function forgetLogin(t: VaultToken): void {
  if (t.key !== undefined && logins.get(t.key) === t) logins.delete(t.key);
}

function loginKey(rule: Rule, conn: VaultConn, env: MintContext['env'], inputs: readonly (string | undefined)[]): string {
  const { createHash } = process.getBuiltinModule('node:crypto');
  const vars = envNamesOf(rule).map((n) => env[n] ?? null);
  return createHash('sha256')
    .update(JSON.stringify([rule.id, rule.source, conn.base, conn.socketPath ?? null, conn.namespace ?? null, vars, inputs]))
    .digest('hex');
}

export async function vaultToken(rule: Rule, src: VaultSourceConfig, conn: VaultConn, ctx: MintContext): Promise<VaultToken> {
  const auth = vaultAuthOf(src);
  if (auth.method === 'agent') return { token: undefined, fromLogin: false, renewable: false, leaseSeconds: 0 };
  if (auth.method === 'token') return { token: await givenToken(rule, auth.token, ctx), fromLogin: false, renewable: false, leaseSeconds: 0 };
  // The stored/env inputs of the login are part of the key: a new secret_id means a new login.
  const roleId = auth.method === 'approle' ? await readInput(rule, auth.roleId, 'AppRole role_id', ctx) : undefined;
  const secretId = auth.method === 'approle' && auth.secretId ? await readInput(rule, auth.secretId, 'AppRole secret_id', ctx) : undefined;
  const key = loginKey(rule, conn, ctx.env, [roleId, secretId]);
  const now = ctx.now();
  const held = logins.get(key);
  if (held && (held.expiresAt === undefined || held.expiresAt - now > marginSeconds(held.leaseSeconds))) return held;
  if (held?.renewable && held.expiresAt !== undefined && held.expiresAt - now > 5) {
    const renewed = await renewSelf(rule, conn, held, now).catch(() => undefined);
    if (renewed && renewed.expiresAt !== undefined && renewed.expiresAt - now > marginSeconds(renewed.leaseSeconds)) {
      remember(key, renewed);
      return renewed;
    }
  }
  const fresh = await login(rule, auth, conn, ctx, { roleId, secretId, key });
  remember(key, fresh);
  return fresh;
}

async function readInput(rule: Rule, ref: string | SecretRef, what: string, ctx: MintContext): Promise<string> {
  if (typeof ref === 'string') return ref;
  const v = await ctx.secrets.read(ref);
  if (v === undefined) {
    const w = refWording(ref, what);
    throw sourceError(rule, `cannot log in to Vault: ${w.name} is missing; fix: ${w.fix}`);
  }
  return v;
}

/** The token you have: the rule's reference, else $VAULT_TOKEN, else ~/.vault-token (what `vault login` writes). */
async function givenToken(rule: Rule, ref: SecretRef | undefined, ctx: MintContext): Promise<string> {
  if (ref) {
    const v = await ctx.secrets.read(ref);
    const w = refWording(ref, 'Vault token');
    if (v === undefined) throw sourceError(rule, `no Vault token: ${w.name} is missing; fix: ${w.fix}`);
    if (!TOKEN_CHARS.test(v.trim())) throw sourceError(rule, `${w.name} is not a single token; fix: ${w.fix}`);
    return v.trim();
  }
  const fromEnv = ctx.env.VAULT_TOKEN;
  if (fromEnv) {
    if (!TOKEN_CHARS.test(fromEnv.trim())) throw sourceError(rule, '$VAULT_TOKEN is not a single token');
    return fromEnv.trim();
  }
  return tokenFile(rule, ctx);
}

/**
 * ~/.vault-token, read only when it is yours and no one else can write it: a token planted there by
 * another user would have credmux read (and serve) secrets of their choosing.
 */
async function tokenFile(rule: Rule, ctx: MintContext): Promise<string> {
  const path = join(ctx.env.HOME ?? '', '.vault-token');
  let text: string;
  const fh = await fsp()
    .open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    .catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        throw sourceError(rule, 'no Vault token: VAULT_TOKEN is unset and there is no ~/.vault-token; run vault login, or set "auth" in the rule');
      }
      throw sourceError(rule, `cannot read ${path} (${e.code ?? 'error'}${e.code === 'ELOOP' ? ': a symbolic link, refused' : ''})`);
    });
  try {
    const st = await fh.stat();
    const uid = process.getuid?.();
    if (!st.isFile()) throw sourceError(rule, `${path} is not a regular file; refused`);
    if (uid !== undefined && st.uid !== uid)
      throw sourceError(rule, `${path} belongs to uid ${st.uid}, not to you (uid ${uid}); refused: remove it and run vault login`);
    if ((st.mode & 0o022) !== 0) throw sourceError(rule, `${path} is writable by group or others; refused: run chmod 600 ${path}`);
    if (st.size > 64 * 1024) throw sourceError(rule, `${path} is larger than a token; refused`);
    text = (await fh.readFile('utf8')).trim();
  } finally {
    await fh.close();
  }
  if (!TOKEN_CHARS.test(text)) throw sourceError(rule, `${path} does not hold a single token; run vault login`);
  return text;
}

function methodName(auth: VaultAuth): string {
  return { approle: 'AppRole', jwt: 'JWT/OIDC', kubernetes: 'Kubernetes', token: 'token', agent: 'agent' }[auth.method];
}

async function login(
  rule: Rule,
  auth: Extract<VaultAuth, { method: 'approle' | 'jwt' | 'kubernetes' }>,
  conn: VaultConn,
  ctx: MintContext,
  inputs: { roleId?: string; secretId?: string; key: string },
): Promise<VaultToken> {
  const mount = auth.mount ?? auth.method;
  const name = methodName(auth);
  const idCtx = { env: ctx.env, now: ctx.now, allowInsecureHttp: conn.allowInsecureHttp };
  let body: Record<string, unknown>;
  let secrets: (string | undefined)[];
  let refused: string;
  if (auth.method === 'approle') {
    body = inputs.secretId === undefined ? { role_id: inputs.roleId } : { role_id: inputs.roleId, secret_id: inputs.secretId };
    secrets = [inputs.roleId, inputs.secretId];
    const sid = auth.secretId ? refWording(auth.secretId, 'AppRole secret_id') : undefined;
    refused = `check the role_id${sid ? ` and ${sid.name} (a secret_id expires or runs out of uses: issue a new one, then ${sid.fix})` : ''}`;
  } else if (auth.method === 'jwt') {
    const jwt = await ciIdentityToken(rule, auth.identity, idCtx);
    body = auth.role === undefined ? { jwt } : { role: auth.role, jwt };
    secrets = [jwt];
    refused = `check that the role${auth.role ? ` "${auth.role}"` : ' (default_role)'} at auth/${mount} trusts this identity (bound_audiences, bound_claims, bound_subject)`;
  } else {
    const jwt = await ciIdentityToken(rule, { provider: 'file', path: auth.tokenFile ?? K8S_SA_TOKEN }, idCtx);
    body = { role: auth.role, jwt };
    secrets = [jwt];
    refused = `check that the role "${auth.role}" at auth/${mount} is bound to this service account and namespace`;
  }
  const what = `Vault ${name} login`;
  const ans = await vaultRequest(rule, conn, { method: 'POST', path: `auth/${mount}/login`, body, what }, secrets);
  if (ans.status < 200 || ans.status >= 300) {
    throw vaultFailure(rule, conn, ans, {
      what,
      denied: refused,
      refused,
      missing: `is the ${name} auth method enabled at auth/${mount}? (set "mount" in the rule's auth if it is elsewhere)`,
    });
  }
  return tokenFromAuth(rule, ans.body, ctx.now(), `${what} at ${ans.at}`, inputs.key);
}

function tokenFromAuth(rule: Rule, body: Record<string, unknown> | undefined, now: number, where: string, key: string): VaultToken {
  const token = body ? fieldAt(body, 'auth.client_token') : undefined;
  if (typeof token !== 'string' || !TOKEN_CHARS.test(token))
    throw sourceError(rule, `${where} answered without an auth.client_token; credmux keeps retrying with backoff`);
  const lease = body ? fieldAt(body, 'auth.lease_duration') : undefined;
  const leaseSeconds = typeof lease === 'number' && Number.isFinite(lease) && lease > 0 ? Math.floor(lease) : 0;
  const renewable = body ? fieldAt(body, 'auth.renewable') === true : false;
  const t: VaultToken = { token, fromLogin: true, renewable, leaseSeconds, key };
  if (leaseSeconds > 0) t.expiresAt = now + leaseSeconds;
  return t;
}

async function renewSelf(rule: Rule, conn: VaultConn, held: VaultToken, now: number): Promise<VaultToken | undefined> {
  const what = 'Vault token renewal';
  const ans = await vaultRequest(
    rule,
    conn,
    { method: 'POST', path: 'auth/token/renew-self', token: held.token, body: { increment: `${held.leaseSeconds}s` }, what },
    [],
  );
  if (ans.status !== 200) return undefined; // past its max TTL, revoked: log in again
  const renewed = tokenFromAuth(rule, ans.body, now, `${what} at ${ans.at}`, held.key!);
  // renew-self keeps the token; a server that answered another one is not believed. The margin stays
  // the login's: a renewal cut short by the token's max TTL then means a new login, not ever shorter renewals.
  return renewed.token === held.token ? { ...renewed, leaseSeconds: held.leaseSeconds } : undefined;
}
