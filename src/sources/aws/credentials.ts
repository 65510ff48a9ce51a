// AWS credentials as the chain finds them, and how they travel inside a cached Credential (S3 keeps
// them in the token cache and signs each request from them).
import type { Credential } from '../../model/types.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Unix seconds; absent for long-term keys. */
  expiresAt?: number;
  /** Where they came from, for messages: `environment variables`, `profile "dev" in ~/.aws/credentials`… */
  from: string;
}

/** The secrets in them, for redaction from anything a server or a program says back. */
export function secretsOf(c: AwsCredentials | undefined): string[] {
  return c ? [c.secretAccessKey, c.sessionToken ?? ''].filter((s) => s !== '') : [];
}

/**
 * The credentials as the token cache holds them: the daemon keeps them in memory only, like any token,
 * and a helper never receives this form (TokenSource.present turns it into headers first).
 */
export function packCredentials(c: AwsCredentials): Credential {
  const secret = JSON.stringify({ s: c.secretAccessKey, t: c.sessionToken, f: c.from });
  return c.expiresAt === undefined
    ? { kind: 'bearer', username: c.accessKeyId, secret }
    : { kind: 'bearer', username: c.accessKeyId, secret, expiresAt: c.expiresAt };
}

export function unpackCredentials(cred: Credential): AwsCredentials {
  const { s, t, f } = JSON.parse(cred.secret) as { s: string; t?: string; f: string };
  const c: AwsCredentials = { accessKeyId: cred.username, secretAccessKey: s, from: f };
  if (t !== undefined) c.sessionToken = t;
  if (cred.expiresAt !== undefined) c.expiresAt = cred.expiresAt;
  return c;
}

/** ISO 8601 (`2026-09-01T12:00:00Z`) to Unix seconds; undefined when absent or unparsable. */
export function isoSeconds(text: unknown): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}
