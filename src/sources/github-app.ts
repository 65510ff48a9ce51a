// github-app: a GitHub App installation access token (one hour), minted with the app's JWT
// (github-app-jwt.ts) at POST /app/installations/{id}/access_tokens, optionally narrowed to some
// repositories and permissions; the installation is configured or found from a repository, org or user
// (GET /repos/{owner}/{repo}/installation, /orgs/{org}/installation, /users/{user}/installation).
// https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app
// Git takes the token as the password of `x-access-token`; GitHub Enterprise Server sets `apiUrl`.
import type { GitHubAppInstallation, GitHubAppSourceConfig, Rule } from '../model/rule.js';
import { displayEndpoint } from '../http/policy.js';
import { httpRequest, type HttpResponse } from '../http/request.js';
import type { CredmuxError } from '../model/types.js';
import { safeText, sourceError, transportError } from './errors.js';
import { appJwt, appPrivateKey } from './github-app-jwt.js';
import { isStoredRef, refWording } from './secret-ref.js';
import { parseJsonObject, readTokenAnswer } from './token-answer.js';
import type { MintContext, TokenSource } from './types.js';

export const GITHUB_API = 'https://api.github.com';
/** What git (and GitHub's docs) present an installation token as. */
export const GITHUB_APP_USERNAME = 'x-access-token';
const API_VERSION = '2022-11-28';

function config(rule: Rule): GitHubAppSourceConfig {
  if (rule.source.type !== 'github-app') throw new Error('not a github-app rule');
  return rule.source;
}

function apiRoot(src: GitHubAppSourceConfig): string {
  return (src.apiUrl ?? GITHUB_API).replace(/\/+$/, '');
}

/** Installation ids found by lookup, per API, app and target: they do not change while the app stays installed. */
const foundIds = new Map<string, number>();

function describeTarget(i: Exclude<GitHubAppInstallation, { id: number }>): string {
  return 'repository' in i ? i.repository : 'org' in i ? `the organization ${i.org}` : `the user ${i.user}`;
}

function lookupPath(i: Exclude<GitHubAppInstallation, { id: number }>): string {
  if ('repository' in i) {
    const [owner, repo] = i.repository.split('/') as [string, string];
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/installation`;
  }
  return 'org' in i ? `/orgs/${encodeURIComponent(i.org)}/installation` : `/users/${encodeURIComponent(i.user)}/installation`;
}

/** GitHub's error text ({"message": …}), made safe to quote. */
function githubMessage(res: HttpResponse, jwt: string): string {
  const m = parseJsonObject(res.text)?.message;
  return typeof m === 'string' && m !== '' ? `: ${safeText(m, [jwt])}` : '';
}

/** The errors GitHub answers a rule's own mistakes with; anything else goes to readTokenAnswer. */
function refusal(
  rule: Rule,
  src: GitHubAppSourceConfig,
  res: HttpResponse,
  jwt: string,
  what: 'lookup' | 'token',
  target: string,
): CredmuxError | undefined {
  const at = displayEndpoint(res.url);
  const detail = `HTTP ${res.status}${githubMessage(res, jwt)}`;
  switch (res.status) {
    case 401:
      return sourceError(
        rule,
        `${at} refused the app JWT (${detail}); check that appId ${JSON.stringify(src.appId)} is the app's client ID or app ID, that privateKey is one of its current keys, and this machine's clock`,
      );
    case 404:
      return what === 'lookup'
        ? sourceError(rule, `the app is not installed on ${target} (${detail} at ${at}); install it there, or fix "installation" in the rule`)
        : sourceError(rule, `${at} knows no installation ${target} of this app (${detail}); fix "installation" in the rule, or reinstall the app`);
    case 403:
    case 422:
      return what === 'token'
        ? sourceError(
            rule,
            `${at} refused to mint the token (${detail}); "repositories" and "permissions" may only narrow what the installation was granted, and a suspended installation mints nothing`,
          )
        : undefined;
    default:
      return undefined;
  }
}

async function get(rule: Rule, src: GitHubAppSourceConfig, ctx: MintContext, url: string, jwt: string, what: string): Promise<HttpResponse> {
  try {
    return await httpRequest({
      url,
      method: 'GET',
      headers: { authorization: `Bearer ${jwt}`, accept: 'application/vnd.github+json', 'x-github-api-version': API_VERSION },
      allowInsecureHttp: src.allowInsecureHttp,
      env: ctx.env,
    });
  } catch (e) {
    throw transportError(rule, e, what);
  }
}

async function installationId(rule: Rule, src: GitHubAppSourceConfig, ctx: MintContext, jwt: string): Promise<{ id: number; memo?: string }> {
  const i = src.installation;
  if ('id' in i) return { id: i.id };
  const url = `${apiRoot(src)}${lookupPath(i)}`;
  const memo = JSON.stringify([url, src.appId]);
  const known = foundIds.get(memo);
  if (known !== undefined) return { id: known, memo };
  const res = await get(rule, src, ctx, url, jwt, 'GitHub App installation lookup');
  const refused = refusal(rule, src, res, jwt, 'lookup', describeTarget(i));
  if (refused) throw refused;
  const body = parseJsonObject(res.text);
  const id = body?.id;
  if (res.status !== 200 || typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    const retry = res.status === 429 || res.status >= 500 ? '; credmux keeps retrying with backoff' : '';
    throw sourceError(rule, `${displayEndpoint(url)} answered HTTP ${res.status} without an installation "id"${retry}`);
  }
  foundIds.set(memo, id);
  return { id, memo };
}

export const githubAppSource: TokenSource = {
  refreshing: true,
  inputs(rule) {
    const { privateKey } = config(rule);
    return isStoredRef(privateKey) ? [privateKey] : [];
  },
  audience() {
    return undefined;
  },
  async mint(rule, ctx) {
    const src = config(rule);
    const ref = refWording(src.privateKey, 'private key');
    const pem = await ctx.secrets.read(src.privateKey);
    if (pem === undefined) throw sourceError(rule, `no GitHub App private key: ${ref.name} is missing; fix: ${ref.fix}`);
    const key = appPrivateKey(rule, pem, ref.name, ref.fix);
    const jwt = await appJwt(src.appId, key, ctx.now());
    const { id, memo } = await installationId(rule, src, ctx, jwt);
    const url = `${apiRoot(src)}/app/installations/${id}/access_tokens`;
    const narrow: Record<string, unknown> = {};
    if (src.repositories) narrow.repositories = src.repositories;
    if (src.permissions) narrow.permissions = src.permissions;
    let res: HttpResponse;
    try {
      res = await httpRequest({
        url,
        method: 'POST',
        headers: {
          authorization: `Bearer ${jwt}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': API_VERSION,
          'content-type': 'application/json',
        },
        body: JSON.stringify(narrow),
        allowInsecureHttp: src.allowInsecureHttp,
        env: ctx.env,
      });
    } catch (e) {
      throw transportError(rule, e, 'GitHub App token request');
    }
    // A found id that is gone (the app was reinstalled) is looked up again next time.
    if (res.status === 404 && memo !== undefined) foundIds.delete(memo);
    const refused = refusal(rule, src, res, jwt, 'token', String(id));
    if (refused) throw refused;
    const answer = await readTokenAnswer(rule, res, {
      endpoint: displayEndpoint(url),
      fields: ['token'],
      ttlSeconds: src.ttlSeconds,
      now: ctx.now(),
      secrets: [jwt],
      refused: (detail) => `refused the app JWT (${detail})`,
    });
    // The token is opaque (and its format changes: never parse it); its life is `expires_at`.
    const expiresAt = Date.parse(String(answer.body.expires_at ?? ''));
    const bounds = [answer.expiresAt, Number.isFinite(expiresAt) ? Math.floor(expiresAt / 1000) : undefined].filter((b) => b !== undefined);
    const credential = { kind: rule.kind ?? 'basic', username: rule.username ?? GITHUB_APP_USERNAME, secret: answer.token } as const;
    if (bounds.length === 0) return { ...credential };
    const at = Math.min(...bounds);
    if (at <= ctx.now())
      throw sourceError(
        rule,
        `${displayEndpoint(url)} answered with a token that expired at ${new Date(at * 1000).toISOString()} already (is this machine's clock right?)`,
      );
    return { ...credential, expiresAt: at };
  },
};
