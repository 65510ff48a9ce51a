// The shape of a stored entry, checked the same way by every store: on the way in (put) so a store
// can never write something it would later refuse to read, and on the way out (file, keychain) so a
// damaged record is reported instead of silently dropped. Problems name fields, never values: the
// values include secrets.
import { CredmuxError, PROTOCOL_NAMES, type EntryKey, type ProtocolName, type StoredEntry } from '../model/types.js';

const FIELDS = new Set(['url', 'username', 'kind', 'secret', 'expiresAt', 'oauthRefreshToken', 'updatedAt', 'protocols']);

/** One string per (url, username): unambiguous for any characters in either part. */
export function keyId(key: EntryKey): string {
  return JSON.stringify([key.url, key.username]);
}

export function sameKey(a: EntryKey, b: EntryKey): boolean {
  return a.url === b.url && a.username === b.username;
}

/**
 * Validates an untrusted value as a StoredEntry and returns a copy holding only the known fields, or
 * the first problem found. `where` prefixes the problem, e.g. `entries[3]`. Unknown fields are a
 * problem in stored data (they would be lost on the next write) unless `ignoreUnknown` is set.
 */
export function checkEntry(value: unknown, where: string, ignoreUnknown = false): { entry: StoredEntry } | { problem: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: `${where} is not an object` };
  const v = value as Record<string, unknown>;
  for (const k of ignoreUnknown ? [] : Object.keys(v)) {
    if (!FIELDS.has(k)) return { problem: `${where} has an unknown field "${k.slice(0, 40)}"` };
  }
  if (typeof v.url !== 'string' || v.url === '') return { problem: `${where}.url must be a non-empty string` };
  if (typeof v.username !== 'string') return { problem: `${where}.username must be a string` };
  if (v.kind !== 'basic' && v.kind !== 'bearer') return { problem: `${where}.kind must be "basic" or "bearer"` };
  if (typeof v.secret !== 'string') return { problem: `${where}.secret must be a string` };
  if (v.expiresAt !== undefined && (typeof v.expiresAt !== 'number' || !Number.isFinite(v.expiresAt))) {
    return { problem: `${where}.expiresAt must be a number (Unix seconds)` };
  }
  if (v.oauthRefreshToken !== undefined && typeof v.oauthRefreshToken !== 'string') return { problem: `${where}.oauthRefreshToken must be a string` };
  if (v.updatedAt !== undefined && typeof v.updatedAt !== 'string') return { problem: `${where}.updatedAt must be a string` };
  if (v.protocols !== undefined && !isProtocolList(v.protocols)) {
    return { problem: `${where}.protocols must be a non-empty list of tool names (${PROTOCOL_NAMES.join(', ')})` };
  }
  if (v.protocols !== undefined && v.expiresAt === undefined && v.oauthRefreshToken === undefined && v.updatedAt !== undefined) {
    // The shape of what a helper stores (docker login, git's store), as one literal too.
    return {
      entry: {
        url: v.url,
        username: v.username,
        kind: v.kind,
        secret: v.secret,
        updatedAt: v.updatedAt,
        protocols: [...(v.protocols as ProtocolName[])],
      },
    };
  }
  // The usual shape (a login, a git or docker store) as one literal: a field added after the literal
  // goes to a separate property array, 40 bytes more per entry, and a daemon holds thousands.
  if (v.expiresAt === undefined && v.oauthRefreshToken === undefined && v.updatedAt !== undefined) {
    return { entry: { url: v.url, username: v.username, kind: v.kind, secret: v.secret, updatedAt: v.updatedAt } };
  }
  const entry: StoredEntry = { url: v.url, username: v.username, kind: v.kind, secret: v.secret };
  if (v.expiresAt !== undefined) entry.expiresAt = v.expiresAt as number;
  if (v.oauthRefreshToken !== undefined) entry.oauthRefreshToken = v.oauthRefreshToken as string;
  if (v.updatedAt !== undefined) entry.updatedAt = v.updatedAt as string;
  if (v.protocols !== undefined) entry.protocols = [...(v.protocols as ProtocolName[])];
  return { entry };
}

/**
 * A tool name this credmux does not know is one a newer credmux stored (a door added since): kept, so
 * a rewrite does not lose it, and matched by no tool here. Refusing it would make a downgrade read the
 * whole store as damaged.
 */
const TOOL_NAME = /^[a-z][a-z0-9-]{0,31}$/;

function isProtocolList(x: unknown): x is ProtocolName[] {
  return Array.isArray(x) && x.length > 0 && x.every((p) => typeof p === 'string' && TOOL_NAME.test(p)) && new Set(x).size === x.length;
}

/**
 * For put(): a caller handing a store a malformed entry is a bug, reported without the values. Extra
 * fields (a caller passing a richer object) are left out rather than refused.
 */
export function entryForPut(value: StoredEntry): StoredEntry {
  const checked = checkEntry(value, 'the entry', true);
  if ('problem' in checked) throw new CredmuxError('internal', `refusing to store a malformed entry: ${checked.problem}`);
  // Read back, a tool name this version does not know is kept; written, only the ones it knows.
  if (checked.entry.protocols?.some((p) => !PROTOCOL_NAMES.includes(p))) {
    throw new CredmuxError('internal', `refusing to store a malformed entry: the entry.protocols must name tools of ${PROTOCOL_NAMES.join(', ')}`);
  }
  return checked.entry;
}

/** Callers may mutate what they get; stores hand out copies. */
export function copyEntry(e: StoredEntry): StoredEntry {
  return e.protocols === undefined ? { ...e } : { ...e, protocols: [...e.protocols] };
}
