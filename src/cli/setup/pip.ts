// `credmux setup pip`: `keyring-provider = subprocess` under [global] in the user's pip config, and the
// `keyring` directory for PATH. pip then runs `keyring get <index-url> <user>` after a 401
// (docs/protocols.md §4.2); pip < 26.2 does so only when the index URL names the user.
import { devNull, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { iniGet, iniSet, iniUnset, parseIni, pipKey, type IniOwned } from '../../formats/ini.js';
import { keyringLink, keyringOnPath } from './keyring-dir.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

const SECTION = 'global';
const KEY = 'keyring-provider';
const VALUE = 'subprocess';

/** The config file pip reads for this user: PIP_CONFIG_FILE when it names a file, else the XDG user file. */
export function pipConfigPath(env: Env): { path: string; hiddenByDevNull: boolean } {
  const pcf = env.PIP_CONFIG_FILE;
  const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  const user = join(xdg, 'pip', 'pip.conf');
  if (pcf === devNull) return { path: user, hiddenByDevNull: true };
  if (pcf) return { path: resolve(pcf), hiddenByDevNull: false };
  return { path: user, hiddenByDevNull: false };
}

/** keyring-provider as pip would read it from this text, per section that can set it. */
export function pipKeyringProvider(text: string): { global?: string; overrides: { section: string; value: string }[] } {
  const doc = parseIni(text);
  const overrides = ['install', 'download', 'wheel', 'index']
    .map((section) => ({ section, value: iniGet(doc, section, KEY, pipKey) }))
    .filter((o): o is { section: string; value: string } => o.value !== undefined && o.value !== VALUE);
  return { global: iniGet(doc, SECTION, KEY, pipKey), overrides };
}

export function planPip(env: Env, opts: SetupOptions): ToolPlan {
  const { path, hiddenByDevNull } = pipConfigPath(env);
  const spec: FileSpec<IniOwned> = {
    path,
    newMode: 0o644,
    async apply(base) {
      const r = iniSet(base, SECTION, KEY, VALUE);
      return { content: r.text, owned: r.owned };
    },
    async revert(current, owned) {
      return iniUnset(current, SECTION, KEY, VALUE, owned);
    },
  };
  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    notes.push(`pip (≥ 23.1) now asks \`keyring\` for index credentials after a 401 (${KEY} = ${VALUE} in ${path}).`);
    notes.push(
      'pip before 26.2 asks keyring only when the index URL names the user: use --index-url https://USER@host/simple/ ' +
        '(no password in it); pip 26.2 and later also ask without a username.',
    );
    if (hiddenByDevNull)
      warnings.push(
        `PIP_CONFIG_FILE=${devNull} makes pip ignore every config file, this one too: unset PIP_CONFIG_FILE, or set PIP_KEYRING_PROVIDER=subprocess.`,
      );
    if (env.PIP_KEYRING_PROVIDER && env.PIP_KEYRING_PROVIDER !== VALUE) {
      warnings.push(`PIP_KEYRING_PROVIDER=${env.PIP_KEYRING_PROVIDER} overrides the config file: unset it (or set it to ${VALUE}).`);
    }
    const onPath = keyringOnPath(env, 'pip');
    if (onPath.problem) warnings.push(onPath.problem);
  }
  return { files: [spec], links: [keyringLink(env)], notes, warnings };
}
