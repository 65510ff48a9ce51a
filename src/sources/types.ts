// Every credential source sits behind one of two interfaces; the engine picks the source by rule.source.type.
//
// - CredentialSource: answers from what is at hand (an env var, netrc), every time, nothing cached.
// - TokenSource: mints a short-lived token over the network or from a command. The engine routes it
//   through the token cache (refresh-ahead, single flight, backoff) keyed by rule identity, so
//   `mint` runs once per token lifetime however many callers ask.
import type { Rule, SecretRef, StoredRef } from '../model/rule.js';
import type { Env } from '../platform/paths.js';
import type { Credential } from '../model/types.js';
import type { RequestTarget } from '../model/url.js';

export interface SourceContext {
  env: Env;
  /** Unix seconds; injectable so tests can move the clock. */
  now: () => number;
  /** The host the caller asked for (a wildcard rule covers many; netrc keys by the real one). */
  host: string;
}

export interface CredentialSource {
  readonly refreshing?: false;
  /** The credential for this rule, or null when the source has none for it (not an error). */
  fetch(rule: Rule, ctx: SourceContext): Promise<Credential | null>;
  /** fetch(), for a source that needs no I/O: lets the daemon answer without a promise per request. */
  fetchNow?(rule: Rule, ctx: SourceContext): Credential | null;
}

/** How a token source reads and writes the secrets it consumes; never anything else of the store. */
export interface SecretAccess {
  /** The secret, or undefined when nothing is stored / the variable is unset or empty. */
  read(ref: SecretRef): Promise<string | undefined>;
  /** Replaces a stored secret (a rotated refresh token): one atomic, locked put. */
  write(ref: StoredRef, secret: string): Promise<void>;
}

export interface MintContext {
  env: Env;
  now: () => number;
  secrets: SecretAccess;
  /** On a refresh ahead of expiry, the credential still being served: a source may extend it (renew its lease) instead of minting another. */
  current?: Credential;
  /** What TokenSource.scope said of the requested host (an AWS region): the token is for that. */
  scope?: string;
}

/** The request a TokenSource.present answers: the URL as the caller gave it, and as parsed. */
export interface PresentContext {
  url: string;
  target: RequestTarget;
  now: () => number;
  env: Env;
}

export interface TokenSource {
  readonly refreshing: true;
  /** Stored secrets the rule consumes: never served as credentials themselves, and a change to one drops the cached token. */
  inputs(rule: Rule): StoredRef[];
  /** What besides the rule's identity tells its tokens apart (an OIDC or OAuth audience); part of the cache key. */
  audience(rule: Rule): string | undefined;
  /** A fresh token with `expiresAt` when known. Throws CredmuxError('source') naming the rule, the endpoint and the fix. */
  mint(rule: Rule, ctx: MintContext): Promise<Credential>;
  /**
   * For tokens that differ by the host asked for (an ECR registry's region): what of the host tells
   * them apart. Part of the cache key, and handed to mint as ctx.scope.
   */
  scope?(rule: Rule, host: string): string | undefined;
  /**
   * For a cached value that is not served as it is but made into each request's credential (S3: the
   * cached AWS credentials sign the one URL asked for). Null: nothing to serve for this URL.
   */
  present?(rule: Rule, cached: Credential, req: PresentContext): Promise<Credential | null>;
}

export type AnySource = CredentialSource | TokenSource;

/** A token presented with no username still needs one for Basic-only protocols (Docker, keyring, git). */
export { DEFAULT_TOKEN_USERNAME } from '../model/types.js';

/** Where `credmux login URL --oauth` keeps a refresh token: never served as a credential. */
export const REFRESH_TOKEN_USERNAME = '__refresh_token__';
