// `credmux login URL --oauth`: runs the device flow (src/sources/oauth2-device.ts) with the endpoints and client
// of the oauth2 rule that matches URL (flags override or stand in), and stores the refresh token
// where that rule reads it. A running daemon notices the new token (its write time changed) and
// drops the access token it minted from the old one.
import { compileRules, loadConfig } from '../engine/config.js';
import type { OAuth2SourceConfig, Rule, StoredRef } from '../model/rule.js';
import { selectMostSpecific } from '../model/match.js';
import type { Env } from '../platform/paths.js';
import { CredmuxError } from '../model/types.js';
import { formatPattern, parsePattern, parseRequest, patternFromRequest } from '../model/url.js';
import { endpointProblem } from '../http/policy.js';
import type { SecretStore } from '../store/types.js';
import { runDeviceFlow, type DeviceFlowOptions } from '../sources/oauth2-device.js';
import { refreshTokenRef } from '../sources/oauth2.js';
import { refWording, secretAccess } from '../sources/secret-ref.js';
import { REFRESH_TOKEN_USERNAME } from '../sources/types.js';

export interface OAuthLoginArgs {
  url: string;
  deviceEndpoint?: string;
  tokenEndpoint?: string;
  clientId?: string;
  scope?: string;
  allowInsecureHttp?: boolean;
}

export interface OAuthLoginResult {
  /** Where the refresh token went. */
  ref: Required<StoredRef>;
  /** The rule that will use it, if one matches. */
  ruleId?: string;
  configPath: string;
}

type OAuthRule = Rule & { source: OAuth2SourceConfig };

/** The most specific oauth2 rule for URL (a wildcard URL: the rule with exactly that pattern). */
function isWildcard(url: string): boolean {
  return /^(?:[a-z]+:\/\/)?\*\./i.test(url);
}

/** The pattern `credmux login URL` records for URL. */
function patternText(url: string): string {
  return formatPattern(isWildcard(url) ? parsePattern(url) : patternFromRequest(parseRequest(url)));
}

function matchingRule(rules: Rule[], url: string): OAuthRule | undefined {
  const oauth = rules.filter((r): r is OAuthRule => r.source.type === 'oauth2');
  if (isWildcard(url)) {
    const p = formatPattern(parsePattern(url));
    return oauth.find((r) => formatPattern(r.pattern) === p);
  }
  return selectMostSpecific(oauth, (r) => r.pattern, parseRequest(url));
}

export async function oauthLogin(
  env: Env,
  store: SecretStore,
  args: OAuthLoginArgs,
  say: (line: string) => void,
  flow: Pick<DeviceFlowOptions, 'sleep'> = {},
): Promise<OAuthLoginResult> {
  const loaded = loadConfig(env);
  const rule = matchingRule(compileRules(loaded.config, loaded.path), args.url);
  const src: Partial<OAuth2SourceConfig> = rule?.source ?? {};
  const deviceEndpoint = args.deviceEndpoint ?? src.deviceEndpoint;
  const tokenEndpoint = args.tokenEndpoint ?? src.tokenEndpoint;
  const clientId = args.clientId ?? src.clientId;
  const missing = [!deviceEndpoint && '--device-endpoint', !tokenEndpoint && '--token-endpoint', !clientId && '--client-id'].filter(Boolean);
  if (missing.length) {
    const where = rule ? `rule "${rule.id}" in ${loaded.path} does not say` : `no oauth2 rule in ${loaded.path} matches ${args.url}`;
    throw new CredmuxError('bad-request', `${where}; pass ${missing.join(', ')} (or add them to the rule)`);
  }
  const insecure = args.allowInsecureHttp ?? src.allowInsecureHttp;
  for (const [flag, url] of [
    ['--device-endpoint', deviceEndpoint],
    ['--token-endpoint', tokenEndpoint],
  ] as const) {
    const p = endpointProblem(url as string, insecure);
    if (p) throw new CredmuxError('bad-request', `${flag} ${String(url).replace(/\?.*$/, '')} ${p}`);
  }
  const secrets = secretAccess(store, env);
  let clientSecret: string | undefined;
  if (src.clientSecret) {
    clientSecret = await secrets.read(src.clientSecret);
    const ref = refWording(src.clientSecret, 'client secret');
    if (clientSecret === undefined) throw new CredmuxError('source', `${ref.name} is missing; fix: ${ref.fix}`);
  }
  const result = await runDeviceFlow({
    deviceEndpoint: deviceEndpoint as string,
    tokenEndpoint: tokenEndpoint as string,
    client: { clientId: clientId as string, clientSecret, clientAuth: src.clientAuth },
    scope: args.scope ?? src.scope,
    audience: src.audience,
    allowInsecureHttp: insecure,
    env,
    say,
    ...flow,
  });
  if (!result.refreshToken) {
    throw new CredmuxError(
      'source',
      'device login: approved, but the server issued no refresh token, so credmux could not renew access; ask for offline access (e.g. --scope "offline_access …") or use another source',
    );
  }
  const ref = rule ? refreshTokenRef(rule) : { stored: patternText(args.url), username: REFRESH_TOKEN_USERNAME };
  await secrets.write(ref, result.refreshToken);
  return {
    ref: { stored: ref.stored, username: ref.username ?? REFRESH_TOKEN_USERNAME },
    ...(rule ? { ruleId: rule.id } : {}),
    configPath: loaded.path,
  };
}
