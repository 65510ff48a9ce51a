// login, logout, get, list: the human side of the store. They run the engine in this process (so they
// can say which store they used); a running daemon notices the change through the store's version.
import { compileRules, loadConfig } from '../engine/config.js';
import { openEngine, type OpenedEngine } from '../engine/open.js';
import type { Env } from '../platform/paths.js';
import { CredmuxError, DOCKER_HUB_URL, isDockerHub, type Credential, type EngineResult } from '../model/types.js';
import { formatPattern, parsePattern, parseRequest, patternFromRequest, redactUrl } from '../model/url.js';
import { promptHidden, secretFromStdin } from './prompt.js';
import { EXIT } from './exit-codes.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

function unwrap<T extends EngineResult['op']>(r: EngineResult, op: T): Extract<EngineResult, { op: T }> {
  if (r.op === 'error') throw new CredmuxError(r.error.code, r.error.message);
  if (r.op !== op) throw new CredmuxError('internal', `expected ${op}, got ${r.op}`);
  return r as Extract<EngineResult, { op: T }>;
}

function isWildcard(url: string): boolean {
  return /^(?:[a-z]+:\/\/)?\*\./i.test(url);
}

/**
 * The URL a login, logout or get names, with Docker Hub under its one name (src/model/types.ts): the
 * docker CLI and skopeo never ask for `https://docker.io`, so a login stored there would serve nobody.
 */
export function canonicalUrl(url: string): string {
  return !isWildcard(url) && isDockerHub(url) ? DOCKER_HUB_URL : url;
}

/** Where the engine's `store` keeps a login for `url`: a wildcard as given, else exactly this origin and path. */
export function storedUrl(url: string): string {
  return isWildcard(url) ? formatPattern(parsePattern(url)) : formatPattern(patternFromRequest(parseRequest(url)));
}

/** What earlier credmux versions stored for Docker Hub logins, which no Docker request finds: logout removes them too. */
const DOCKER_HUB_LEGACY = ['https://docker.io', 'https://registry-1.docker.io', `${DOCKER_HUB_URL}/v1/`];

const DOCKER_HUB_NOTE = `Docker Hub: kept under ${DOCKER_HUB_URL}, which serves docker (https://index.docker.io/v1/), skopeo, podman and buildah (docker.io) and pulls (registry-1.docker.io)`;

export async function login(
  env: Env,
  io: Io,
  args: { url: string; username?: string; passwordStdin?: boolean; tokenStdin?: boolean },
): Promise<number> {
  if (args.passwordStdin && args.tokenStdin) throw new CredmuxError('bad-request', 'use either --password-stdin or --token-stdin, not both');
  const bearer = !!args.tokenStdin;
  let username = args.username;
  let secret: string;
  if (args.passwordStdin || args.tokenStdin) {
    secret = await secretFromStdin();
  } else {
    if (!bearer && username === undefined) username = await promptVisible('Username: ');
    secret = await promptHidden(bearer ? 'Token: ' : 'Password: ');
  }
  if (!bearer && (username === undefined || username === '')) {
    throw new CredmuxError('bad-request', 'a password needs a username: add --username NAME (or use --token-stdin for a token)');
  }
  const credential: Credential = bearer
    ? { kind: 'bearer', username: username ?? '__token__', secret }
    : { kind: 'basic', username: username as string, secret };
  const url = canonicalUrl(args.url);
  const engine = await openEngine(env);
  unwrap(await engine.handle({ op: 'store', url, credential }), 'store');
  io.err(`Stored ${bearer ? 'a token' : `the password of ${credential.username}`} for ${redactUrl(url)} in the ${engine.storeReason}\n`);
  if (url === DOCKER_HUB_URL) io.err(`${DOCKER_HUB_NOTE}\n`);
  return EXIT.ok;
}

/** `credmux login URL --oauth`: the device flow, then the refresh token into the store (src/cli/oauth2-login.ts). */
export async function loginOAuth(env: Env, io: Io, args: import('./oauth2-login.js').OAuthLoginArgs): Promise<number> {
  const { oauthLogin } = await import('./oauth2-login.js');
  const engine = await openEngine(env);
  const r = await oauthLogin(env, engine.store, args, (line) => io.err(`${line}\n`));
  io.err(`Logged in: stored a refresh token for ${r.ref.stored} (user ${r.ref.username}) in the ${engine.storeReason}\n`);
  if (!r.ruleId) {
    io.err(
      `No oauth2 rule in ${r.configPath} matches ${redactUrl(args.url)} yet; add one with "type": "oauth2" (tokenEndpoint, clientId) so helpers use it\n`,
    );
  }
  return EXIT.ok;
}

async function promptVisible(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new CredmuxError('bad-request', 'no terminal to prompt on: pass --username NAME');
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

export async function logout(env: Env, io: Io, args: { url: string; username?: string }): Promise<number> {
  const url = canonicalUrl(args.url);
  const engine = await openEngine(env);
  let removed = 0;
  for (const u of url === DOCKER_HUB_URL ? [url, ...DOCKER_HUB_LEGACY] : [url]) {
    removed += unwrap(await engine.handle({ op: 'erase', url: u, username: args.username }), 'erase').removed;
  }
  if (removed === 0) {
    io.err(`No stored credential for ${redactUrl(args.url)}${args.username ? ` (user ${args.username})` : ''}\n`);
    return EXIT.notFound;
  }
  io.err(`Removed ${removed} stored credential${removed === 1 ? '' : 's'} for ${redactUrl(args.url)}\n`);
  return EXIT.ok;
}

export async function get(env: Env, io: Io, args: { url: string; json?: boolean; showSecret?: boolean }): Promise<number> {
  const engine = await openEngine(env);
  const r = unwrap(await engine.handle({ op: 'get', url: canonicalUrl(args.url) }), 'get');
  const c = r.credential;
  if (args.json) {
    const credential = c && {
      kind: c.kind,
      username: c.username,
      ...(args.showSecret ? { secret: c.secret } : {}),
      ...(c.expiresAt !== undefined ? { expiresAt: new Date(c.expiresAt * 1000).toISOString() } : {}),
    };
    io.out(JSON.stringify({ url: redactUrl(args.url), found: !!c, rule: r.rule ?? null, credential }, null, 2) + '\n');
  } else if (c && r.rule) {
    io.out(
      [
        `${redactUrl(args.url)}`,
        `  rule:     ${r.rule.id} (${r.rule.source}, match ${r.rule.match})`,
        `  kind:     ${c.kind}`,
        `  username: ${c.username}`,
        `  secret:   ${args.showSecret ? c.secret : '******** (add --show-secret to print it)'}`,
        `  expires:  ${c.expiresAt !== undefined ? new Date(c.expiresAt * 1000).toISOString() : 'not known'}`,
      ].join('\n') + '\n',
    );
  } else {
    io.err(`No credential would be served for ${redactUrl(args.url)}\n`);
  }
  return c ? EXIT.ok : EXIT.notFound;
}

export async function list(env: Env, io: Io, args: { json?: boolean }): Promise<number> {
  const loaded = loadConfig(env);
  const rules = compileRules(loaded.config, loaded.path).map((r) => ({
    id: r.id,
    match: r.match,
    source: r.source.type,
    ...(r.username !== undefined ? { username: r.username } : {}),
  }));
  const engine: OpenedEngine = await openEngine(env);
  const { entries } = unwrap(await engine.handle({ op: 'list' }), 'list');
  if (args.json) {
    io.out(
      JSON.stringify({ store: { kind: engine.store.kind, location: engine.store.location }, config: loaded.path, rules, entries }, null, 2) + '\n',
    );
    return EXIT.ok;
  }
  const lines = [`Store: ${engine.storeReason}`, `Config: ${loaded.path}${loaded.stamp === 'absent' ? ' (none)' : ''}`, ''];
  lines.push(rules.length ? 'Rules:' : 'Rules: none');
  for (const r of rules) lines.push(`  ${r.id}  ${r.match}  (${r.source}${r.username ? `, user ${r.username}` : ''})`);
  lines.push(entries.length ? 'Stored credentials:' : 'Stored credentials: none');
  for (const e of entries) {
    const exp = e.expiresAt !== undefined ? `, expires ${new Date(e.expiresAt * 1000).toISOString()}` : '';
    lines.push(`  ${e.url}  ${e.username === '' ? '(no username)' : e.username}  (${e.kind}${exp})`);
  }
  io.out(lines.join('\n') + '\n');
  return EXIT.ok;
}
