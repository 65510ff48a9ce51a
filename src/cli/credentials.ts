// login, logout, get, list: the human side of the store. They run the engine in this process (so they
// can say which store they used); a running daemon notices the change through the store's version.
import { compileRules, loadConfig } from '../engine/config.js';
import { openEngine, type OpenedEngine } from '../engine/open.js';
import type { Env } from '../platform/paths.js';
import { CredmuxError, type Credential, type EngineResult } from '../model/types.js';
import { redactUrl } from '../model/url.js';
import { promptHidden, secretFromStdin } from './prompt.js';
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
  const engine = await openEngine(env);
  unwrap(await engine.handle({ op: 'store', url: args.url, credential }), 'store');
  io.err(`Stored ${bearer ? 'a token' : `the password of ${credential.username}`} for ${redactUrl(args.url)} in the ${engine.storeReason}\n`);
  await keepDaemonOnStore(env, engine.store, io);
  return EXIT.ok;
}

/** `credmux login URL --oauth`: the device flow, then the refresh token into the store (src/cli/oauth2-login.ts). */
export async function loginOAuth(env: Env, io: Io, args: import('./oauth2-login.js').OAuthLoginArgs): Promise<number> {
  const { oauthLogin } = await import('./oauth2-login.js');
  const engine = await openEngine(env);
  const r = await oauthLogin(env, engine.store, args, (line) => io.err(`${line}\n`));
  io.err(`Logged in: stored a refresh token for ${r.ref.stored} (user ${r.ref.username}) in the ${engine.storeReason}\n`);
  await keepDaemonOnStore(env, engine.store, io);
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
  const engine = await openEngine(env);
  const { removed } = unwrap(await engine.handle({ op: 'erase', url: args.url, username: args.username }), 'erase');
  if (removed === 0) {
    io.err(`No stored credential for ${redactUrl(args.url)}${args.username ? ` (user ${args.username})` : ''}\n`);
    return EXIT.notFound;
  }
  io.err(`Removed ${removed} stored credential${removed === 1 ? '' : 's'} for ${redactUrl(args.url)}\n`);
  await keepDaemonOnStore(env, engine.store, io);
  return EXIT.ok;
}

export async function get(env: Env, io: Io, args: { url: string; json?: boolean; showSecret?: boolean }): Promise<number> {
  const engine = await openEngine(env);
  const r = unwrap(await engine.handle({ op: 'get', url: args.url }), 'get');
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
