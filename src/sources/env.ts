// Secret from an environment variable of the process that resolves (the daemon's, or the helper's
// in-process): CI systems export tokens this way.
import type { Rule } from '../model/rule.js';
import { CredmuxError, type Credential } from '../model/types.js';
import { DEFAULT_TOKEN_USERNAME, type CredentialSource, type SourceContext } from './types.js';

function fromEnv(rule: Rule, { env }: SourceContext): Credential | null {
  if (rule.source.type !== 'env') return null;
  const { var: name, usernameVar } = rule.source;
  const secret = env[name];
  if (secret === undefined || secret === '') {
    throw new CredmuxError('source', `rule "${rule.id}" (${rule.match}): environment variable ${name} is not set; export it where the helper runs`);
  }
  const kind = rule.kind ?? 'bearer';
  const username = (usernameVar && env[usernameVar]) || rule.username || (kind === 'bearer' ? DEFAULT_TOKEN_USERNAME : '');
  return { kind, username, secret };
}

export const envSource: CredentialSource = {
  async fetch(rule, ctx) {
    return fromEnv(rule, ctx);
  },
  fetchNow: fromEnv,
};
