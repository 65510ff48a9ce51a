// Small things setup, doctor and import share: the exit code they add, shell quoting for the commands
// they print, and where this credmux's executables are.
import { EXIT } from '../exit-codes.js';
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Env } from '../../platform/paths.js';

/**
 * `credmux doctor` found something broken; `credmux import` left a conflict or could not read a file.
 * Documented next to the CLI's other codes (0 ok, 1 not found, 2 usage, 3 config, 4 store, 5 source).
 */
export const EXIT_PROBLEMS = EXIT.problems;

export type HelperName =
  | 'credmux'
  | 'credmux-bazel'
  | 'git-credential-credmux'
  | 'docker-credential-credmux'
  | 'keyring'
  | 'terraform-credentials-credmux'
  | 'credmux-go'
  | 'cargo-credential-credmux'
  | 'credmux-kube'
  | 'credmux-kubelet';

/**
 * The directory holding this credmux's entries. Setup writes ABSOLUTE paths into other tools' configs,
 * so they name the real files of the credmux that runs now (symlinks resolved), not a link that may move.
 * CREDMUX_BIN_DIR overrides it (an installed copy, tests).
 */
export function binDir(env: Env): string {
  if (env.CREDMUX_BIN_DIR) return resolve(env.CREDMUX_BIN_DIR);
  const here = dirname(fileURLToPath(import.meta.url));
  // Bundled, this code is dist/lib/cli.mjs; from source it is src/cli/setup/common.ts. Both find dist/bin.
  const dir = typeof __CREDMUX_BUNDLED__ !== 'undefined' ? join(here, '..', 'bin') : join(here, '..', '..', '..', 'dist', 'bin');
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

export function helperPath(env: Env, name: HelperName): string {
  // The keyring entry sits beside bin/, in a directory of its own (scripts/build.mjs, OWN_DIR): on PATH in
  // bin/ it would shadow Python's keyring for every program.
  if (name === 'keyring') return join(dirname(binDir(env)), 'keyring-bin', name);
  return join(binDir(env), name);
}

/** Quotes a word for a POSIX shell only when it needs it, so printed commands stay readable. */
export function shq(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./~-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** `$HOME/x` → `~/x` for messages (never for paths we write). */
export function tilde(path: string, env: Env): string {
  const home = env.HOME;
  if (home && home !== '/' && (path === home || path.startsWith(`${home}/`))) return `~${path.slice(home.length)}`;
  return path;
}
