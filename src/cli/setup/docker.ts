// `credmux setup docker`: `"credHelpers": {"<registry>": "credmux"}` in $DOCKER_CONFIG/config.json (or
// ~/.docker/config.json) for each exact registry host. credHelpers, not credsStore: skopeo/podman ignore
// credsStore (docs/protocols.md §3.4), and a credsStore would route every registry to credmux. Docker looks
// `docker-credential-credmux` up on PATH, so setup checks that it resolves and says how otherwise.
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { CredmuxError, DOCKER_HUB_HOSTS, DOCKER_HUB_KEY } from '../../model/types.js';
import { formatPattern } from '../../model/url.js';
import { binDir, helperPath, shq } from './common.js';
import { sameFile, whichOnPath } from './exec.js';
import { hostPort, type Target } from './targets.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

export const DOCKER_HELPER_NAME = 'credmux';

/** docker CLI keys Docker Hub as `https://index.docker.io/v1/`; containers/image asks for `docker.io` / `index.docker.io`. */
const DOCKER_HUB_KEYS = [DOCKER_HUB_KEY, 'docker.io', 'index.docker.io'];

export function dockerConfigPath(env: Env): string {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  return join(dir, 'config.json');
}

/** The credHelpers keys that make docker and containers/image ask credmux for this pattern. */
export function dockerKeys(t: Target): string[] {
  if (DOCKER_HUB_HOSTS.has(t.pattern.host)) return DOCKER_HUB_KEYS;
  return [hostPort(t.pattern)];
}

interface Owned {
  createdCredHelpers: boolean;
  /** Each key setup set, and its value before (null: absent). */
  prev: Record<string, string | null>;
}

type Json = Record<string, unknown>;

function parseConfig(text: string | null, file: string): Json {
  if (text === null || text.trim() === '') return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CredmuxError('bad-request', `${file} is not valid JSON (${(e as Error).message}); fix it, then run credmux setup docker again`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new CredmuxError('bad-request', `${file} is not a JSON object; fix it first`);
  const helpers = (data as Json).credHelpers;
  if (helpers !== undefined && (typeof helpers !== 'object' || helpers === null || Array.isArray(helpers))) {
    throw new CredmuxError('bad-request', `${file}: "credHelpers" is not an object; fix it first`);
  }
  return data as Json;
}

/** Keeps the file's own indentation (docker writes tabs; people often write two spaces) and final newline. */
function serialize(obj: Json, like: string | null): string {
  const indent = /\n([ \t]+)"/.exec(like ?? '')?.[1] ?? '  ';
  const newline = like === null || like.trim() === '' || like.endsWith('\n');
  return JSON.stringify(obj, null, indent) + (newline ? '\n' : '');
}

export function planDocker(env: Env, targets: Target[] | null, opts: SetupOptions): ToolPlan {
  const file = dockerConfigPath(env);
  const keys = new Set<string>();
  const wildcards: string[] = [];
  for (const t of targets ?? []) {
    if (t.pattern.wildcard) wildcards.push(`${formatPattern(t.pattern)} (${t.origin})`);
    else for (const k of dockerKeys(t)) keys.add(k);
  }
  const wanted = [...keys].sort();

  const spec: FileSpec<Owned> = {
    path: file,
    newMode: 0o600,
    dirMode: 0o700,
    async apply(base) {
      const obj = parseConfig(base, file);
      const owned: Owned = { createdCredHelpers: obj.credHelpers === undefined, prev: {} };
      for (const key of wanted) {
        const helpers = (obj.credHelpers ?? {}) as Record<string, unknown>;
        if (helpers[key] === DOCKER_HELPER_NAME) continue;
        owned.prev[key] = typeof helpers[key] === 'string' ? (helpers[key] as string) : null;
        obj.credHelpers = { ...helpers, [key]: DOCKER_HELPER_NAME };
      }
      if (Object.keys(owned.prev).length === 0) return { content: base, owned: { createdCredHelpers: false, prev: {} } };
      return { content: serialize(obj, base), owned };
    },
    async revert(current, owned) {
      if (current === null) return null;
      let obj: Json;
      try {
        obj = parseConfig(current, file);
      } catch {
        return current; // not ours to repair
      }
      const helpers = { ...((obj.credHelpers ?? {}) as Record<string, unknown>) };
      let changed = false;
      for (const [key, was] of Object.entries(owned.prev)) {
        if (helpers[key] !== DOCKER_HELPER_NAME) continue;
        changed = true;
        if (was === null) delete helpers[key];
        else helpers[key] = was;
      }
      if (!changed) return current;
      if (owned.createdCredHelpers && Object.keys(helpers).length === 0) delete obj.credHelpers;
      else obj.credHelpers = helpers;
      return serialize(obj, current);
    },
  };

  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    if (wanted.length) notes.push(`docker, skopeo and podman ask docker-credential-${DOCKER_HELPER_NAME} for: ${wanted.join(', ')}`);
    else if (!wildcards.length)
      warnings.push(
        'Nothing to wire: no rule, and no stored credential for docker. Store one first (credmux login HOST …), then run credmux setup docker again.',
      );
    if (wildcards.length) {
      warnings.push(
        `Docker has no wildcard registries, so these cannot be wired: ${wildcards.join(', ')}. ` +
          'Add each registry host explicitly, e.g.: credmux login REGISTRY.example.com --username USER --password-stdin && credmux setup docker',
      );
    }
    if (wanted.length) notes.push('After `credmux login` for a new registry, run `credmux setup docker` again to add it.');
    const onPath = dockerHelperOnPath(env);
    if (onPath.problem) warnings.push(onPath.problem);
  }
  return { files: [spec], links: [], notes, warnings };
}

/** Does `docker-credential-credmux` resolve on PATH to this credmux? If not, the exact commands that fix it. */
export function dockerHelperOnPath(env: Env): { found?: string; problem?: string } {
  const name = `docker-credential-${DOCKER_HELPER_NAME}`;
  const ours = helperPath(env, name as 'docker-credential-credmux');
  const found = whichOnPath(name, env.PATH);
  if (found && sameFile(found, ours)) return { found };
  const linkDir = pathDirUnderHome(env) ?? join(env.HOME || homedir(), '.local', 'bin');
  const fix =
    `link it into a directory on your PATH:\n    mkdir -p ${shq(linkDir)} && ln -sf ${shq(ours)} ${shq(join(linkDir, name))}\n` +
    `  or put credmux's bin directory first on PATH (in your shell profile):\n    export PATH=${shq(binDir(env))}:"$PATH"`;
  if (found) return { found, problem: `${name} on your PATH is ${found}, not this credmux (${ours}); docker would run that one. To fix it, ${fix}` };
  return { problem: `docker finds credential helpers on PATH, and ${name} is not on it. To fix it, ${fix}` };
}

/** A directory of the user's own that is already on PATH (e.g. ~/.local/bin, ~/bin), to link helpers into. */
function pathDirUnderHome(env: Env): string | undefined {
  const home = env.HOME;
  if (!home || home === '/') return undefined;
  return (env.PATH ?? '').split(':').find((d) => d.startsWith(`${home}/`) && d.endsWith('/bin') && isDir(d));
}

function isDir(d: string): boolean {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}
