// Process plumbing shared by the test servers: run a server under supervise.sh in its own process
// group, find a free loopback port, wait until the server that answers is really ours, and tear
// everything down (group + temp dir).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const SUPERVISE = join(dirname(fileURLToPath(import.meta.url)), 'supervise.sh');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs a command to completion (stdin = `input`, or empty); throws with its stderr when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(out).toString());
      const msg = Buffer.concat(err).toString() || Buffer.concat(out).toString();
      reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${msg}`));
    });
    p.stdin.on('error', () => {}); // the command may exit without reading its stdin
    p.stdin.end(opts.input ?? '');
  });
}

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `credmux-${prefix}-`));
}

/** A server process group started by supervise.sh. */
export interface Supervised {
  readonly pid: number;
  /** True once the supervisor has exited: the server died (bad config, port taken) or was stopped. */
  hasExited(): boolean;
  /** TERM the whole group, KILL what is left after a grace period. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `cmd args` as a new process-group leader under supervise.sh, stdout+stderr appended to
 * `logFile`. We keep the supervisor's stdin pipe open and never write to it: when this process
 * dies the pipe closes and the supervisor kills the group.
 */
export function superviseProcess(
  cmd: string,
  args: string[],
  opts: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv; rmOnOrphan?: string },
): Supervised {
  const log = openSync(opts.logFile, 'a');
  const rm = opts.rmOnOrphan ? ['--rm', opts.rmOnOrphan] : [];
  const child: ChildProcess = spawn('/bin/sh', [SUPERVISE, ...rm, cmd, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true, // setsid(): the supervisor leads a new process group we can kill as one
    stdio: ['pipe', log, log],
  });
  closeSync(log);
  // Don't keep the test process alive for the server's sake; the watchdog handles our exit.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${cmd}`);

  let done = false;
  child.once('exit', () => (done = true));
  child.once('error', () => (done = true));

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      signalGroup(pid, 'SIGTERM');
      if (!(await groupGone(pid, 3000))) {
        signalGroup(pid, 'SIGKILL');
        await groupGone(pid, 2000);
      }
      child.stdin?.destroy();
    })());

  return { pid, hasExited: () => done, stop };
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: nobody left in the group
  }
}

/**
 * Whether any live (non-zombie) process is in group `pgid`. `kill(-pgid, 0)` is not enough:
 * orphaned workers that died become zombies of init, and in a container whose init never reaps
 * them they would keep the group "alive" forever.
 */
function groupAlive(pgid: number): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp …" — comm may contain spaces and parens, so split after the last ')'
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') return true;
  }
  return false;
}

async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await sleep(25);
  }
  return !groupAlive(pgid);
}

/** True if nothing listens on 127.0.0.1:port right now (the server must still win the race). */
function portLooksFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * Starts a server on a free port. Binding port 0 and handing the number over is racy (another
 * process — e.g. a parallel test file — can take it first), so `attempt` is retried with a fresh
 * port until the server proves it is ours (see `waitReady`). Ports come from 20000–32767, below
 * Linux's ephemeral range, so outgoing connections never hold them.
 */
export async function withFreePort<T>(attempt: (port: number) => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 20; i++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (!(await portLooksFree(port))) continue;
    const result = await attempt(port);
    if (result !== undefined) return result;
  }
  throw new Error('no free port found after 20 attempts');
}

/**
 * Polls `probe` until it returns true. Gives up early when the server exits (port taken, bad
 * config). The probe must recognise OUR server (a nonce), not just an open port: a port stolen by
 * another process would otherwise look ready.
 */
export async function waitReady(proc: Supervised, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.hasExited()) return false;
    try {
      if (await probe()) return true;
    } catch {
      // not listening yet
    }
    await sleep(30);
  }
  return false;
}

/** GET with a short timeout, never throwing on HTTP errors. */
export async function httpGet(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

export function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Polls `read` until `pred` holds: servers write their log line just after the response. */
export async function pollFor<T>(read: () => Promise<T>, pred: (v: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!pred(v) && Date.now() < deadline) {
    await sleep(25);
    v = await read();
  }
  return v;
}

/** Pids of live processes whose command line mentions `needle` (e.g. a server's temp dir). */
export function livePidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) pids.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
