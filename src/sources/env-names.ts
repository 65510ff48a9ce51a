// Which environment variables a rule reads. The daemon runs with the environment of whichever helper
// started it; a rule that reads $PYX_API_KEY or GitHub's OIDC variables must be answered with the
// CALLER's values, so the client sends those (and only those) with each request.
import type { Rule } from '../core/config.js';

/** GitHub Actions hands a job its OIDC identity through these two. */
const GITHUB_OIDC = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'];

export function envNamesOf(rule: Rule): string[] {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      // `{"env": NAME}` secret references, an env source's `var`/`usernameVar`, an identity's `var`.
      if ((k === 'env' || k === 'var' || k === 'usernameVar') && typeof x === 'string') names.add(x);
      else if (k === 'provider' && x === 'github') GITHUB_OIDC.forEach((n) => names.add(n));
      else walk(x);
    }
  };
  walk(rule.source);
  if (rule.source.type === 'netrc' && rule.source.file === undefined) names.add('NETRC');
  return [...names].sort();
}

export function envNamesOfRules(rules: readonly Rule[]): string[] {
  return [...new Set(rules.flatMap(envNamesOf))].sort();
}

/** The caller's values for `names`, null where unset: what a client sends the daemon. */
export type CallerEnv = Record<string, string | null>;
