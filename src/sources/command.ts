// command: a program that prints a token (`gcloud auth print-access-token`, `gh auth token`, a
// company script). Run from an argv array — never a shell, so nothing in the config is interpreted —
// with the resolving process's environment, no stdin, and a time bound: on timeout the whole process
// group is killed (a wrapper script's children too), so a hung tool cannot hold a request forever.
// credmux passes it nothing secret: no secret ever appears in the argv of a process credmux starts.
import type { CommandSourceConfig, Rule } from '../model/rule.js';
import { safeText, sourceError } from './errors.js';
import { fieldAt, parseJsonObject, TOKEN_CHARS } from './token-answer.js';
import { tokenExpiry, TokenShapeError } from './jwt-expiry.js';
import { DEFAULT_TOKEN_USERNAME, type TokenSource } from './types.js';

export const DEFAULT_COMMAND_TIMEOUT_S = 10;
const MAX_STDOUT_BYTES = 1 << 20;
const MAX_STDERR_BYTES = 16 * 1024;
/** How long output may trail the program's exit before the pipes are closed (see runCommand). */
const STDIO_GRACE_MS = 1_000;

function config(rule: Rule): CommandSourceConfig {
  if (rule.source.type !== 'command') throw new Error('not a command rule');
  return rule.source;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  tooLarge: boolean;
}

export function runCommand(argv: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv as [string, ...string[]];
    // detached: its own process group, so a timeout can kill everything it started.
    // child_process is loaded when a command runs, not by every process that loads the sources.
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn(program, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      shell: false,
      windowsHide: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let tooLarge = false;
    const kill = () => {
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > MAX_STDOUT_BYTES) {
        tooLarge = true;
        kill();
      } else out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (errBytes < MAX_STDERR_BYTES) err.push(d);
      errBytes += d.length;
    });
    let grace: NodeJS.Timeout | undefined;
    child.on('error', (e) => {
      clearTimeout(timer);
      clearTimeout(grace);
      reject(e);
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (timedOut || tooLarge) kill(); // the group: children that outlived the leader
      // Output may still be in the pipe after the exit (a busy machine delivers it later), so the
      // answer waits for 'close'. A grandchild that inherited stdout would hold it open forever:
      // after a grace period the pipes are closed on our side, which ends the wait.
      grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, STDIO_GRACE_MS);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(grace);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut, tooLarge });
    });
  });
}

export const commandSource: TokenSource = {
  refreshing: true,
  inputs() {
    return [];
  },
  audience() {
    return undefined;
  },
  async mint(rule, ctx) {
    const src = config(rule);
    const program = src.command[0] as string;
    const timeoutS = src.timeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_S;
    let r: Outcome;
    try {
      r = await runCommand(src.command, ctx.env as NodeJS.ProcessEnv, timeoutS * 1000);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw sourceError(rule, `command not found: ${program}; install it, put it on PATH (of the daemon or helper), or fix the rule's "command"`);
      if (code === 'EACCES') throw sourceError(rule, `command ${program} is not executable (EACCES)`);
      throw sourceError(rule, `command ${program} could not start (${code ?? (e as Error).name})`);
    }
    if (r.timedOut)
      throw sourceError(rule, `command ${program} did not finish within ${timeoutS} s and was killed; raise "timeoutSeconds" or fix the command`);
    if (r.tooLarge) throw sourceError(rule, `command ${program} printed more than ${MAX_STDOUT_BYTES} bytes; not a token`);
    const stdout = r.stdout.trim();
    if (r.code !== 0) {
      // Its stderr usually says what to do ("run gcloud auth login"); shown with anything token-like cut out.
      const why = safeText(r.stderr.split('\n').find((l) => l.trim() !== '') ?? '', [stdout]);
      const status = r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
      throw sourceError(rule, `command ${program} ${status}${why ? `: ${why}` : ''}`);
    }
    let token = stdout;
    if (src.jsonField !== undefined) {
      const body = parseJsonObject(stdout);
      if (!body) throw sourceError(rule, `command ${program} did not print a JSON object, and the rule reads "jsonField": "${src.jsonField}"`);
      const v = fieldAt(body, src.jsonField);
      if (typeof v !== 'string') throw sourceError(rule, `command ${program} printed JSON without a "${src.jsonField}" string`);
      token = v.trim();
    }
    if (token === '') throw sourceError(rule, `command ${program} printed no token`);
    if (!TOKEN_CHARS.test(token))
      throw sourceError(rule, `command ${program} printed more than one token (spaces or several lines); set "jsonField" or fix the command`);
    let expiresAt: number | undefined;
    try {
      expiresAt = await tokenExpiry(token, { expect: src.expect, ttlSeconds: src.ttlSeconds, now: ctx.now() });
    } catch (e) {
      if (e instanceof TokenShapeError) throw sourceError(rule, `command ${program} printed a token, but ${e.message}`);
      throw e;
    }
    const credential = { kind: rule.kind ?? 'bearer', username: rule.username ?? DEFAULT_TOKEN_USERNAME, secret: token } as const;
    return expiresAt === undefined ? { ...credential } : { ...credential, expiresAt };
  },
};
