// login, logout, get, list: the human side of the store. They run the engine in this process (so they
// can say which store they used); a running daemon notices the change through the store's version.
import { compileRules, loadConfig } from '../engine/config.js';
import { openEngine, type OpenedEngine } from '../engine/open.js';
import type { Env } from '../platform/paths.js';
import { CredmuxError, DOCKER_HUB_URL, isDockerHub, type Credential, type EngineResult } from '../model/types.js';
import { formatPattern, parsePattern, parseRequest, patternFromRequest, redactUrl } from '../model/url.js';
import { promptHidden, secretFromStdin } from './prompt.js';
import { shq } from './setup/common.js';
import type { LoginWiring } from './setup/index.js';
import { parseFor, TOOLS_OF } from './setup/targets.js';
import { EXIT } from './exit-codes.js';
import { keepDaemonOnStore } from './daemon-store-sync.js';

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

export interface LoginArgs {
  url?: string;
  username?: string;
  passwordStdin?: boolean;
  tokenStdin?: boolean;
  /** `--for docker,git`: the tools it is for (default: every tool). */
  for?: readonly string[];
  json?: boolean;
}

/** `credmux login …` as it should have been typed, for the message that says what was missing. */
function loginCommand(args: LoginArgs, bearer: boolean): string {
  const url = args.url !== undefined ? shq(args.url) : 'URL';
  const user = args.username !== undefined ? ` --username ${shq(args.username)}` : bearer ? '' : ' --username NAME';
  return `echo "$${bearer ? 'TOKEN' : 'PASSWORD'}" | credmux login ${url}${user} ${bearer ? '--token-stdin' : '--password-stdin'}`;
}

export async function login(env: Env, io: Io, args: LoginArgs): Promise<number> {
  if (args.passwordStdin && args.tokenStdin) throw new CredmuxError('bad-request', 'use either --password-stdin or --token-stdin, not both');
  const bearer = !!args.tokenStdin;
  const fromStdin = args.passwordStdin || args.tokenStdin;
  // Every mistake answered with the whole command that works, so one correction is enough.
  if (args.url === undefined) throw new CredmuxError('bad-request', `name the URL to log in to: ${loginCommand(args, bearer)}`);
  if (!bearer && fromStdin && !args.username) {
    throw new CredmuxError('bad-request', `a password needs a username: ${loginCommand(args, bearer)} (or --token-stdin for a token)`);
  }
  if (!fromStdin && !process.stdin.isTTY) {
    throw new CredmuxError(
      'bad-request',
      `stdin is not a terminal, and credmux reads a secret from it only when told: ${loginCommand(args, bearer)} (--token-stdin for a token)`,
    );
  }
  const wanted = parseFor(args.for);
  let username = args.username;
  let secret: string;
  if (fromStdin) {
    secret = await secretFromStdin();
  } else {
    if (!bearer && username === undefined) username = await promptVisible('Username: ');
    secret = await promptHidden(bearer ? 'Token: ' : 'Password: ');
  }
  if (!bearer && (username === undefined || username === '')) {
    throw new CredmuxError('bad-request', `a password needs a username: ${loginCommand(args, bearer)} (or --token-stdin for a token)`);
  }
  const credential: Credential = bearer
    ? { kind: 'bearer', username: username ?? '__token__', secret }
    : { kind: 'basic', username: username as string, secret };
  const url = canonicalUrl(args.url);
  const engine = await openEngine(env);
  const before = await previous(engine, url, credential.username);
  const { stored } = unwrap(await engine.handle({ op: 'store', url, credential, protocols: wanted?.protocols ?? 'all' }), 'store');
  await keepDaemonOnStore(env, engine.store, io);
  const outcome: LoginOutcome = !stored ? 'unchanged' : !before ? 'stored' : before.secret !== secret ? 'replaced' : 'updated';
  const what = bearer ? 'a token' : `the password of ${credential.username}`;
  const shown = redactUrl(url);
  const forTools = wanted ? wanted.protocols.map((p) => TOOLS_OF[p]).join(', ') : 'every tool';
  const warnings: string[] = [];
  if (secret === '') {
    warnings.push(
      `the ${bearer ? 'token' : 'password'} is empty (was the variable you piped in unset?). To store the right one: ${loginCommand({ ...args, username: credential.username }, bearer)}`,
    );
  }
  const wiring = await (await import('./setup/index.js')).wiringAfterLogin(env, wanted?.setups);
  if (args.json) {
    io.out(
      `${JSON.stringify(
        {
          url,
          username: credential.username,
          kind: credential.kind,
          result: outcome,
          for: wanted ? wanted.protocols : 'all',
          store: { kind: engine.store.kind, location: engine.store.location },
          setup: { run: wiring.run, upToDate: wiring.upToDate },
          warnings,
        },
        null,
        2,
      )}\n`,
    );
    return EXIT.ok;
  }
  const where = `in the ${engine.storeReason}`;
  const said: Record<LoginOutcome, string> = {
    stored: `Stored ${what} for ${shown} (for ${forTools}) ${where}`,
    replaced: `Replaced ${what} for ${shown} (for ${forTools}) ${where}`,
    updated: `Kept ${what} for ${shown} ${where}; it is now for ${forTools}`,
    unchanged: `Already stored: ${what} for ${shown}, the same as before (nothing changed)`,
  };
  const lines = [said[outcome]];
  if (url === DOCKER_HUB_URL) lines.push(DOCKER_HUB_NOTE);
  for (const w of warnings) lines.push(`Warning: ${w}`);
  lines.push(...wiringLines(wiring));
  io.err(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

type LoginOutcome = 'stored' | 'replaced' | 'updated' | 'unchanged';

/** The entry a login for `url` would replace (same pattern and username), if any. */
async function previous(engine: OpenedEngine, url: string, username: string) {
  let key: string;
  try {
    key = storedUrl(url);
  } catch {
    return undefined; // the engine's store says what is wrong with the URL
  }
  return engine.store.get({ url: key, username });
}

/** What to run so that the tools ask credmux for what was just stored (docs: README, Quickstart). */
function wiringLines(w: LoginWiring): string[] {
  const out: string[] = [];
  // kubectl is wired per kubeconfig context, which a login cannot know.
  const setupCommand = (t: string) => (t === 'kubectl' ? 'credmux setup kubectl --context NAME' : `credmux setup ${t}`);
  if (w.run.length) out.push(`To have ${andList(w.run)} ask credmux for it: ${w.run.map(setupCommand).join(' && ')}`);
  if (w.upToDate.length) out.push(`Set up already, nothing to change: ${andList(w.upToDate)}`);
  if (w.noneSetUp)
    out.push(
      'No tool asks credmux yet: run credmux setup git, docker, podman, bazel, pip, uv, terraform, go, cargo, pnpm or kubectl --context NAME for the tools you use.',
    );
  return out;
}

function andList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** `credmux login URL --oauth`: the device flow, then the refresh token into the store (src/cli/oauth2-login.ts). */
export async function loginOAuth(env: Env, io: Io, args: import('./oauth2-login.js').OAuthLoginArgs, json = false): Promise<number> {
  const { oauthLogin } = await import('./oauth2-login.js');
  const engine = await openEngine(env);
  // The device code and where to enter it go to stderr even with --json: the person needs them.
  const r = await oauthLogin(env, engine.store, args, (line) => io.err(`${line}\n`));
  await keepDaemonOnStore(env, engine.store, io);
  if (json) {
    const answer = {
      url: r.ref.stored,
      username: r.ref.username,
      kind: 'refresh-token',
      rule: r.ruleId ?? null,
      store: { kind: engine.store.kind, location: engine.store.location },
    };
    io.out(`${JSON.stringify(answer, null, 2)}\n`);
    return EXIT.ok;
  }
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

export interface LogoutArgs {
  url?: string;
  username?: string;
  all?: boolean;
  yes?: boolean;
  json?: boolean;
}

export async function logout(env: Env, io: Io, args: LogoutArgs): Promise<number> {
  if (args.all && args.url !== undefined) throw new CredmuxError('bad-request', 'name a URL or --all, not both');
  if (!args.all && args.url === undefined) {
    throw new CredmuxError('bad-request', 'name the URL to log out of (credmux logout URL), or remove every stored credential: credmux logout --all');
  }
  const engine = await openEngine(env);
  if (args.all) return logoutAll(env, engine, io, args);
  const url = canonicalUrl(args.url!);
  const removedEntries: { url: string; username: string }[] = [];
  const before = await engine.store.list();
  let removed = 0;
  for (const u of url === DOCKER_HUB_URL ? [url, ...DOCKER_HUB_LEGACY] : [url]) {
    removed += unwrap(await engine.handle({ op: 'erase', url: u, username: args.username }), 'erase').removed;
  }
  if (removed > 0) await keepDaemonOnStore(env, engine.store, io);
  const after = new Set((await engine.store.list()).map((e) => `${e.url}\n${e.username}`));
  for (const e of before) if (!after.has(`${e.url}\n${e.username}`)) removedEntries.push({ url: e.url, username: e.username });
  if (args.json) {
    io.out(`${JSON.stringify({ url, removed, entries: removedEntries }, null, 2)}\n`);
    return removed === 0 ? EXIT.notFound : EXIT.ok;
  }
  if (removed === 0) {
    io.err(`No stored credential for ${redactUrl(url)}${args.username ? ` (user ${args.username})` : ''}\n`);
    return EXIT.notFound;
  }
  io.err(`Removed ${removed} stored credential${removed === 1 ? '' : 's'} for ${redactUrl(url)}\n`);
  return EXIT.ok;
}

/** `credmux logout --all [--username U]`: every stored credential (of that user); asks first on a terminal, else wants --yes. */
async function logoutAll(env: Env, engine: OpenedEngine, io: Io, args: LogoutArgs): Promise<number> {
  const entries = (await engine.store.list()).filter((e) => args.username === undefined || e.username === args.username);
  const shown = entries.map((e) => ({ url: e.url, username: e.username }));
  if (entries.length === 0) {
    if (args.json) io.out(`${JSON.stringify({ removed: 0, entries: [] }, null, 2)}\n`);
    else io.err(`Nothing stored${args.username ? ` for user ${args.username}` : ''}: nothing to remove\n`);
    return EXIT.notFound;
  }
  const n = `${entries.length} stored credential${entries.length === 1 ? '' : 's'}${args.username ? ` of ${args.username}` : ''}`;
  if (!args.yes) {
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new CredmuxError('bad-request', `credmux logout --all would remove ${n}; with no terminal to ask on, confirm with --yes`);
    }
    const list = shown.map((e) => `  ${e.url}  ${e.username === '' ? '(no username)' : e.username}`).join('\n');
    if (!(await confirm(`This removes ${n} from the ${engine.storeReason}:\n${list}\nRemove them? [y/N] `))) {
      io.err('Nothing removed.\n');
      return EXIT.ok;
    }
  }
  const keys = new Set(entries.map((e) => `${e.url}\n${e.username}`));
  const removed = await engine.store.remove((e) => keys.has(`${e.url}\n${e.username}`));
  if (removed > 0) await keepDaemonOnStore(env, engine.store, io);
  if (args.json) io.out(`${JSON.stringify({ removed, entries: shown }, null, 2)}\n`);
  else io.err(`Removed ${removed} stored credential${removed === 1 ? '' : 's'} from the ${engine.storeReason}\n`);
  return EXIT.ok;
}

async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
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
      // A per-request signature (S3): its header names, and their values only with --show-secret.
      ...(c.headers ? { headers: args.showSecret ? c.headers : Object.keys(c.headers) } : {}),
    };
    io.out(JSON.stringify({ url: redactUrl(args.url), found: !!c, rule: r.rule ?? null, credential }, null, 2) + '\n');
  } else if (c?.headers && r.rule) {
    const names = Object.keys(c.headers);
    io.out(
      [
        `${redactUrl(args.url)}`,
        `  rule:     ${r.rule.id} (${r.rule.source}, match ${r.rule.match})`,
        `  headers:  ${names.join(', ')} (signed for this URL; only Bazel sends them${args.showSecret ? '' : '; add --show-secret to print them'})`,
        ...(args.showSecret ? names.map((n) => `    ${n}: ${c.headers![n]!.join(', ')}`) : []),
        `  expires:  ${c.expiresAt !== undefined ? new Date(c.expiresAt * 1000).toISOString() : 'not known'}`,
      ].join('\n') + '\n',
    );
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
  // From the store itself, every field picked by name: never a secret, and what each entry is for.
  const entries = (await engine.store.list()).map(({ url, username, kind, expiresAt, updatedAt, protocols }) => ({
    url,
    username,
    kind,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(updatedAt !== undefined ? { updatedAt } : {}),
    ...(protocols !== undefined ? { protocols } : {}),
  }));
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
    const forTools = e.protocols ? `, for ${e.protocols.map((p) => TOOLS_OF[p]).join(', ')}` : '';
    lines.push(`  ${e.url}  ${e.username === '' ? '(no username)' : e.username}  (${e.kind}${exp}${forTools})`);
  }
  io.out(lines.join('\n') + '\n');
  return EXIT.ok;
}
