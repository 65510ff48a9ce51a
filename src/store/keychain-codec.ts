// How a StoredEntry maps onto an OS keychain item.
//
//   service  = "credmux"                       (one namespace; list() asks for exactly this service)
//   account  = percent-encoded username + "@" + url, e.g. "__token__@https://pypi.example.com/simple"
//              (reads like URL userinfo in Seahorse/Keychain Access; injective, because the encoded
//              username never contains "@", so the first "@" always splits it back)
//   password = JSON {"v":1,"kind","secret","expiresAt"?,"oauthRefreshToken"?,"updatedAt"?,"protocols"?}
//
// On Linux the item's attributes are {service, username: <account>}, so a peer can find it with
// `secret-tool lookup service credmux username '<account>'`.
import type { EntryKey, StoredEntry } from '../model/types.js';
import { checkEntry } from './entry.js';

export const KEYCHAIN_FORMAT = 1;

export function encodeAccount(key: EntryKey): string {
  return `${encodeURIComponent(key.username)}@${key.url}`;
}

export function decodeAccount(account: string): EntryKey | undefined {
  const at = account.indexOf('@');
  if (at < 0 || at === account.length - 1) return undefined;
  try {
    return { username: decodeURIComponent(account.slice(0, at)), url: account.slice(at + 1) };
  } catch {
    return undefined;
  }
}

export function encodePassword(e: StoredEntry): string {
  const { kind, secret, expiresAt, oauthRefreshToken, updatedAt, protocols } = e;
  return JSON.stringify({ v: KEYCHAIN_FORMAT, kind, secret, expiresAt, oauthRefreshToken, updatedAt, protocols });
}

/** Returns the entry, or a problem that names fields only (the password holds the secret). */
export function decodeItem(account: string, password: string): { entry: StoredEntry } | { problem: string } {
  const key = decodeAccount(account);
  if (!key) return { problem: 'its account is not "<username>@<url>"' };
  let doc: unknown;
  try {
    doc = JSON.parse(password);
  } catch {
    return { problem: 'its secret is not credmux JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { problem: 'its secret is not a JSON object' };
  const { v, ...fields } = doc as Record<string, unknown>;
  if (v !== KEYCHAIN_FORMAT) return { problem: `its format version is not ${KEYCHAIN_FORMAT}` };
  const checked = checkEntry({ ...fields, url: key.url, username: key.username }, 'it');
  return 'problem' in checked ? { problem: checked.problem } : { entry: checked.entry };
}
