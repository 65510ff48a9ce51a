// `credmux exec [mappings] -- CMD [ARGS…]`: runs CMD with environment variables set from fresh answers,
// for tools that read credentials only from their environment (Terraform's TF_TOKEN_<host>, npm's
// ${NPM_TOKEN}, cargo, uv). The secrets go into CMD's environment and nowhere else: not argv (every
// user can read a command line), not a file, not our output. CMD inherits stdio, and its exit is ours:
// its code, or the signal that ended it raised again on this process.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { compileRules, loadConfig } from '../engine/config.js';
import { authorizationValue } from '../model/authorization.js';
import { CredmuxError, type Credential } from '../model/types.js';
import type { Env } from '../platform/paths.js';
import { EXIT } from './exit-codes.js';
import {
  cargoMapping,
  checkDistinct,
  npmMapping,
  plainMapping,
  ruleMappings,
  terraformMapping,
  uvMapping,
  type EnvMapping,
  type ExportField,
} from './exec-env.js';
import { servedCredential } from './served.js';

export interface ExecArgs {
  env?: readonly string[];
  envUsername?: readonly string[];
  npm?: string;
  terraform?: readonly string[];
  cargo?: readonly string[];
  uv?: readonly string[];
  rule?: readonly string[];
  /** CMD and its arguments: everything after `--`. */
  command: readonly string[];
}

/** The shell's codes for a command that could not be run, so `credmux exec -- typo` reads like `typo` in a shell. */
const EXIT_NOT_FOUND = 127;
const EXIT_NOT_EXECUTABLE = 126;

/** Every mapping the flags and the config ask for. */
export function mappingsOf(env: Env, args: ExecArgs): EnvMapping[] {
  const out: EnvMapping[] = [
    ...(args.env ?? []).map((v) => plainMapping(v, 'secret')),
    ...(args.envUsername ?? []).map((v) => plainMapping(v, 'username')),
    ...(args.npm !== undefined ? [npmMapping(args.npm)] : []),
    ...(args.terraform ?? []).map(terraformMapping),
    ...(args.cargo ?? []).flatMap(cargoMapping),
    ...(args.uv ?? []).flatMap(uvMapping),
  ];
  // Config rules: those named with --rule; with no mapping flag at all, every rule that has exports.
  if ((args.rule && args.rule.length) || out.length === 0) {
    const loaded = loadConfig(env);
    out.push(...ruleMappings(compileRules(loaded.config, loaded.path), args.rule, loaded.path));
  }
  if (out.length === 0) {
    throw new CredmuxError(
      'bad-request',
      'nothing to set: name variables (--env NAME=URL, --npm URL, --terraform HOST, --cargo NAME=URL, --uv NAME=URL), ' +
        'or give config rules "exports" (docs/config.md, "credmux exec")',
    );
  }
  checkDistinct(out);
  return out;
}

function valueOf(cred: Credential, field: ExportField, name: string): string {
  const v = field === 'secret' ? cred.secret : field === 'username' ? cred.username : authorizationValue(cred);
  // Node would refuse a NUL in the environment with an error that quotes the value: refuse first, naming only the variable.
  if (v === undefined || v.includes('\0')) {
    throw new CredmuxError(
      'source',
      `the credential for ${name} holds a NUL or control character that an environment variable or header cannot carry; store it again`,
    );
  }
  return v;
}

/** The variables' values, each URL asked once. */
export async function resolveMappings(env: Env, mappings: readonly EnvMapping[]): Promise<Record<string, string>> {
  const byUrl = new Map<string, Promise<Credential>>();
  const vars: Record<string, string> = {};
  for (const m of mappings) {
    let cred = byUrl.get(m.url);
    if (!cred) byUrl.set(m.url, (cred = servedCredential(env, m.url)));
    vars[m.name] = valueOf(await cred, m.field, m.name);
  }
  return vars;
}

/** Signals a person or a supervisor sends to credmux itself, passed on to CMD. SIGINT and SIGQUIT from a
 * terminal reach CMD directly (same process group): passing them on too would deliver them twice. */
const FORWARDED = ['SIGTERM', 'SIGHUP'] as const;
const OUTLIVED = ['SIGINT', 'SIGQUIT'] as const;

export async function runExec(env: Env, args: ExecArgs): Promise<number> {
  if (args.command.length === 0)
    throw new CredmuxError('bad-request', 'name the command to run after --: credmux exec --env NAME=URL -- CMD [ARGS…]');
  const vars = await resolveMappings(env, mappingsOf(env, args));
  const [cmd, ...rest] = args.command as [string, ...string[]];
  let child: ChildProcess;
  try {
    child = spawn(cmd, rest, { stdio: 'inherit', env: { ...env, ...vars } });
  } catch {
    throw new CredmuxError('bad-request', `cannot run ${JSON.stringify(cmd)}`);
  }
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const s of FORWARDED) handlers.set(s, () => child.kill(s));
  for (const s of OUTLIVED) handlers.set(s, () => {}); // CMD decides; we end as it ends
  for (const [s, h] of handlers) process.on(s, h);
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  for (const [s, h] of handlers) process.off(s, h);
  if ('error' in ended) {
    // Node's message quotes the command line only; ours names the program and nothing of the environment.
    const notFound = ended.error.code === 'ENOENT';
    process.stderr.write(`credmux exec: ${cmd}: ${notFound ? 'command not found' : `cannot run it (${ended.error.code ?? 'error'})`}\n`);
    return notFound ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE;
  }
  if (ended.signal) {
    // Ended by a signal: end by the same one, so a shell or supervisor sees what happened to CMD.
    process.kill(process.pid, ended.signal);
    // A signal Node ignores (SIGPIPE) does not end us: then the shell's 128 + n.
    return 128 + (constants.signals[ended.signal] ?? 0);
  }
  return ended.code ?? EXIT.internal;
}
