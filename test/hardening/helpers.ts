// Shared by the hardening suites: a seeded template user (real `credmux login`s into the file store),
// cheap per-case copies of it, byte snapshots of the store, and a process runner that takes raw bytes.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DIST_BIN, REPO_ROOT, requireBuilt, type Entry } from '../helpers/dist.js';
import { isolatedEnv } from '../helpers/env.js';

/**
 * What the template user has stored. Every secret is unique and long enough that finding it anywhere
 * (stderr, a log, /proc) cannot be a coincidence.
 */
export const SEEDS = [
  { url: 'https://victim.example.com', username: 'alice', secret: 'Victim-S3cret-7f3a9c', token: false },
  { url: '*.wild.example', username: 'bob', secret: 'Wild-S3cret-91c2e4', token: false },
  { url: 'https://pkgs.example.com/simple', username: 'carol', secret: 'Simple-S3cret-c0de55', token: false },
  { url: 'https://registry.example.com:5000', username: 'dave', secret: 'Registry-S3cret-5000aa', token: false },
  { url: 'https://ghcr.example.io', username: 'x-access-token', secret: 'Bearer-T0ken-ghcr77', token: true },
  { url: 'http://127.0.0.1:8080', username: 'erin', secret: 'Plain-Http-S3cret-80', token: false },
] as const;

/** A config rule served from an environment variable the runner sets for every case. */
export const CORP_TOKEN = 'Corp-Env-T0ken-42abX';
export const SEED_CONFIG = {
  rules: [{ id: 'corp', match: '*.corp.example', username: 'ci', source: { type: 'env', var: 'CORP_TOKEN' } }],
};

/** Every secret the seeded user can serve. */
export const SEEDED_SECRETS: readonly string[] = [...SEEDS.map((s) => s.secret), CORP_TOKEN];

export interface Home {
  root: string;
  home: string;
  env: Record<string, string>;
  /** $XDG_DATA_HOME/credmux: the file store's directory. */
  dataDir: string;
  storeFile: string;
  configFile: string;
  stateDir: string;
  cleanup(): void;
}

function homeAt(root: string, extraEnv: Record<string, string> = {}): Home {
  const home = join(root, 'home');
  const env = { ...(isolatedEnv(home, null) as Record<string, string>), CORP_TOKEN, ...extraEnv };
  const dataDir = join(home, '.local', 'share', 'credmux');
  return {
    root,
    home,
    env,
    dataDir,
    storeFile: join(dataDir, 'credentials.json'),
    configFile: join(home, '.config', 'credmux', 'config.json'),
    stateDir: join(home, '.local', 'state', 'credmux'),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** An empty user: HOME with the XDG layout, the runtime dir 0700, nothing stored. */
export function emptyHome(name = 'hard', extraEnv: Record<string, string> = {}): Home {
  const root = mkdtempSync(join(tmpdir(), `credmux-${name}-`));
  mkdirSync(join(root, 'home', '.run'), { recursive: true, mode: 0o700 });
  return homeAt(root, extraEnv);
}

let snapshotBin: string | undefined;

/**
 * A private copy of the built dist/ (bin/ and lib/, as the build lays them out) for this test file, so
 * a rebuild running at the same time (`npm test` elsewhere) cannot pull the executables away mid-run.
 * It lives under node_modules/.cache so the entries still resolve their external dependency
 * (@napi-rs/keyring) from the repository's node_modules.
 */
export function builtBinDir(): string {
  if (snapshotBin) return snapshotBin;
  requireBuilt();
  const cache = join(REPO_ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const root = mkdtempSync(join(cache, 'credmux-hardening-'));
  cpSync(join(DIST_BIN, '..'), join(root, 'dist'), { recursive: true });
  // The real path: a node entry's __dirname (where it finds the daemon) is resolved through symlinks.
  snapshotBin = join(realpathSync(join(root, 'dist')), 'bin');
  snapshotRoot = root;
  return snapshotBin;
}

let snapshotRoot: string | undefined;

/** Removes this file's snapshot (call from afterAll; a daemon started from it must be gone first). */
export function disposeBuiltSnapshot(): void {
  if (snapshotRoot) rmSync(snapshotRoot, { recursive: true, force: true });
  snapshotRoot = undefined;
  snapshotBin = undefined;
}

export function entryPath(name: Entry): string {
  // The keyring entry has a directory of its own beside bin/ (scripts/build.mjs, OWN_DIR).
  if (name === 'keyring') return join(builtBinDir(), '..', 'keyring-bin', name);
  return join(builtBinDir(), name);
}

/**
 * The daemon's code in the snapshot, as a helper would start it: dist/lib/credmux-daemon.cjs (run by
 * node), or an older layout's dist/bin/credmux-daemon. Its path is in the daemon's command line.
 */
export function daemonExecutable(): { path: string; command: string; args: string[] } {
  const lib = join(builtBinDir(), '..', 'lib', 'credmux-daemon.cjs');
  if (existsSync(lib)) {
    const path = realpathSync(lib);
    return { path, command: process.execPath, args: [path] };
  }
  const bin = join(builtBinDir(), 'credmux-daemon');
  return { path: bin, command: bin, args: [] };
}

/** The root of the snapshot (…/dist): every process started from it has this in its command line. */
export function builtDistDir(): string {
  return join(builtBinDir(), '..');
}

/** The template: the SEEDS logged in through the real CLI, and SEED_CONFIG. Built once per file. */
export async function seededTemplate(): Promise<Home> {
  builtBinDir();
  const h = emptyHome('tpl');
  mkdirSync(join(h.configFile, '..'), { recursive: true });
  writeFileSync(h.configFile, JSON.stringify(SEED_CONFIG, null, 2));
  for (const s of SEEDS) {
    const args = ['login', s.url, '--username', s.username, s.token ? '--token-stdin' : '--password-stdin'];
    const r = await runBytes('credmux', args, h.env, Buffer.from(`${s.secret}\n`));
    if (r.code !== 0) throw new Error(`seeding ${s.url} failed: ${r.stderr}`);
  }
  return h;
}

/**
 * A private copy of the template, modes kept: the store refuses a group-readable directory. `cp -a`,
 * not fs.cpSync: from Node 22 cpSync creates the directories it copies with the default mode (0755).
 */
export function cloneHome(template: Home, extraEnv: Record<string, string> = {}): Home {
  const root = mkdtempSync(join(tmpdir(), 'credmux-case-'));
  execFileSync('cp', ['-a', template.home, join(root, 'home')]);
  return homeAt(root, extraEnv);
}

/** Every file under `dir` (recursively) with its bytes, base64: equal snapshots mean nothing changed. */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out[`${relative(dir, p)} (mode ${(st.mode & 0o777).toString(8)})`] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

export interface BytesResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  pid: number | undefined;
}

/**
 * Runs a built entry as a real process. `stdin`: bytes written then closed; undefined gives /dev/null
 * (as pip runs `keyring`). Never throws on a non-zero exit; a hang is killed and reported.
 */
export function runBytes(
  entry: Entry | string,
  argv: readonly string[],
  env: Record<string, string>,
  stdin?: Buffer,
  timeoutMs = 15_000,
): Promise<BytesResult> {
  const bin = entry.includes('/') ? entry : entryPath(entry as Entry);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(bin, argv, { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (signal === 'SIGKILL' ? `\n[killed after ${timeoutMs} ms]` : ''),
        ms: performance.now() - t0,
        pid: p.pid,
      });
    });
    if (stdin !== undefined) {
      p.stdin!.on('error', () => {}); // the entry may exit before reading it all (oversized input)
      p.stdin!.end(stdin);
    }
  });
}

export function show(r: { code: number | null; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The first piece of `secret` (every `width`-character window of it) found in `text`, if any. Error
 * messages that quote input (V8's JSON errors show ~10 characters around the fault) leak a secret
 * in pieces, which a whole-string search misses.
 */
export function secretPiece(text: string, secret: string, width = 8): string | undefined {
  if (secret.length <= width) return text.includes(secret) ? secret : undefined;
  for (let i = 0; i + width <= secret.length; i++) {
    const piece = secret.slice(i, i + width);
    if (text.includes(piece)) return piece;
  }
  return undefined;
}
