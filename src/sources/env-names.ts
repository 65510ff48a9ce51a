// Which environment variables a rule reads. The daemon runs with the environment of whichever helper
// started it; a rule that reads $PYX_API_KEY or GitHub's OIDC variables must be answered with the
// CALLER's values, so the client sends those (and only those) with each request.
import type { Rule } from '../model/rule.js';
import { AWS_CHAIN_ENV_NAMES, AWS_ENDPOINT_ENV_NAMES } from './aws/env-names.js';
import { AZURE_ENV_NAMES } from './azure-entra.js';
import { vaultEnvNames } from './vault-env.js';

/** GitHub Actions hands a job its OIDC identity through these two. */
const GITHUB_OIDC = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
/** Where Google's application default credentials and metadata server are found (src/sources/google-adc.ts). */
const GOOGLE_ADC = ['CLOUDSDK_CONFIG', 'GCE_METADATA_HOST', 'GCE_METADATA_IP', 'GOOGLE_APPLICATION_CREDENTIALS'];

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
  // The AWS credential chain and endpoint overrides: the caller's, as the AWS CLI in its shell would read them.
  if (rule.source.type === 'aws') [...AWS_CHAIN_ENV_NAMES, ...AWS_ENDPOINT_ENV_NAMES].forEach((n) => names.add(n));
  // Where an azure rule leaves tenant, client, token file or authority unset, the caller's variables say.
  if (rule.source.type === 'azure') AZURE_ENV_NAMES.forEach((n) => names.add(n));
  if (rule.source.type === 'google' && !rule.source.workloadIdentity && (rule.source.credentials ?? 'metadata') === 'metadata') {
    GOOGLE_ADC.forEach((n) => names.add(n));
  }
  // A vault rule's unset address, namespace or token come from the caller's VAULT_* variables.
  if (rule.source.type === 'vault') vaultEnvNames(rule.source).forEach((n) => names.add(n));
  return [...names].sort();
}

/** A rule's variables and, for lookups, the same joined by commas (variable names hold none). */
export interface RuleEnvNames {
  readonly names: readonly string[];
  readonly key: string;
}

const perRule = new WeakMap<Rule, RuleEnvNames>();
/** One record per distinct list: 10,000 rules reading the same variable share it. */
const shared = new Map<string, RuleEnvNames>();

/** envNamesOf, worked out once per rule (a compiled rule never changes) and shared between rules. */
export function ruleEnvNames(rule: Rule): RuleEnvNames {
  let known = perRule.get(rule);
  if (!known) {
    const names = envNamesOf(rule);
    const key = names.join(',');
    known = shared.get(key);
    if (!known) shared.set(key, (known = Object.freeze({ names: Object.freeze(names), key })));
    perRule.set(rule, known);
  }
  return known;
}

export function envNamesOfRules(rules: readonly Rule[]): string[] {
  return [...new Set(rules.flatMap(envNamesOf))].sort();
}

/** The caller's values for `names`, null where unset: what a client sends the daemon. */
export type CallerEnv = Record<string, string | null>;
