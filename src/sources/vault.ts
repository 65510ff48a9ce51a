// vault: a credential read from HashiCorp Vault or OpenBao — one field of a KV v2 secret, or of a
// dynamic secret (database/creds/NAME, a KV v1 path) whose lease sets its expiry. Through the token
// cache's refresh-ahead, a renewable lease is renewed (PUT /v1/sys/leases/renew) and the same value
// served for longer; once it cannot be (max TTL, revoked, a new login), a new secret is read.
//
// Shapes (hashicorp/vault website/content/api-docs/secret/kv/kv-v2.mdx, system/leases.mdx):
//   GET /v1/<mount>/data/<path>[?version=N] → {"data": {"data": {…}, "metadata": {…}}} (no lease)
//   GET /v1/<path> → {"lease_id", "renewable", "lease_duration" (s), "data": {…}}
//   PUT /v1/sys/leases/renew {"lease_id", "increment" (s)} → {"lease_id", "renewable", "lease_duration"}
// A lease belongs to the token that read it and ends with it, so a leased value is served no longer
// than the token of our login lives.
import type { Rule, StoredRef, VaultSourceConfig } from '../model/rule.js';
import type { Credential } from '../model/types.js';
import { defaultRefreshMarginMs } from '../cache/token-cache.js';
import { safeText, sourceError } from './errors.js';
import { tokenExpiry, TokenShapeError } from './jwt-expiry.js';
import { isStoredRef } from './secret-ref.js';
import { fieldAt, TOKEN_CHARS } from './token-answer.js';
import { DEFAULT_TOKEN_USERNAME, type MintContext, type TokenSource } from './types.js';
import { forgetLogin, vaultToken, type VaultToken } from './vault-auth.js';
import { vaultAuthOf } from './vault-env.js';
import { vaultConnection, vaultFailure, vaultRequest, type VaultAnswer, type VaultConn } from './vault-http.js';

/** A value with no lease (KV) is read again after this long unless the rule says ttlSeconds: a rotated secret is picked up. */
export const UNLEASED_TTL_SECONDS = 300;

function config(rule: Rule): VaultSourceConfig {
  if (rule.source.type !== 'vault') throw new Error('not a vault rule');
  return rule.source;
}

/** A renewable lease we read, by the value it gave (a digest): what a refresh ahead renews. */
interface Lease {
  leaseId: string;
  leaseSeconds: number;
  /** The token that read it: the lease ends with that token. */
  token: string | undefined;
}
const leases = new Map<string, Lease>();
const MAX_LEASES = 1000;

function leaseKey(rule: Rule, secret: string): string {
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256').update(`${rule.id}\0${secret}`).digest('hex');
}

/** Path segments as Vault routes them, each percent-encoded (the schema already refuses `..` and odd characters). */
function apiPath(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}

/** Printable, no control characters: what every protocol can carry (a token: no spaces either). */
const PRINTABLE = /^[^\u0000-\u001f\u007f]+$/;

export const vaultSource: TokenSource = {
  refreshing: true,
  inputs(rule) {
    const auth = vaultAuthOf(config(rule));
    const refs: StoredRef[] = [];
    if (auth.method === 'token' && auth.token && isStoredRef(auth.token)) refs.push(auth.token);
    if (auth.method === 'approle') {
      if (typeof auth.roleId !== 'string' && isStoredRef(auth.roleId)) refs.push(auth.roleId);
      if (auth.secretId && isStoredRef(auth.secretId)) refs.push(auth.secretId);
    }
    return refs;
  },
  audience() {
    return undefined;
  },
  async mint(rule, ctx) {
    const src = config(rule);
    const conn = await vaultConnection(rule, src, ctx.env);
    let token = await vaultToken(rule, src, conn, ctx);
    if (ctx.current) {
      const renewed = await renewLease(rule, src, conn, token, ctx, ctx.current);
      if (renewed) return renewed;
    }
    let ans = await readSecret(rule, src, conn, token);
    if (ans.status === 403 && token.fromLogin) {
      // Our login's token was revoked or cut short: one new login, then the read again.
      forgetLogin(token);
      token = await vaultToken(rule, src, conn, ctx);
      ans = await readSecret(rule, src, conn, token);
    }
    return credentialFrom(rule, src, conn, token, ans, ctx);
  },
};

function secretPath(src: VaultSourceConfig): string {
  return src.kv ? apiPath(src.kv.mount, 'data', src.kv.path) : apiPath(src.path ?? '');
}

function readSecret(rule: Rule, src: VaultSourceConfig, conn: VaultConn, token: VaultToken): Promise<VaultAnswer> {
  const path = secretPath(src);
  const query = src.kv?.version !== undefined ? `version=${src.kv.version}` : undefined;
  return vaultRequest(
    rule,
    conn,
    {
      method: src.params ? 'POST' : 'GET',
      path,
      ...(query ? { query } : {}),
      ...(token.token !== undefined ? { token: token.token } : {}),
      ...(src.params ? { body: src.params } : {}),
      what: `reading ${path}`,
    },
    [],
  );
}

function deniedFix(src: VaultSourceConfig, path: string): string {
  const auth = vaultAuthOf(src);
  const grant = `capabilities ["${src.params ? 'update' : 'read'}"] on ${path}`;
  switch (auth.method) {
    case 'agent':
      return `the Vault Agent's auto-auth token lacks ${grant}, or the agent does not add it (api_proxy { use_auto_auth_token = true })`;
    case 'token':
      return `the Vault token may have expired or been revoked (run vault login, or set ${auth.token ? 'the token the rule names' : 'VAULT_TOKEN'}), or its policies lack ${grant}`;
    default:
      return `the policies of the ${auth.method} role lack ${grant}`;
  }
}

function missingFix(src: VaultSourceConfig, ans: VaultAnswer): string {
  if (!src.kv) return 'check "path" in the rule (a dynamic secret\'s role must exist, e.g. database/creds/<role>)';
  const meta = ans.body ? fieldAt(ans.body, 'data.metadata') : undefined;
  const m = meta !== null && typeof meta === 'object' ? (meta as Record<string, unknown>) : undefined;
  if (m?.destroyed === true) return `version ${String(m.version)} of the secret was destroyed; write a new one or read another "version"`;
  if (typeof m?.deletion_time === 'string' && m.deletion_time !== '')
    return `version ${String(m.version)} of the secret was deleted (vault kv undelete can bring it back)`;
  return `check "kv" in the rule: is there a secret "${src.kv.path}" in the KV version 2 engine mounted at "${src.kv.mount}"${src.kv.version !== undefined ? ` with version ${src.kv.version}` : ''}?`;
}

async function credentialFrom(
  rule: Rule,
  src: VaultSourceConfig,
  conn: VaultConn,
  token: VaultToken,
  ans: VaultAnswer,
  ctx: MintContext,
): Promise<Credential> {
  const path = secretPath(src);
  if (ans.status < 200 || ans.status >= 300) {
    throw vaultFailure(rule, conn, ans, { what: `reading ${path}`, denied: deniedFix(src, path), missing: missingFix(src, ans) });
  }
  const body = ans.body ?? {};
  const data = fieldAt(body, src.kv ? 'data.data' : 'data');
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw sourceError(
      rule,
      `${ans.at} answered HTTP ${ans.status} without the secret's data${src.kv ? ' (data.data): is the mount a KV version 2 engine? For KV version 1 use "path"' : ''}`,
    );
  }
  const fields = data as Record<string, unknown>;
  const pick = (name: string, what: string): string => {
    const v = fieldAt(fields, name);
    if (typeof v !== 'string' || v === '') {
      const names = safeText(Object.keys(fields).slice(0, 20).join(', '), []) || 'none';
      throw sourceError(
        rule,
        `the secret at ${ans.at} has no string field "${name}" for the ${what} (fields: ${names}); set "${what === 'username' ? 'usernameField' : 'field'}" to one of them`,
      );
    }
    return v;
  };
  const kind = rule.kind ?? (src.usernameField ? 'basic' : 'bearer');
  const secret = pick(src.field, kind === 'basic' ? 'password' : 'token');
  if (!(kind === 'basic' ? PRINTABLE : TOKEN_CHARS).test(secret)) {
    throw sourceError(
      rule,
      `the field "${src.field}" at ${ans.at} holds ${kind === 'basic' ? 'control characters' : 'spaces or control characters'}; no tool can be handed it`,
    );
  }
  const username = src.usernameField ? pick(src.usernameField, 'username') : (rule.username ?? DEFAULT_TOKEN_USERNAME);
  if (!PRINTABLE.test(username)) throw sourceError(rule, `the field "${src.usernameField}" at ${ans.at} holds control characters`);

  const leaseId = typeof body.lease_id === 'string' && body.lease_id !== '' ? body.lease_id : undefined;
  const leaseSeconds = leaseId && typeof body.lease_duration === 'number' && body.lease_duration > 0 ? Math.floor(body.lease_duration) : 0;
  const now = ctx.now();
  const expiresAt = await expiry(rule, ans.at, secret, src, {
    now,
    leaseSeconds,
    // A lease ends with the token that read it; a KV value does not.
    tokenEnds: leaseId ? token.expiresAt : undefined,
    unleased: leaseId === undefined,
  });
  if (ctx.current) leases.delete(leaseKey(rule, ctx.current.secret));
  if (leaseId && body.renewable === true && leaseSeconds > 0) {
    if (leases.size >= MAX_LEASES) leases.delete(leases.keys().next().value as string);
    leases.set(leaseKey(rule, secret), { leaseId, leaseSeconds, token: token.token });
  }
  const credential: Credential = { kind, username, secret };
  return expiresAt === undefined ? credential : { ...credential, expiresAt };
}

async function expiry(
  rule: Rule,
  at: string,
  secret: string,
  src: VaultSourceConfig,
  o: { now: number; leaseSeconds: number; tokenEnds: number | undefined; unleased: boolean },
): Promise<number | undefined> {
  let at_: number | undefined;
  try {
    at_ = await tokenExpiry(secret, {
      expect: src.expect,
      expiresIn: o.leaseSeconds > 0 ? o.leaseSeconds : undefined,
      ttlSeconds: src.ttlSeconds ?? (o.unleased ? UNLEASED_TTL_SECONDS : undefined),
      now: o.now,
    });
  } catch (e) {
    if (e instanceof TokenShapeError) throw sourceError(rule, `the secret at ${at} is unusable: ${e.message}`);
    throw e;
  }
  if (o.tokenEnds !== undefined) at_ = Math.min(at_ ?? Infinity, o.tokenEnds);
  if (at_ !== undefined && at_ <= o.now)
    throw sourceError(rule, `the secret at ${at} came with a lease that has already ended; credmux keeps retrying with backoff`);
  return at_;
}

/**
 * A refresh ahead of a leased value's end: renew the lease and serve the same value for longer. Not
 * when the token that read it is gone (a new login: the lease dies with the old token), nor when
 * Vault grants too little (the lease's max TTL): undefined, and a new secret is read.
 */
async function renewLease(
  rule: Rule,
  src: VaultSourceConfig,
  conn: VaultConn,
  token: VaultToken,
  ctx: MintContext,
  current: Credential,
): Promise<Credential | undefined> {
  const key = leaseKey(rule, current.secret);
  const lease = leases.get(key);
  if (!lease || lease.token !== token.token) return undefined;
  const ans = await vaultRequest(
    rule,
    conn,
    {
      method: 'PUT',
      path: 'sys/leases/renew',
      ...(token.token !== undefined ? { token: token.token } : {}),
      body: { lease_id: lease.leaseId, increment: lease.leaseSeconds },
      what: 'renewing a lease',
    },
    [],
  );
  const d = ans.body?.lease_duration;
  if (ans.status !== 200 || ans.body?.lease_id !== lease.leaseId || typeof d !== 'number' || !(d > 0)) {
    leases.delete(key);
    return undefined;
  }
  const now = ctx.now();
  const expiresAt = await expiry(rule, ans.at, current.secret, src, {
    now,
    leaseSeconds: Math.floor(d),
    tokenEnds: token.expiresAt,
    unleased: false,
  });
  if (expiresAt !== undefined && expiresAt - now <= defaultRefreshMarginMs(lease.leaseSeconds * 1000) / 1000) return undefined;
  const { kind, username, secret } = current;
  return expiresAt === undefined ? { kind, username, secret } : { kind, username, secret, expiresAt };
}
