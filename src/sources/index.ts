// Maps a rule's source type to its implementation. The token sources load jose and undici only when
// they first mint (dynamic imports inside them), so importing this module costs neither.
import type { Rule } from '../model/rule.js';
import { awsSource } from './aws.js';
import { azureSource } from './azure.js';
import { commandSource } from './command.js';
import { envSource } from './env.js';
import { exchangeSource } from './exchange.js';
import { githubAppSource } from './github-app.js';
import { googleSource } from './google.js';
import { netrcSource } from './netrc.js';
import { oauth2Source } from './oauth2.js';
import { oidcSource } from './oidc.js';
import type { AnySource } from './types.js';
import { vaultSource } from './vault.js';

const sources: Record<Rule['source']['type'], AnySource> = {
  env: envSource,
  netrc: netrcSource,
  exchange: exchangeSource,
  oauth2: oauth2Source,
  oidc: oidcSource,
  command: commandSource,
  aws: awsSource,
  azure: azureSource,
  'github-app': githubAppSource,
  google: googleSource,
  vault: vaultSource,
};

export function sourceFor(rule: Rule): AnySource {
  return sources[rule.source.type];
}
