// Google credentials JSON: where it comes from (a file, the store, an env var, or application default
// credentials) and what it says. The shapes are those of googleapis/google-auth-library-python
// google/auth/_default.py (the ADC search order, the `type` values), google/oauth2/service_account.py,
// google/oauth2/credentials.py (authorized_user), google/auth/external_account.py and
// google/auth/impersonated_credentials.py.
//
// The JSON is a secret (a private key, a refresh token): its values never appear in a message, only
// the names of fields that are missing or wrong. A file is read only when no other user can have
// written it (owner: the caller or root; not writable by group or others), as the config file is:
// an external_account file says where a CI identity token is sent.
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GoogleSourceConfig, Rule, SecretRef } from '../model/rule.js';
import type { Env } from '../platform/paths.js';
import { CredmuxError } from '../model/types.js';
import { sourceError } from './errors.js';
import { refWording } from './secret-ref.js';
import type { SecretAccess } from './types.js';

/** https://oauth2.googleapis.com/token: token_uri's default, and the `aud` of every service-account assertion. */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const MAX_FILE_BYTES = 64 * 1024;

export interface ServiceAccountKey {
  type: 'service_account';
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
  tokenUri: string;
}

export interface AuthorizedUser {
  type: 'authorized_user';
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  tokenUri: string;
}

/** credential_source: a file or URL holding the subject token, as text or in a JSON field. */
export interface SubjectSource {
  file?: string;
  url?: string;
  headers?: Record<string, string>;
  format: { type: 'text' } | { type: 'json'; field: string };
}

export interface ExternalAccount {
  type: 'external_account';
  audience: string;
  subjectTokenType: string;
  tokenUrl: string;
  source: SubjectSource;
  impersonationUrl?: string;
  lifetimeSeconds?: number;
}

export interface ImpersonatedAccount {
  type: 'impersonated_service_account';
  source: ServiceAccountKey | AuthorizedUser | ExternalAccount;
  impersonationUrl: string;
  delegates: string[];
}

export type GoogleCredentials = ServiceAccountKey | AuthorizedUser | ExternalAccount | ImpersonatedAccount;

/** The credentials found, with the words errors use for where they came from. */
export interface Located {
  credentials: GoogleCredentials | 'metadata';
  where: string;
}

class Shape extends Error {}

function str(o: Record<string, unknown>, key: string, required: true): string;
function str(o: Record<string, unknown>, key: string, required: false): string | undefined;
function str(o: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new Shape(`has no "${key}" string`);
  return v;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Shape(`has no "${what}" object`);
  return v as Record<string, unknown>;
}

function subjectSource(o: Record<string, unknown>): SubjectSource {
  if (o.environment_id !== undefined)
    throw new Shape('takes its subject token from AWS ("environment_id"), which credmux does not support; use a file or url credential_source');
  if (o.executable !== undefined)
    throw new Shape('takes its subject token from an executable, which credmux does not run; use a file or url credential_source');
  const file = str(o, 'file', false);
  const url = str(o, 'url', false);
  if ((file === undefined) === (url === undefined)) throw new Shape('needs exactly one of "file" and "url" in "credential_source"');
  const headers: Record<string, string> = {};
  if (o.headers !== undefined) {
    for (const [k, v] of Object.entries(obj(o.headers, 'credential_source.headers'))) {
      if (typeof v !== 'string') throw new Shape('has a credential_source header that is not a string');
      headers[k] = v;
    }
  }
  const fmt = o.format === undefined ? undefined : obj(o.format, 'credential_source.format');
  const format: SubjectSource['format'] =
    fmt === undefined || fmt.type === 'text'
      ? { type: 'text' }
      : fmt.type === 'json'
        ? { type: 'json', field: str(fmt, 'subject_token_field_name', true) }
        : (() => {
            throw new Shape('has a credential_source.format type other than "text" or "json"');
          })();
  return { ...(file !== undefined ? { file } : { url }), ...(o.headers !== undefined ? { headers } : {}), format };
}

function parseObject(o: Record<string, unknown>, nested = false): GoogleCredentials {
  const type = o.type;
  switch (type) {
    case 'service_account':
      return {
        type,
        clientEmail: str(o, 'client_email', true),
        privateKey: str(o, 'private_key', true),
        privateKeyId: str(o, 'private_key_id', false),
        tokenUri: str(o, 'token_uri', false) ?? GOOGLE_TOKEN_URI,
      };
    case 'authorized_user':
      return {
        type,
        clientId: str(o, 'client_id', true),
        clientSecret: str(o, 'client_secret', true),
        refreshToken: str(o, 'refresh_token', true),
        tokenUri: str(o, 'token_uri', false) ?? GOOGLE_TOKEN_URI,
      };
    case 'external_account': {
      const imp = o.service_account_impersonation === undefined ? undefined : obj(o.service_account_impersonation, 'service_account_impersonation');
      const lifetime = imp?.token_lifetime_seconds;
      if (lifetime !== undefined && (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 600 || lifetime > 43200)) {
        throw new Shape('has a service_account_impersonation.token_lifetime_seconds outside 600–43200');
      }
      if (o.workforce_pool_user_project !== undefined)
        throw new Shape('is a workforce pool configuration ("workforce_pool_user_project"), which credmux does not support');
      return {
        type,
        audience: str(o, 'audience', true),
        subjectTokenType: str(o, 'subject_token_type', true),
        tokenUrl: str(o, 'token_url', true),
        source: subjectSource(obj(o.credential_source, 'credential_source')),
        ...(str(o, 'service_account_impersonation_url', false) !== undefined
          ? { impersonationUrl: str(o, 'service_account_impersonation_url', true) }
          : {}),
        ...(typeof lifetime === 'number' ? { lifetimeSeconds: lifetime } : {}),
      };
    }
    case 'impersonated_service_account': {
      if (nested) throw new Shape('nests one impersonated_service_account in another');
      const source = parseObject(obj(o.source_credentials, 'source_credentials'), true);
      if (source.type === 'impersonated_service_account') throw new Shape('nests one impersonated_service_account in another');
      const delegates = o.delegates ?? [];
      if (!Array.isArray(delegates) || delegates.some((d) => typeof d !== 'string'))
        throw new Shape('has "delegates" that are not a list of strings');
      return { type, source, impersonationUrl: str(o, 'service_account_impersonation_url', true), delegates: delegates as string[] };
    }
    default:
      throw new Shape(
        typeof type === 'string' && /^[a-z_]{1,40}$/.test(type)
          ? `is of type "${type}", which credmux does not support (service_account, authorized_user, external_account, impersonated_service_account)`
          : 'has no "type" (service_account, authorized_user, external_account or impersonated_service_account)',
      );
  }
}

/** Parses the JSON text — or its base64, as a one-line secret in the store or an env var may be. */
export function parseCredentials(rule: Rule, text: string, where: string): GoogleCredentials {
  let t = text.trim();
  if (!t.startsWith('{') && /^[A-Za-z0-9+/=_-]+$/.test(t)) t = Buffer.from(t, 'base64').toString('utf8').trim();
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    // V8's message would quote the text: only say that it is not JSON.
    throw sourceError(rule, `${where} is not a Google credentials JSON (nor its base64)`);
  }
  try {
    return parseObject(obj(v, 'top-level'));
  } catch (e) {
    if (e instanceof Shape) throw sourceError(rule, `${where} ${e.message}`);
    throw e;
  }
}

/**
 * A credentials file, if it is safe to use: a regular file (links followed: Kubernetes mounts secrets
 * through them) owned by the caller or root and writable by no one else, in a directory likewise or
 * sticky (/tmp). `undefined` when it does not exist and `optional` says that is fine.
 */
export function readCredentialsFile(rule: Rule, path: string, where: string, optional = false): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY);
    const st = fstatSync(fd);
    if (!st.isFile()) throw sourceError(rule, `${where} is not a regular file`);
    const uid = process.getuid?.();
    if (uid !== undefined) {
      if (st.uid !== uid && st.uid !== 0)
        throw sourceError(
          rule,
          `${where} belongs to uid ${st.uid}, not to you (uid ${uid}) or root; credmux does not use credentials another user controls. Fix: chown ${uid} ${path}`,
        );
      if ((st.mode & 0o022) !== 0)
        throw sourceError(
          rule,
          `${where} is writable by group or others; credmux does not use credentials another user can change. Fix: chmod go-w ${path}`,
        );
      const dir = statSync(dirname(path));
      if ((dir.uid !== uid && dir.uid !== 0) || ((dir.mode & 0o022) !== 0 && (dir.mode & 0o1000) === 0)) {
        throw sourceError(rule, `the directory holding ${where} can be changed by another user; move the file to a directory of yours`);
      }
    }
    if (st.size > MAX_FILE_BYTES) throw sourceError(rule, `${where} is larger than ${MAX_FILE_BYTES} bytes; not a credentials file`);
    return readFileSync(fd, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined || e instanceof CredmuxError) throw e;
    if (code === 'ENOENT' && optional) return undefined;
    throw sourceError(rule, `cannot read ${where} (${code})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function expandHome(path: string, env: Env): string {
  return path.startsWith('~/') ? join(env.HOME ?? '', path.slice(2)) : path;
}

/** gcloud's ADC file: $CLOUDSDK_CONFIG/application_default_credentials.json, else ~/.config/gcloud/… (google/auth/_cloud_sdk.py). */
export function wellKnownFile(env: Env): string {
  return join(env.CLOUDSDK_CONFIG || join(env.HOME ?? '', '.config', 'gcloud'), 'application_default_credentials.json');
}

/**
 * Where the rule's credentials are: the configured ones, or application default credentials in
 * google-auth's order — $GOOGLE_APPLICATION_CREDENTIALS, gcloud's well-known file, the metadata server.
 */
export async function locateCredentials(rule: Rule, src: GoogleSourceConfig, env: Env, secrets: SecretAccess): Promise<Located> {
  const given = src.credentials;
  if (given === 'metadata') return { credentials: 'metadata', where: 'the metadata server' };
  if (given !== undefined && 'file' in given) {
    const path = expandHome(given.file, env);
    const where = `the credentials file ${path}`;
    return { credentials: parseCredentials(rule, readCredentialsFile(rule, path, where)!, where), where };
  }
  if (given !== undefined) {
    const ref: SecretRef = given;
    const wording = refWording(ref, 'Google credentials JSON');
    const text = await secrets.read(ref);
    if (text === undefined) {
      const fix = 'stored' in ref ? `jq -c . KEY.json | ${wording.fix}` : wording.fix;
      throw sourceError(rule, `${wording.name} is missing; fix: ${fix}`);
    }
    return { credentials: parseCredentials(rule, text, wording.name), where: wording.name };
  }
  const adc = env.GOOGLE_APPLICATION_CREDENTIALS;
  if (adc) {
    const where = `the credentials file ${adc} ($GOOGLE_APPLICATION_CREDENTIALS)`;
    return { credentials: parseCredentials(rule, readCredentialsFile(rule, adc, where)!, where), where };
  }
  const known = wellKnownFile(env);
  const where = `gcloud's application default credentials ${known}`;
  const text = readCredentialsFile(rule, known, where, true);
  if (text !== undefined) return { credentials: parseCredentials(rule, text, where), where };
  return { credentials: 'metadata', where: 'the metadata server' };
}
