// Talking to Vault (or OpenBao, same paths): where (an address over https, or a Vault Agent's Unix
// socket, checked before it is trusted), with which headers (X-Vault-Token, X-Vault-Namespace,
// X-Vault-Request), and what its errors mean. Vault answers errors as {"errors": ["…"]} with the
// status saying the kind: 403 permission denied, 404 no such path, 503 sealed or standby, 400 a bad
// login (developer.hashicorp.com/vault/api-docs#http-status-codes).
import { dirname } from 'node:path';
import type { Rule, VaultSourceConfig } from '../model/rule.js';
import type { Env } from '../platform/paths.js';
import { fsp } from '../platform/lazy-fs.js';
import { displayEndpoint, endpointProblem } from '../http/policy.js';
import { httpRequest } from '../http/request.js';
import { safeText, sourceError, transportError } from './errors.js';
import { parseJsonObject } from './token-answer.js';

/** Where and how this rule reaches Vault, worked out once per mint. */
export interface VaultConn {
  /** scheme://host[:port] (an agent socket: http://localhost, the Host header only). */
  base: string;
  /** How errors name the server: its address, or the agent socket. */
  shown: string;
  socketPath?: string;
  namespace?: string;
  allowInsecureHttp?: boolean;
  env: Env;
}

export interface VaultAnswer {
  status: number;
  body: Record<string, unknown> | undefined;
  /** Vault's own explanation (errors[]), made safe to show. */
  errors: string;
  /** scheme://host/path as errors show it. */
  at: string;
}

const STICKY = 0o1000;

/**
 * The connection for a mint. An agent socket is trusted only when it is a socket owned by you, root or
 * the agent's configured uid, in a directory only they can change: anyone else could listen there,
 * answer with credentials of their choosing, and be sent what credmux reads.
 */
export async function vaultConnection(rule: Rule, src: VaultSourceConfig, env: Env): Promise<VaultConn> {
  const ns = src.namespace ?? (env.VAULT_NAMESPACE || undefined);
  if (ns !== undefined && !/^[A-Za-z0-9_./-]{1,256}$/.test(ns)) {
    throw sourceError(
      rule,
      `the Vault namespace ${src.namespace === undefined ? 'in $VAULT_NAMESPACE ' : ''}is not a namespace path (letters, digits, _ . - /)`,
    );
  }
  const namespace = ns === undefined ? {} : { namespace: ns };
  if (src.agent) {
    await checkAgentSocket(rule, src.agent.socket, src.agent.uid);
    return {
      base: 'http://localhost',
      shown: `the Vault Agent at ${src.agent.socket}`,
      socketPath: src.agent.socket,
      allowInsecureHttp: true,
      env,
      ...namespace,
    };
  }
  const address = src.address ?? env.VAULT_ADDR;
  if (!address) {
    throw sourceError(rule, 'no Vault address: set "address" in the rule, or VAULT_ADDR where the helper runs (e.g. https://vault.example.com:8200)');
  }
  const problem = endpointProblem(address, src.allowInsecureHttp);
  if (problem)
    throw sourceError(rule, `the Vault address ${src.address === undefined ? 'in $VAULT_ADDR ' : ''}${displayEndpoint(address)} ${problem}`);
  const u = new URL(address);
  // A path prefix is kept (Vault behind a reverse proxy at /vault); /v1/… is appended to it.
  const base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  return { base, shown: base, allowInsecureHttp: src.allowInsecureHttp, env, ...namespace };
}

async function checkAgentSocket(rule: Rule, socket: string, agentUid: number | undefined): Promise<void> {
  const uid = process.getuid?.();
  const fs = fsp();
  let st;
  try {
    st = await fs.lstat(socket);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw sourceError(rule, `no Vault Agent socket at ${socket} (${code}); is the agent running with a listener "unix" at that address?`);
  }
  if (!st.isSocket()) throw sourceError(rule, `${socket} is not a socket; point "agent.socket" at the Vault Agent's listener "unix" address`);
  if (uid === undefined) return;
  const trusted = (owner: number) => owner === uid || owner === 0 || owner === agentUid;
  if (!trusted(st.uid)) {
    throw sourceError(
      rule,
      `${socket} belongs to uid ${st.uid}, not to you (uid ${uid}), root or the rule's "agent.uid"; refused: another user could be posing as the agent (if uid ${st.uid} runs your Vault Agent, set "agent": {"socket": …, "uid": ${st.uid}})`,
    );
  }
  const dir = dirname(socket);
  const d = await fs.stat(dir);
  if (!trusted(d.uid) || ((d.mode & 0o022) !== 0 && (d.mode & STICKY) === 0)) {
    const mode = (d.mode & 0o7777).toString(8).padStart(4, '0');
    throw sourceError(
      rule,
      `the directory ${dir} holding the agent socket could be changed by another user (owner uid ${d.uid}, mode ${mode}); refused: put the socket in a directory only you, root or the agent's user can write`,
    );
  }
}

export interface VaultCall {
  method: 'GET' | 'POST' | 'PUT';
  /** Below /v1/, e.g. auth/approle/login or secret/data/ci. */
  path: string;
  query?: string;
  token?: string;
  body?: Record<string, unknown>;
  /** What the call is for, as errors say it: "AppRole login", "reading secret/data/ci". */
  what: string;
}

export async function vaultRequest(rule: Rule, conn: VaultConn, call: VaultCall, secrets: readonly (string | undefined)[]): Promise<VaultAnswer> {
  const url = `${conn.base}/v1/${call.path}${call.query ? `?${call.query}` : ''}`;
  // X-Vault-Request: what the vault CLI sends; an agent or proxy listener with require_request_header refuses requests without it.
  const headers: Record<string, string> = { 'x-vault-request': 'true' };
  if (call.token !== undefined) headers['x-vault-token'] = call.token;
  if (conn.namespace !== undefined) headers['x-vault-namespace'] = conn.namespace;
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await httpRequest({
      url,
      method: call.method,
      headers,
      ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
      allowInsecureHttp: conn.allowInsecureHttp,
      env: conn.env,
      ...(conn.socketPath !== undefined ? { socketPath: conn.socketPath } : {}),
    });
  } catch (e) {
    throw transportError(rule, e, call.what);
  }
  const body = parseJsonObject(res.text);
  const list = Array.isArray(body?.errors) ? body.errors.filter((x): x is string => typeof x === 'string') : [];
  const at = conn.socketPath === undefined ? displayEndpoint(url) : `${conn.shown} (/v1/${call.path})`;
  return { status: res.status, body, errors: safeText(list.join('; '), [...secrets, call.token]), at };
}

export interface FailureWording {
  what: string;
  /** What to check or do when Vault says permission denied (403). */
  denied: string;
  /** What to check when there is nothing at the path (404). */
  missing?: string;
  /** What to do when a login is refused (400). */
  refused?: string;
}

/** A non-2xx answer as the rule's error: the kind of failure by name, Vault's own reason, and the fix. */
export function vaultFailure(rule: Rule, conn: VaultConn, ans: VaultAnswer, w: FailureWording): Error {
  const why = ans.errors ? `: ${ans.errors}` : '';
  const s = ans.status;
  if (s === 503 && /sealed/i.test(ans.errors)) {
    return sourceError(
      rule,
      `${w.what}: Vault at ${conn.shown} is sealed (HTTP 503); it must be unsealed (vault operator unseal) before it answers; credmux keeps retrying with backoff`,
    );
  }
  if (s === 429 || s >= 500) return sourceError(rule, `${w.what}: ${ans.at} answered HTTP ${s}${why}; credmux keeps retrying with backoff`);
  if (s === 403) return sourceError(rule, `${w.what}: permission denied at ${ans.at} (HTTP 403${why}); ${w.denied}`);
  if (s === 404) return sourceError(rule, `${w.what}: nothing at ${ans.at} (HTTP 404${why}); ${w.missing ?? 'check the mount and path in the rule'}`);
  if ((s === 400 || s === 401) && w.refused) return sourceError(rule, `${w.what} refused at ${ans.at} (HTTP ${s}${why}); ${w.refused}`);
  return sourceError(rule, `${w.what}: ${ans.at} answered HTTP ${s}${why}`);
}
