// Every credential source sits behind this one interface; the engine picks the source by rule.source.type.
import type { Rule } from '../core/config.js';
import type { Env } from '../core/paths.js';
import type { Credential } from '../core/types.js';

export interface SourceContext {
  env: Env;
  /** Unix seconds; injectable so tests can move the clock. */
  now: () => number;
  /** The host the caller asked for (a wildcard rule covers many; netrc keys by the real one). */
  host: string;
}

export interface CredentialSource {
  /** The credential for this rule, or null when the source has none for it (not an error). */
  fetch(rule: Rule, ctx: SourceContext): Promise<Credential | null>;
}

/** A token presented with no username still needs one for Basic-only protocols (Docker, keyring, git). */
export const DEFAULT_TOKEN_USERNAME = '__token__';
