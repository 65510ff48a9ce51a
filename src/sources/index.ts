// Maps a rule's source type to its implementation.
import type { Rule } from '../core/config.js';
import { envSource } from './env.js';
import { netrcSource } from './netrc.js';
import type { CredentialSource } from './types.js';

const sources: Record<Rule['source']['type'], CredentialSource> = {
  env: envSource,
  netrc: netrcSource,
};

export function sourceFor(rule: Rule): CredentialSource {
  return sources[rule.source.type];
}
