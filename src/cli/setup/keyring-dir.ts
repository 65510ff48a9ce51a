// pip and uv run whatever `keyring` PATH finds. Putting credmux's whole bin directory on PATH would
// also shadow other commands, so setup makes a directory holding ONLY a `keyring` link to credmux's
// keyring entry; the person puts that directory on PATH.
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir, type Env } from '../../platform/paths.js';
import { helperPath, shq } from './common.js';
import { sameFile, whichOnPath } from './exec.js';
import type { LinkSpec } from './transaction.js';

export function keyringDir(env: Env): string {
  return join(dataDir(env), 'keyring-bin');
}

export function keyringLink(env: Env): LinkSpec {
  // 0700 parents: the credmux data dir also holds the file store, which refuses a wider directory.
  return { path: join(keyringDir(env), 'keyring'), target: helperPath(env, 'keyring'), dirMode: 0o700 };
}

/** Does `keyring` on PATH resolve to this credmux? If not, what to run. `tool` names who runs it. */
export function keyringOnPath(env: Env, tool: 'pip' | 'uv'): { found?: string; problem?: string } {
  const ours = helperPath(env, 'keyring');
  const found = whichOnPath('keyring', env.PATH);
  if (found && sameFile(found, ours)) return { found };
  // A link setup made for another credmux, or for the old layout (dist/bin/keyring, gone since the entry
  // got a directory of its own): putting its directory on PATH would not help, setting it up again does.
  const link = join(keyringDir(env), 'keyring');
  const stale = linkElsewhere(link, ours);
  if (stale !== undefined) {
    return {
      ...(found ? { found } : {}),
      problem: `${link} points to ${stale}, not to this credmux's keyring entry (${ours}). To fix it, run: credmux setup ${tool}`,
    };
  }
  const fix = `put ${keyringDir(env)} first on PATH, in your shell profile (~/.profile, ~/.bashrc or ~/.zshrc) and in this shell:\n    export PATH=${shq(keyringDir(env))}:"$PATH"`;
  if (found) return { found, problem: `${tool} would run ${found} as \`keyring\`, not credmux's. To fix it, ${fix}` };
  return { problem: `${tool} runs \`keyring\` from PATH, and it is not on PATH. To fix it, ${fix}` };
}

/** The target of a symlink at `link` that does not lead to `ours`; undefined when there is none, or it does. */
function linkElsewhere(link: string, ours: string): string | undefined {
  try {
    if (!lstatSync(link).isSymbolicLink()) return undefined;
    return sameFile(link, ours) ? undefined : readlinkSync(link);
  } catch {
    return undefined;
  }
}
