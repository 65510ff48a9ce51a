// What a vault rule leaves to the caller's environment, as the vault CLI reads it: the server
// (VAULT_ADDR), the namespace (VAULT_NAMESPACE) and, for token auth without a reference, the token
// (VAULT_TOKEN). The helper sends the daemon its values of these (src/sources/env-names.ts).
import type { VaultAuth, VaultSourceConfig } from '../model/rule.js';

/** The auth method in force: the configured one, else the Agent's token when an agent socket is set, else a token. */
export function vaultAuthOf(src: VaultSourceConfig): VaultAuth {
  return src.auth ?? (src.agent ? { method: 'agent' } : { method: 'token' });
}

export function vaultEnvNames(src: VaultSourceConfig): string[] {
  const names: string[] = [];
  if (src.address === undefined && src.agent === undefined) names.push('VAULT_ADDR');
  if (src.namespace === undefined) names.push('VAULT_NAMESPACE');
  const auth = vaultAuthOf(src);
  if (auth.method === 'token' && auth.token === undefined) names.push('VAULT_TOKEN');
  return names;
}
