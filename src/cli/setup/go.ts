// `credmux setup go`: GOAUTH in the go command's own environment file, where `go env -w` writes it.
// That file is plain `KEY=value` lines, read by cmd/go/internal/cfg (readEnvFile): no quoting, a line
// not starting with A-Z ignored, the last line of a key wins. It lives at $GOENV, else
// $XDG_CONFIG_HOME/go/env, else ~/.config/go/env (os.UserConfigDir), so no Go is needed to find or
// edit it. credmux-go goes FIRST in GOAUTH (Go runs the list in reverse, so the first entry wins for a
// prefix), and what was there stays after it: `netrc` when nothing was, Go's default.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import { helperPath } from './common.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

const KEY = 'GOAUTH';

/** Where the go command reads its environment file; undefined with GOENV=off (it reads none). */
export function goEnvPath(env: Env): string | undefined {
  if (env.GOENV === 'off') return undefined;
  if (env.GOENV) return resolve(env.GOENV);
  // os.UserConfigDir: $XDG_CONFIG_HOME when set (Go refuses a relative one), else $HOME/.config.
  const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(xdg, 'go', 'env');
}

/**
 * The GOAUTH entry that runs `path`. Go splits GOAUTH at every ";" (no quoting there), then each entry
 * with cmd/internal/quoted, which allows '…' or "…" around a word.
 */
export function goauthEntry(path: string): string {
  if (/[;\n\r]/.test(path))
    throw new CredmuxError('bad-request', `${path} holds a ";" or a line break, which GOAUTH cannot carry; install credmux elsewhere`);
  if (!/\s/.test(path)) return path;
  if (!path.includes("'")) return `'${path}'`;
  if (!path.includes('"')) return `"${path}"`;
  throw new CredmuxError('bad-request', `${path} holds spaces and both kinds of quote, which GOAUTH cannot carry; install credmux elsewhere`);
}

/** GOAUTH's entries as the go command splits them. */
export function goauthEntries(value: string): string[] {
  return value.split(';').map((e) => e.trim());
}

/** The value of the last `GOAUTH=` line (the one go uses), and its index. */
function lastGoauth(lines: readonly string[]): { index: number; value: string } | undefined {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.startsWith(`${KEY}=`)) return { index: i, value: lines[i]!.slice(KEY.length + 1) };
  return undefined;
}

/** GOAUTH as the go command reads it from this env file text (undefined: not set there). */
export function goauthInFile(text: string): string | undefined {
  return lastGoauth(text.split('\n'))?.value;
}

/** Does this GOAUTH value run credmux's Go entry (by any path)? */
export function runsCredmux(value: string, entry: string): boolean {
  return goauthEntries(value).some((e) => e === entry || /(^|\/)credmux-go['"]?$/.test(e) || /(^|\/)credmux['"]? +go$/.test(e));
}

interface Owned {
  /** The GOAUTH line before setup; null when setup added one. */
  prev: string | null;
  /** Setup ended a last line that had no newline. */
  addedNewline: boolean;
}

/** `base` with credmux-go first in GOAUTH. */
function setGoauth(base: string, entry: string): { content: string; owned: Owned } {
  const lines = base.split('\n');
  const found = lastGoauth(lines);
  if (!found) {
    const addedNewline = base !== '' && !base.endsWith('\n');
    return { content: `${base}${addedNewline ? '\n' : ''}${KEY}=${entry};netrc\n`, owned: { prev: null, addedNewline } };
  }
  if (goauthEntries(found.value).includes(entry)) return { content: base, owned: { prev: null, addedNewline: false } };
  // `off` must stand alone (go refuses it in a list): credmux replaces it, and undo brings it back.
  const value = found.value.trim() === 'off' || found.value.trim() === '' ? entry : `${entry};${found.value}`;
  const prev = lines[found.index]!;
  lines[found.index] = `${KEY}=${value}`;
  return { content: lines.join('\n'), owned: { prev, addedNewline: false } };
}

/** `current` with setup's GOAUTH line taken out (or the earlier one back); unchanged when it holds none of ours. */
function unsetGoauth(current: string, entry: string, owned: Owned): string {
  const lines = current.split('\n');
  const found = lastGoauth(lines);
  if (!found || !goauthEntries(found.value).includes(entry)) return current;
  if (owned.prev !== null) {
    lines[found.index] = owned.prev;
    return lines.join('\n');
  }
  lines.splice(found.index, 1);
  let out = lines.join('\n');
  if (owned.addedNewline && out.endsWith('\n')) out = out.slice(0, -1);
  return out;
}

export function planGo(env: Env, opts: SetupOptions): ToolPlan {
  const file = goEnvPath(env);
  if (file === undefined) {
    throw new CredmuxError(
      'bad-request',
      `GOENV=off: the go command reads no environment file, so there is nowhere to set GOAUTH. Unset GOENV, or export GOAUTH='${goauthEntry(helperPath(env, 'credmux-go'))};netrc' in your shell profile`,
    );
  }
  const entry = goauthEntry(helperPath(env, 'credmux-go'));
  const spec: FileSpec<Owned> = {
    path: file,
    newMode: 0o644,
    async apply(base) {
      const { content, owned } = setGoauth(base ?? '', entry);
      return { content: base === null && content === '' ? null : content, owned };
    },
    async revert(current, owned) {
      return current === null ? null : unsetGoauth(current, entry, owned);
    },
  };
  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    notes.push(
      `go (1.24 and later) now runs credmux-go for GOAUTH (${KEY} in ${file}, as \`go env -w\` writes it): after a 4xx from a module ` +
        'proxy or a go-import lookup over https, it sends the credential credmux serves for that URL.',
    );
    if (env.GOAUTH !== undefined && !runsCredmux(env.GOAUTH, entry)) {
      warnings.push(`GOAUTH=${env.GOAUTH} in the environment overrides ${file}: unset it, or put ${entry} first in it.`);
    }
  }
  return { files: [spec], links: [], notes, warnings };
}
