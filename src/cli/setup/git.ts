// `credmux setup git`: per-URL helpers in the global git config,
//     credential.<url>.helper =            (empty: drop every helper configured before for this URL)
//     credential.<url>.helper = /abs/git-credential-credmux
//     credential.<url>.useHttpPath = true  (only where the rule has a path: git sends the path only then)
// git itself edits the file (`git config --file`, argv arrays, on a private copy), so quoting, section
// layout and URL subsections are exactly what git writes and reads.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import type { Pattern } from '../../model/url.js';
import { helperPath, shq } from './common.js';
import { childEnv, execArgv } from './exec.js';
import { hostPort, type Target } from './targets.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

/** The file `git config --global` writes (git 2.39 `git_global_config`). */
export function gitGlobalConfigPath(env: Env): string {
  if (env.GIT_CONFIG_GLOBAL) return env.GIT_CONFIG_GLOBAL;
  const home = env.HOME || homedir();
  const dot = join(home, '.gitconfig');
  const xdgHome = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config');
  const xdg = join(xdgHome, 'git', 'config');
  // git writes ~/.gitconfig unless only the XDG file exists.
  return !existsSync(dot) && existsSync(xdg) ? xdg : dot;
}

/** The value git runs: an absolute path verbatim, or a `!` shell snippet when the path needs quoting. */
export function gitHelperValue(path: string): string {
  return shq(path) === path ? path : `!${shq(path)}`;
}

/** git URL forms for a pattern. git's `*` matches one label and never the bare domain, so a wildcard takes three. */
export function gitUrls(p: Pattern): string[] {
  const rest = `${hostPort(p)}${p.path}`;
  return p.wildcard ? [`${p.scheme}://${rest}`, `${p.scheme}://*.${rest}`, `${p.scheme}://*.*.${rest}`] : [`${p.scheme}://${rest}`];
}

interface UrlOwned {
  /** The helper values before setup, in order. */
  helpers: string[];
  /** useHttpPath before setup, when setup changed it. */
  useHttpPath: string | null;
  setUseHttpPath: boolean;
}

interface Owned {
  urls: Record<string, UrlOwned>;
}

export async function runGitConfig(env: Env, file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await execArgv('git', ['config', '--file', file, ...args], { env: childEnv(env) });
  if (r.spawnError) {
    throw new CredmuxError(
      'bad-request',
      r.spawnError.code === 'ENOENT' ? 'git is not installed (not found on PATH)' : `cannot run git: ${r.spawnError.message}`,
    );
  }
  // 1: key not found (--get), 5: nothing to unset. 3: the file is not valid git config.
  if (r.code !== 0 && r.code !== 1 && r.code !== 5) {
    throw new CredmuxError('bad-request', `git config failed on ${file}: ${r.stderr.trim() || `exit code ${r.code}`}`);
  }
  return r;
}

/** Runs `edit` on a private copy of `content` and returns the copy's new bytes. */
async function onCopy(content: string | null, edit: (file: string) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'credmux-gitconfig-'));
  const file = join(dir, 'config');
  try {
    await writeFile(file, content ?? '', { mode: 0o600 });
    await edit(file);
    return await readFile(file, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function getAll(env: Env, file: string, key: string): Promise<string[]> {
  const r = await runGitConfig(env, file, ['--null', '--get-all', key]);
  if (r.code !== 0) return [];
  return r.stdout.split('\0').slice(0, -1);
}

function isTrue(v: string | null | undefined): boolean {
  return v !== null && v !== undefined && ['true', 'yes', 'on', '1', ''].includes(v.toLowerCase());
}

export function planGit(env: Env, targets: Target[] | null, opts: SetupOptions): ToolPlan {
  const file = gitGlobalConfigPath(env);
  if (file === '/dev/null')
    throw new CredmuxError('bad-request', 'GIT_CONFIG_GLOBAL=/dev/null: git reads no global config, so there is nothing to set up; unset it first');
  const helper = gitHelperValue(helperPath(env, 'git-credential-credmux'));
  const wanted = new Map<string, boolean>();
  for (const t of targets ?? []) for (const url of gitUrls(t.pattern)) wanted.set(url, (wanted.get(url) ?? false) || t.pattern.path !== '');

  const spec: FileSpec<Owned> = {
    path: file,
    newMode: 0o644,
    async apply(base) {
      const owned: Owned = { urls: {} };
      const content = await onCopy(base, async (f) => {
        for (const [url, useHttpPath] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
          const helpers = await getAll(env, f, `credential.${url}.helper`);
          const use = (await getAll(env, f, `credential.${url}.usehttppath`)).pop() ?? null;
          const helpersOk = helpers.length === 2 && helpers[0] === '' && helpers[1] === helper;
          const useOk = !useHttpPath || isTrue(use);
          if (helpersOk && useOk) continue;
          owned.urls[url] = { helpers, useHttpPath: use, setUseHttpPath: !useOk };
          if (!helpersOk) {
            if (helpers.length) await runGitConfig(env, f, ['--unset-all', `credential.${url}.helper`]);
            await runGitConfig(env, f, ['--add', `credential.${url}.helper`, '']);
            await runGitConfig(env, f, ['--add', `credential.${url}.helper`, helper]);
          }
          if (!useOk) await runGitConfig(env, f, ['--replace-all', `credential.${url}.useHttpPath`, 'true']);
        }
      });
      return { content: Object.keys(owned.urls).length ? content : base, owned };
    },
    async revert(current, owned) {
      if (current === null) return null;
      return onCopy(current, async (f) => {
        for (const [url, was] of Object.entries(owned.urls)) {
          const now = await getAll(env, f, `credential.${url}.helper`);
          if (now.includes(helper)) {
            await runGitConfig(env, f, ['--unset-all', `credential.${url}.helper`]);
            for (const h of was.helpers) await runGitConfig(env, f, ['--add', `credential.${url}.helper`, h]);
          }
          if (was.setUseHttpPath) {
            await runGitConfig(env, f, ['--unset-all', `credential.${url}.useHttpPath`]);
            if (was.useHttpPath !== null) await runGitConfig(env, f, ['--add', `credential.${url}.useHttpPath`, was.useHttpPath]);
          }
          // git drops a section once its last key is unset, but keeps a header it finds empty otherwise.
          const left = await runGitConfig(env, f, ['--null', '--list']);
          const prefix = `credential.${url}.`;
          if (!left.stdout.split('\0').some((kv) => kv.startsWith(prefix))) {
            await execArgv('git', ['config', '--file', f, '--remove-section', `credential.${url}`], { env: childEnv(env) }); // "no such section" is fine
          }
        }
      });
    },
  };

  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    if (wanted.size) {
      notes.push(`git asks ${helperPath(env, 'git-credential-credmux')} (and no other helper) for: ${[...wanted.keys()].sort().join(', ')}`);
      notes.push('After `credmux login` for a new host, run `credmux setup git` again to add it.');
    } else
      warnings.push(
        'Nothing to wire: no rule, and no stored credential for git. Store one first (credmux login URL …), then run credmux setup git again.',
      );
    if ((targets ?? []).some((t) => t.pattern.wildcard))
      notes.push('git matches "*" against one label only: deeper subdomains than *.*.<domain> need their own `credmux login`.');
  }
  return { files: [spec], links: [], notes, warnings };
}
