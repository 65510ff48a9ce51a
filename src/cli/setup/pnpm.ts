// `credmux setup pnpm`: pnpm runs a registry's `tokenHelper` with no arguments (docs/protocols.md §13),
// so one executable cannot tell registries apart. Setup writes one tiny wrapper per registry, in a
// credmux-owned 0700 directory, that runs `credmux-pnpm <registry-url>`, and names each in the user
// .npmrc (the only place pnpm honours a tokenHelper) as `//host[:port]/path/:tokenHelper=<wrapper>`,
// inside a marked block: everything else in the file stays as it is, and --undo gives its bytes back.
import { createHash } from 'node:crypto';
import { lstatSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { appendBlock, removeMarkedBlock, type BlockOwned } from '../../formats/marked-block.js';
import { checkPrivateDir } from '../../ipc/private-dir.js';
import { CredmuxError } from '../../model/types.js';
import { formatPattern, type Pattern } from '../../model/url.js';
import { dataDir, type Env } from '../../platform/paths.js';
import { helperPath } from './common.js';
import type { Target } from './targets.js';
import { recordedFiles, type FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

export const PNPM_BEGIN = '; >>> credmux: managed by `credmux setup pnpm`; remove with `credmux setup pnpm --undo` >>>';
export const PNPM_END = '; <<< credmux <<<';

/**
 * The user config pnpm reads tokenHelper from: `npm_config_userconfig` (any case, as pnpm reads its
 * npm_config_* variables), else ~/.npmrc. A project or workspace .npmrc is ignored (pnpm ≤ 10) or
 * refused (pnpm 11) for tokenHelper, so that is the only file to write.
 */
export function npmrcPath(env: Env): string {
  const key = Object.keys(env)
    .filter((k) => k.toLowerCase() === 'npm_config_userconfig' && env[k])
    .sort()
    .pop();
  if (key) return resolve(env[key]!);
  return join(env.HOME || homedir(), '.npmrc');
}

/** Where the wrappers live: a directory of credmux's own, closed to everyone else (pnpm executes what is in it). */
export function wrapperDir(env: Env): string {
  return join(dataDir(env), 'pnpm-helpers');
}

/**
 * pnpm ≤ 10 runs the value through a shell and pnpm 11 splits it on whitespace and refuses `$ % \` " '`:
 * a wrapper path is used only when it has none of that, so both run exactly that file.
 */
const SAFE_PATH = /^[A-Za-z0-9_+=:,./@-]+$/;

/** The registry URL pnpm asks for, and the .npmrc key it looks the helper up under (nerf-darted, trailing slash). */
export function registryOf(p: Pattern): { url: string; key: string } {
  const url = `${formatPattern(p)}/`;
  return { url, key: url.replace(/^https?:/, '') };
}

/** One file per registry, named for people (host, port, path) and made unique by a hash of the URL. */
function wrapperName(url: string): string {
  const readable = url
    .replace(/^https?:\/\//, '')
    .replace(/[^A-Za-z0-9.-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60);
  return `${readable}-${createHash('sha256').update(url).digest('hex').slice(0, 8)}`;
}

/** Always single-quoted (doctor reads the words back): nothing in a path or URL is expanded by sh. */
function quoted(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function wrapperScript(helper: string, url: string): string {
  return (
    `#!/bin/sh\n` +
    `# pnpm tokenHelper for ${url}: written by \`credmux setup pnpm\`, removed by \`credmux setup pnpm --undo\`.\n` +
    `exec ${quoted(helper)} ${quoted(url)}\n`
  );
}

/** The program a wrapper execs, as wrapperScript writes it; undefined for any other file. */
export function wrapperTarget(text: string): string | undefined {
  const m = /^exec '((?:[^']|'\\'')*)' '/m.exec(text);
  return m ? m[1]!.replaceAll(`'\\''`, "'") : undefined;
}

/** A file another user owns, or one that is not a regular file, is not ours to write (nor to trust). */
function checkOwnFile(path: string): void {
  let st;
  try {
    st = statSync(path); // the file a symlinked .npmrc leads to is the one written
  } catch {
    return; // absent: setup creates it
  }
  if (!st.isFile()) throw new CredmuxError('bad-request', `${path} is not a regular file; move it away, then run credmux setup pnpm again`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new CredmuxError(
      'bad-request',
      `${path} belongs to uid ${st.uid}, not to you (uid ${uid}): credmux does not write a config another user controls. ` +
        `Point NPM_CONFIG_USERCONFIG at a file of yours, or chown it`,
    );
  }
}

function checkWrapperDir(dir: string): void {
  const check = checkPrivateDir(dir, 'XDG_DATA_HOME');
  if (check.state === 'unsafe') throw new CredmuxError('bad-request', `the pnpm wrapper directory: ${check.problem}`);
  let parentLink = false;
  try {
    parentLink = lstatSync(dirname(dir)).isSymbolicLink();
  } catch {
    /* absent: created 0700 */
  }
  if (parentLink)
    throw new CredmuxError('bad-request', `${dirname(dir)} is a symbolic link; credmux keeps its pnpm wrappers only in a directory of its own`);
}

export function planPnpm(env: Env, targets: Target[] | null, opts: SetupOptions): ToolPlan {
  const npmrc = npmrcPath(env);
  const dir = wrapperDir(env);
  const helper = helperPath(env, 'credmux-pnpm');
  checkOwnFile(npmrc);
  checkWrapperDir(dir);

  const byKey = new Map<string, { url: string; wrapper: string }>();
  const wildcards: string[] = [];
  for (const t of targets ?? []) {
    if (t.pattern.wildcard) {
      wildcards.push(`${formatPattern(t.pattern)} (${t.origin})`);
      continue;
    }
    const { url, key } = registryOf(t.pattern);
    // http and https of one host share a key (pnpm drops the scheme): the first, https, wins.
    if (!byKey.has(key)) byKey.set(key, { url, wrapper: join(dir, wrapperName(url)) });
  }
  const unsafe = [...byKey.values()].filter((w) => !SAFE_PATH.test(w.wrapper));
  if (unsafe.length) {
    throw new CredmuxError(
      'bad-request',
      `the wrapper path ${unsafe[0]!.wrapper} has characters pnpm cannot run a tokenHelper from (spaces, quotes, $, %…); ` +
        'set XDG_DATA_HOME to a plain path (e.g. export XDG_DATA_HOME=/home/you/.local/share), then run credmux setup pnpm again',
    );
  }
  const lines = [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, w]) => `${key}:tokenHelper=${w.wrapper}`);
  const block = lines.length ? `${PNPM_BEGIN}\n${lines.join('\n')}\n${PNPM_END}\n` : '';

  const npmrcSpec: FileSpec<BlockOwned> = {
    path: npmrc,
    newMode: 0o600,
    async apply(base) {
      if (!block) return { content: base, owned: { addedNewline: false, addedBlank: false } };
      return appendBlock(base, block);
    },
    async revert(current, owned) {
      return current === null ? null : removeMarkedBlock(current, owned, PNPM_BEGIN, PNPM_END);
    },
  };
  const wanted = new Map([...byKey.values()].map((w) => [w.wrapper, w.url]));
  // Wrappers a previous run wrote that no registry wants now: planned empty, so they are removed.
  const paths = [...new Set([...wanted.keys(), ...recordedFiles(env, 'pnpm').filter((p) => dirname(p) === dir)])].sort();
  const wrapperSpecs: FileSpec<null>[] = paths.map((path) => ({
    path,
    newMode: 0o700,
    dirMode: 0o700,
    async apply(base) {
      const url = wanted.get(path);
      return { content: url === undefined ? base : wrapperScript(helper, url), owned: null };
    },
    async revert() {
      return null; // the whole file is credmux's
    },
  }));
  // Written wrappers first, the .npmrc last (and undone first): pnpm never finds a helper that is not there.
  const files = opts.undo ? [npmrcSpec, ...wrapperSpecs] : [...wrapperSpecs, npmrcSpec];

  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    if (byKey.size) notes.push(`pnpm asks ${helper} (through a wrapper in ${dir}) for: ${[...wanted.values()].sort().join(', ')}`);
    else if (!wildcards.length)
      warnings.push(
        'Nothing to wire: no rule, and no stored credential for pnpm. Store one first (credmux login https://REGISTRY/ --token-stdin), then run credmux setup pnpm again.',
      );
    if (wildcards.length)
      warnings.push(
        `A pnpm tokenHelper names one registry, so these cannot be wired: ${wildcards.join(', ')}. ` +
          'Log in to each registry URL instead, e.g.: credmux login https://npm.example.com/ --token-stdin && credmux setup pnpm',
      );
    // A tokenHelper wins over an _authToken for the same registry (checked with pnpm 10.34): nothing to remove.
    if (byKey.size)
      notes.push(
        'pnpm runs every helper of the user .npmrc once per command; after `credmux login` for a new registry, run `credmux setup pnpm` again.',
      );
  }
  return { files, links: [], notes, warnings };
}

/** `//key/:tokenHelper=value` lines of an .npmrc (comments skipped), with 1-based line numbers. For doctor. */
export function tokenHelpers(text: string): { key: string; path: string; line: number }[] {
  const out: { key: string; path: string; line: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    const m = /^\s*(\/\/[^=\s]*?):tokenHelper\s*=\s*(.*?)\s*$/.exec(raw.replace(/\r$/, ''));
    if (m) out.push({ key: m[1]!, path: m[2]!, line: i + 1 });
  });
  return out;
}
