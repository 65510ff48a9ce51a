// `credmux setup podman` (podman, skopeo and buildah, which all read their registries through
// containers/image): a drop-in ~/.config/containers/registries.conf.d/99-credmux.conf holding
//     credential-helpers = ["credmux", <the helpers configured before>]
// (docs/protocols.md §3.4). These tools try the helpers in that order, for reading and for storing: with
// credmux first, a plain `podman login` / `skopeo login` stores through credmux and writes nothing into
// auth.json, and a registry credmux does not know falls through to the auth files as before.
//
// Why not containers-auth.json(5) `credHelpers` per host: `login` writes to the read/write auth file in
// $XDG_RUNTIME_DIR (gone at reboot) and does not honour credHelpers found only in the persistent one, so
// the password would still land in plain text. Why a drop-in and not registries.conf itself: a user
// registries.conf REPLACES /etc/containers/registries.conf (search registries, mirrors, aliases), while
// drop-ins in the user directory are read after whichever main file is in use
// (containers-registries.conf.d(5)); the helpers key there overrides earlier settings, so the list
// written keeps every helper configured before, behind credmux. It is read from $HOME, not XDG_CONFIG_HOME.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { home, type Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import { parseTomlValue, tomlString } from '../../formats/toml.js';
import { DOCKER_HELPER_NAME, dockerHelperOnPath } from './docker.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

/** containers-registries.conf(5): what `credential-helpers` means when nothing sets it. */
export const DEFAULT_HELPERS = ['containers-auth.json'];
const SYSTEM_CONF = '/etc/containers/registries.conf';
const SYSTEM_DIR = '/etc/containers/registries.conf.d';

function containersConfigDir(env: Env): string {
  return join(home(env), '.config', 'containers');
}

export function podmanDropInPath(env: Env): string {
  return join(containersConfigDir(env), 'registries.conf.d', '99-credmux.conf');
}

/** The registries.conf files containers/image reads, in the order it reads them (later ones override). */
export function registriesConfFiles(env: Env): string[] {
  const userMain = join(containersConfigDir(env), 'registries.conf');
  const userDir = join(containersConfigDir(env), 'registries.conf.d');
  const override = env.CONTAINERS_REGISTRIES_CONF;
  const main = override || (existsSync(userMain) ? userMain : SYSTEM_CONF);
  // A user registries.conf replaces the system one AND its drop-in directory; the user's drop-ins always count.
  const dirs = !override && main === userMain ? [userDir] : [SYSTEM_DIR, userDir];
  const dropIns = dirs.flatMap((d) => {
    try {
      return readdirSync(d)
        .filter((f) => f.endsWith('.conf'))
        .sort()
        .map((f) => join(d, f));
    } catch {
      return [];
    }
  });
  return [main, ...dropIns];
}

export interface HelperList {
  helpers: string[];
  /** The file whose `credential-helpers` is in effect; null: none sets it (the default applies). */
  from: string | null;
  /** Files containers tools would refuse too, for a warning. */
  unreadable: string[];
}

/** The `credential-helpers` podman, skopeo and buildah use; `without` leaves one file out (ours, to see what was there before). */
export function effectiveHelpers(env: Env, without?: string): HelperList {
  const out: HelperList = { helpers: DEFAULT_HELPERS, from: null, unreadable: [] };
  for (const file of registriesConfFiles(env)) {
    if (file === without) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // absent: nothing set there
    }
    let value: unknown;
    try {
      value = parseTomlValue(text)['credential-helpers'];
    } catch {
      out.unreadable.push(file);
      continue;
    }
    if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) {
      out.helpers = value as string[];
      out.from = file;
    }
  }
  return out;
}

export function planPodman(env: Env, opts: SetupOptions): ToolPlan {
  const file = podmanDropInPath(env);
  const before = effectiveHelpers(env, file);
  const wanted = [DOCKER_HELPER_NAME, ...before.helpers.filter((h) => h !== DOCKER_HELPER_NAME)];
  const needed = before.helpers[0] !== DOCKER_HELPER_NAME;
  const content =
    '# Written by `credmux setup podman`; `credmux setup podman --undo` removes it.\n' +
    '# podman, skopeo and buildah ask credmux first (and store their logins there), then the helpers set before.\n' +
    `credential-helpers = [${wanted.map(tomlString).join(', ')}]\n`;
  const spec: FileSpec<null> = {
    path: file,
    newMode: 0o644,
    async apply(base) {
      return { content: needed ? content : base, owned: null };
    },
    async revert(current) {
      // The whole file is credmux's; one that no longer names credmux first is the person's now.
      return current !== null && current.includes(`credential-helpers = [${tomlString(DOCKER_HELPER_NAME)}`) ? null : current;
    },
  };
  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    notes.push(
      `podman, skopeo and buildah ask docker-credential-${DOCKER_HELPER_NAME} first for every registry, then ${before.helpers.join(', ')}` +
        `${before.from ? ` (as ${before.from} set)` : ''}: \`podman login\` and \`skopeo login\` store through credmux, not into auth.json.`,
    );
    notes.push('Logins already in auth.json stay there: credmux doctor lists those for hosts credmux serves.');
    for (const f of before.unreadable) warnings.push(`${f} is not valid TOML, and podman, skopeo and buildah refuse it too: fix it.`);
    const onPath = dockerHelperOnPath(env);
    const problem = onPath.problem?.replace('docker finds credential helpers', 'podman, skopeo and buildah find credential helpers');
    // A helper they cannot run fails every pull, public images included (unlike docker's per-host credHelpers).
    if (onPath.problem && !onPath.found && !opts.dryRun) {
      throw new CredmuxError(
        'bad-request',
        `not set up: docker-credential-${DOCKER_HELPER_NAME} is not on PATH, and with credmux as their first credential helper, ` +
          `podman, skopeo and buildah would fail on every registry. First ${onPath.problem.replace(/^.*To fix it, /s, '')}\n` +
          'then run credmux setup podman again',
      );
    }
    if (problem) warnings.push(problem);
  }
  return { files: [spec], links: [], notes, warnings };
}
