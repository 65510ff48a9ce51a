// Shared by the daemon tests: bundle the daemon (and a helper-like client) the way the build does,
// give every test its own HOME and runtime dir, and make sure no daemon outlives the run.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import type { EngineRequest } from '../../src/model/types.js';
import { currentHolder } from '../../src/ipc/lock.js';
import { daemonFiles } from '../../src/ipc/paths.js';

/**
 * Fresh temporary directories for a test file, each removed after the test that made it. Call once at
 * the file's top level (it registers the afterEach); the function it returns makes one directory.
 */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

export interface Bundles {
  dir: string;
  daemon: string;
  client: string;
}

/** Bundles entry files as scripts/build.mjs does (CJS, node20, shebang); returns their paths. */
export async function bundle(entries: Record<string, string>): Promise<{ dir: string; paths: Record<string, string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cmx-bin-'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
  const paths: Record<string, string> = {};
  for (const [name, entry] of Object.entries(entries)) {
    const outfile = join(dir, name);
    await build({
      entryPoints: [join(root, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'error',
      banner: { js: '#!/usr/bin/env node' },
      external: ['@napi-rs/keyring'],
      define: { __CREDMUX_BUNDLED__: 'true', __CREDMUX_VERSION__: JSON.stringify(version) },
    });
    chmodSync(outfile, 0o755);
    paths[name] = outfile;
  }
  return { dir, paths };
}

export async function buildFakeBundles(): Promise<Bundles> {
  const { dir, paths } = await bundle({ 'fake-daemon': 'test/daemon/fixtures/fake-daemon.ts', 'fake-client': 'test/daemon/fixtures/fake-client.ts' });
  return { dir, daemon: paths['fake-daemon']!, client: paths['fake-client']! };
}

/**
 * A daemon executable that runs `prelude` in the daemon's own process, then the fake daemon. It lives
 * in the bundle directory, so whatever it leaves running dies with the bundles (disposeBundles).
 */
export function daemonWithPrelude(bins: Bundles, name: string, prelude: string): string {
  const bin = join(bins.dir, `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.cjs`);
  writeFileSync(bin, `${prelude}\nrequire(${JSON.stringify(bins.daemon)});\n`);
  return bin;
}

/** Every daemon process started from `bin` for this env's runtime dir (by /proc cmdline + environ). */
export function daemonPids(bin: string, env: Env): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!cmd.includes(bin)) continue;
      const environ = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && environ.includes(`XDG_RUNTIME_DIR=${env.XDG_RUNTIME_DIR}`)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Kills every process started from the bundles in `dir` (SIGKILL) and removes the directory. */
export function disposeBundles(dir: string | undefined): void {
  if (!dir) return;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (
        readFileSync(`/proc/${name}/cmdline`, 'utf8')
          .split('\0')
          .some((a) => a.startsWith(`${dir}/`))
      )
        process.kill(Number(name), 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

export interface TestHome {
  root: string;
  env: Env;
  cleanup(): void;
}

/** A fresh HOME and XDG_RUNTIME_DIR (0700), nothing inherited from the developer's environment. */
export function testHome(daemonBin: string, extra: Env = {}): TestHome {
  const root = mkdtempSync(join(tmpdir(), 'cmx-'));
  const run = join(root, 'run');
  mkdirSync(run, { mode: 0o700 });
  mkdirSync(join(root, 'home'));
  const env: Env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('XDG_') && !k.startsWith('CREDMUX_')) env[k] = v;
  Object.assign(env, { HOME: join(root, 'home'), XDG_RUNTIME_DIR: run, CREDMUX_DAEMON_BIN: daemonBin, CREDMUX_IDLE_TIMEOUT: '60' }, extra);
  return {
    root,
    env,
    cleanup() {
      for (const pid of daemonPids(daemonBin, env)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** True once `pid` has exited and closed its files: gone, or a zombie (exit has finished by then). */
export function exited(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
  } catch {
    return true;
  }
}

export function holderPid(env: Env): number | undefined {
  return currentHolder(daemonFiles(env).dir)?.pid;
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface ClientRun {
  via: 'daemon' | 'process';
  result: unknown;
  /** Why the client gave up on a silent daemon (src/client/patience.ts), if it did. */
  gaveUp?: string;
  /** How long the client ran until it printed, from its own start (ms). */
  ms: number;
}

/** Runs the helper-like client process; resolves with what it printed. */
export function runClient(clientBin: string, req: EngineRequest, env: Env): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [clientBin, JSON.stringify(req)], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`client exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as ClientRun);
      } catch {
        reject(new Error(`client printed ${JSON.stringify(out)} ${err}`));
      }
    });
  });
}

/** Runs a daemon in the foreground (as `credmux daemon run` would) and collects its exit code and stderr. */
export function runDaemonSync(bin: string, env: Env, timeoutMs = 10_000): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [bin], { env: env as NodeJS.ProcessEnv, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stderr: r.stderr };
}

export function readLog(env: Env): string {
  const f = daemonFiles(env).logFile;
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

/**
 * A server listening at `path` that hands every complete line it receives to `onLine`, with the
 * socket it came on (a stand-in daemon); `onConnection` sees each new connection first.
 */
export async function lineServer(
  path: string,
  onLine: (line: string, socket: Socket) => void,
  onConnection?: (socket: Socket) => void,
): Promise<Server> {
  const server = createServer((socket) => {
    onConnection?.(socket);
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onLine(line, socket);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}
