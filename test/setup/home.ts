// A new user for the setup/doctor/import tests: an EMPTY temp HOME (nothing created in it up front, so
// "undo gives every byte back" can compare the whole tree), the suite's allow-listed environment, and
// the BUILT credmux. Runtime files (XDG_RUNTIME_DIR) live beside HOME, not in it.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { distBin } from '../helpers/dist.js';
import { isolatedEnv } from '../helpers/env.js';
import { run, show, type RunResult } from '../helpers/run.js';

export interface Home {
  root: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** Runs the built `credmux` with `env` (or an override). Never throws on a non-zero exit. */
  credmux(args: readonly string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** Same, but throws unless it exits 0. */
  ok(args: readonly string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  login(url: string, username: string, password: string): Promise<void>;
  /** `credmux get URL --json --show-secret` → the credential, or null. */
  served(url: string): Promise<{ kind: string; username: string; secret: string } | null>;
  cleanup(): Promise<void>;
}

export async function newHome(name: string): Promise<Home> {
  const root = await mkdtemp(join(tmpdir(), `credmux-setup-${name}-`));
  const home = join(root, 'home');
  mkdirSync(home);
  mkdirSync(join(root, 'run'), { mode: 0o700 });
  const env: NodeJS.ProcessEnv = {
    ...isolatedEnv(home, null),
    XDG_RUNTIME_DIR: join(root, 'run'),
    // Setup writes the user's own pip config; a test that runs pip points PIP_CONFIG_FILE at it.
    PIP_CONFIG_FILE: undefined,
    // skopeo reads $DOCKER_CONFIG/config.json only when no auth file was named.
    REGISTRY_AUTH_FILE: undefined,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const h: Home = {
    root,
    home,
    env,
    credmux: (args, opts = {}) =>
      run(distBin('credmux'), args, { env: opts.env ?? env, cwd: root, ...(opts.input !== undefined ? { input: opts.input } : {}) }),
    async ok(args, opts) {
      const r = await h.credmux(args, opts);
      if (r.code !== 0) throw new Error(`credmux ${args.join(' ')} failed: ${show(r)}`);
      return r;
    },
    async login(url, username, password) {
      await h.ok(['login', url, '--username', username, '--password-stdin'], { input: password });
    },
    async served(url) {
      const r = await h.credmux(['get', url, '--json', '--show-secret']);
      if (r.code === 1) return null;
      if (r.code !== 0) throw new Error(`credmux get ${url}: ${show(r)}`);
      const j = JSON.parse(r.stdout) as { credential: { kind: string; username: string; secret: string } | null };
      return j.credential && { kind: j.credential.kind, username: j.credential.username, secret: j.credential.secret };
    },
    // A daemon a test stopped may still be removing its socket and log as we delete: rm retries a
    // directory that was not empty yet (ENOTEMPTY) instead of failing the test.
    cleanup: () => rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }),
  };
  return h;
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'link';
  mode: number;
  /** File bytes (base64) or link target. */
  content?: string;
}

/** Every path under `dir` with its type, mode and bytes, except the subtrees in `skip` (relative). */
export function snapshot(dir: string, skip: readonly string[] = []): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[rel] = { type: 'link', mode: 0, content: readlinkSync(p) };
      else if (st.isDirectory()) {
        out[rel] = { type: 'dir', mode: st.mode & 0o7777 };
        walk(p);
      } else out[rel] = { type: 'file', mode: st.mode & 0o7777, content: readFileSync(p).toString('base64') };
    }
  };
  walk(dir);
  return out;
}

/** credmux's own store and state: not the user's tool configuration. */
export const CREDMUX_OWN = ['.local/share/credmux/credentials.json', '.local/share/credmux/credentials.json.lock', '.local/state'];
