// The JWT a GitHub App signs to act as itself: RS256 with the app's private key, `iat` 60 s in the past
// (GitHub's allowance for clock drift), `exp` under the 10-minute maximum, `iss` the client ID or app ID
// (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app).
// jose signs; node:crypto only reads the key, since GitHub hands out PKCS#1 PEM ("BEGIN RSA PRIVATE
// KEY"), which jose's importPKCS8 does not take. Both load only here, when a github-app rule mints.
import type { Rule } from '../model/rule.js';
import { tokenDeps } from '../http/deps.js';
import { sourceError } from './errors.js';

/** GitHub refuses an `exp` more than 10 minutes after its own clock; 9 leaves room for drift. */
const LIFETIME_SECONDS = 9 * 60;
const BACKDATE_SECONDS = 60;

const PEM = /-----BEGIN (?:RSA )?PRIVATE KEY-----/;

/**
 * The PEM text of a private key: as stored (an env var holds the file's lines), or one line of base64
 * of it, which is what `credmux login … --token-stdin` can store (it takes exactly one line).
 */
function pemOf(value: string): string | undefined {
  if (PEM.test(value)) return value;
  const compact = value.trim();
  if (!/^[A-Za-z0-9+/=\s]+$/.test(compact)) return undefined;
  const decoded = Buffer.from(compact, 'base64').toString('utf8');
  return PEM.test(decoded) ? decoded : undefined;
}

/** Never quotes the key: an error only says what is wrong with it and where it came from. */
export function appPrivateKey(rule: Rule, value: string, where: string, fix: string): import('node:crypto').KeyObject {
  const pem = pemOf(value);
  if (pem === undefined) {
    throw sourceError(rule, `${where} is not a PEM private key (nor base64 of one); fix: ${fix}`);
  }
  let key: import('node:crypto').KeyObject;
  try {
    key = process.getBuiltinModule('node:crypto').createPrivateKey(pem);
  } catch {
    throw sourceError(rule, `${where} could not be read as a private key (a damaged or encrypted PEM?); fix: ${fix}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw sourceError(rule, `${where} is not an RSA key; GitHub Apps sign with RS256; fix: ${fix}`);
  return key;
}

/** The app JWT for `now` (Unix seconds). */
export async function appJwt(appId: string | number, key: import('node:crypto').KeyObject, now: number): Promise<string> {
  const { SignJWT } = await tokenDeps();
  // GitHub reads `iss` as given: a client ID is a string, an app ID a number.
  return new SignJWT({ iss: appId as string })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuedAt(now - BACKDATE_SECONDS)
    .setExpirationTime(now + LIFETIME_SECONDS)
    .sign(key);
}
