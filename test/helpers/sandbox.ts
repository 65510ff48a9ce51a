// A throw-away user for one test file or one test: a temp HOME, a bin dir of credmux entry links,
// the isolated environment, and shorthands for the credmux CLI.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distBin, ENTRIES, type Entry } from './dist.js';
import { isolatedEnv } from './env.js';
import { run, show, type RunResult } from './run.js';

export interface StoredEntryView {
  url: string;
  username: string;
  kind: string;
}

export interface Sandbox {
  root: string;
  home: string;
  /** Holds `credmux`, `git-credential-credmux`, `docker-credential-credmux`, `credmux-bazel`, `keyring`, `credmux-go`, `cargo-credential-credmux`, `credmux-kube`, `credmux-kubelet`. */
  binDir: string;
  /** The isolated environment, credmux entries first on PATH. */
  env: NodeJS.ProcessEnv;
  /** The same without credmux on PATH: for negative controls. */
  envWithoutCredmux: NodeJS.ProcessEnv;
  /** Absolute path of an entry (through the bin dir, as tools see it). */
  bin(name: Entry): string;
  run(cmd: string, args: readonly string[], opts?: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  /** Runs `credmux …`; throws unless it exits 0 (use `run` to assert a failure). */
  credmux(args: readonly string[], input?: string): Promise<RunResult>;
  /** `credmux login URL --username U --password-stdin`, secret on stdin. */
  login(url: string, username: string, password: string): Promise<void>;
  /** The store's entries from `credmux list --json` (never a secret). */
  listEntries(): Promise<StoredEntryView[]>;
  /** `credmux get URL --json --show-secret`: what would be served, or null. */
  served(url: string): Promise<{ username: string; secret: string } | null>;
  /** Writes $DOCKER_CONFIG/config.json. */
  writeDockerConfig(config: unknown): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createSandbox(name = 'e2e'): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), `credmux-${name}-`));
  const home = join(root, 'home');
  const binDir = join(root, 'bin');
  await mkdir(binDir, { recursive: true });
  await mkdir(join(home, '.run'), { recursive: true, mode: 0o700 });
  await mkdir(join(home, '.docker'), { recursive: true });
  for (const e of ENTRIES) await symlink(distBin(e), join(binDir, e));
  // The end-to-end flows run as users run credmux: the first helper call starts the per-user daemon
  // and the rest are answered by it. cleanup() stops it; the idle timeout is a backstop.
  const env = withDaemon(isolatedEnv(home, binDir));
  const envWithoutCredmux = withDaemon(isolatedEnv(home, null));

  const sb: Sandbox = {
    root,
    home,
    binDir,
    env,
    envWithoutCredmux,
    bin: (e) => join(binDir, e),
    run: (cmd, args, opts = {}) => run(cmd, args, { cwd: root, ...opts, env: opts.env ?? env }),
    async credmux(args, input) {
      const r = await sb.run(sb.bin('credmux'), args, input === undefined ? {} : { input });
      if (r.code !== 0) throw new Error(`credmux ${args.join(' ')} failed: ${show(r)}`);
      return r;
    },
    async login(url, username, password) {
      await sb.credmux(['login', url, '--username', username, '--password-stdin'], password);
    },
    async listEntries() {
      const r = await sb.credmux(['list', '--json']);
      return (JSON.parse(r.stdout) as { entries: StoredEntryView[] }).entries;
    },
    async served(url) {
      const r = await sb.run(sb.bin('credmux'), ['get', url, '--json', '--show-secret']);
      if (r.code === 1) return null; // not found
      if (r.code !== 0) throw new Error(`credmux get ${url} failed: ${show(r)}`);
      const j = JSON.parse(r.stdout) as { found: boolean; credential: { username: string; secret: string } | null };
      return j.found && j.credential ? { username: j.credential.username, secret: j.credential.secret } : null;
    },
    async writeDockerConfig(config) {
      const file = join(home, '.docker', 'config.json');
      await writeFile(file, JSON.stringify(config, null, 2));
      return file;
    },
    async cleanup() {
      await run(distBin('credmux'), ['daemon', 'stop'], { env });
      await rm(root, { recursive: true, force: true });
    },
  };
  return sb;
}

function withDaemon(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { CREDMUX_DAEMON: _off, ...rest } = env;
  return { ...rest, CREDMUX_IDLE_TIMEOUT: '120' };
}
