// doctor: is each tool wired to THIS credmux, and would the helper it runs actually start? Reads each
// tool's own config the way the tool does (git through git itself), and resolves helpers the way the
// tool will: an absolute path must be an executable file, a bare name must be found on PATH.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { matches } from '../../model/match.js';
import { DOCKER_HUB_URL, isDockerHub, registryHost } from '../../model/types.js';
import { formatPattern, parseRequest, redactUrl } from '../../model/url.js';
import { BAZEL_BEGIN, BAZEL_END, bazelHelpers, bazelrcPath } from '../setup/bazel.js';
import { helperPath, shq } from '../setup/common.js';
import { DOCKER_HELPER_NAME, dockerConfigPath, dockerHelperOnPath, dockerKeys } from '../setup/docker.js';
import { childEnv, execArgv, isExecutableFile, sameFile, whichOnPath } from '../setup/exec.js';
import { gitUrls } from '../setup/git.js';
import { EXEC_API_VERSION, KUBE_HELPER, kubeconfigFiles, mergedKubeconfig } from '../setup/kubectl.js';
import { keyringDir, keyringOnPath } from '../setup/keyring-dir.js';
import { pipConfigPath, pipKeyringProvider } from '../setup/pip.js';
import { effectiveHelpers, podmanDropInPath } from '../setup/podman.js';
import { isUnscopableHost, targetsFor, type Target } from '../setup/targets.js';
import { parseTomlValue } from '../../formats/toml.js';
import { uvConfigPath } from '../setup/uv.js';
import { checkCargo } from './cargo.js';
import type { Check } from './check.js';
import { checkTerraform } from './terraform.js';
import { goCheck } from './go.js';

function read(path: string): { text: string | null; error?: string } {
  try {
    return { text: readFileSync(path, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { text: null };
    return { text: null, error: (e as Error).message };
  }
}

const tool = (area: string, status: Check['status'], summary: string, extra: Partial<Check> = {}): Check => ({
  section: 'tools',
  area,
  status,
  summary,
  ...extra,
});

export async function checkTools(env: Env, targets: Target[]): Promise<Check[]> {
  // Each tool is checked for the hosts it is wired for (src/cli/setup/targets.ts).
  return [
    bazel(env, targetsFor(targets, 'bazel')),
    await git(env, targetsFor(targets, 'git')),
    docker(env, targetsFor(targets, 'docker')),
    podman(env),
    ...plaintextAuths(env, targets),
    pip(env),
    uv(env),
    ...keyringCommand(env),
    ...checkTerraform(env, targets),
    goCheck(env),
    checkCargo(env),
    kubectl(env, targets),
  ];
}

/**
 * Whose `keyring` PATH finds. Ours answers pip and uv, but also every other program that runs
 * `keyring` in this PATH, which then no longer reaches Python's keyring: worth saying either way.
 */
function keyringCommand(env: Env): Check[] {
  const found = whichOnPath('keyring', env.PATH);
  if (!found) return [];
  const ours = helperPath(env, 'keyring');
  if (!sameFile(found, ours)) return [tool('keyring', 'info', `\`keyring\` on PATH is ${found}, not credmux's`)];
  const own = dirname(found) === keyringDir(env) || dirname(found) === dirname(ours);
  return [
    tool(
      'keyring',
      own ? 'info' : 'warn',
      `\`keyring\` on PATH is credmux's (${found}): pip, uv and any other program that runs \`keyring\` with this PATH ask credmux, not Python's keyring`,
      own
        ? {}
        : {
            details: [`${dirname(found)} holds more than credmux's keyring entry; credmux setup pip|uv make ${keyringDir(env)}, which holds only it`],
            fix: `put ${keyringDir(env)} on PATH instead of a link in ${dirname(found)}`,
          },
    ),
  ];
}

/** Where a helper path from a tool's config leads: the executable, or why it would not start. */
function resolveHelper(path: string, env: Env, relativeTo?: string): { file?: string; problem?: string } {
  if (path.startsWith('%workspace%/') && relativeTo) path = join(relativeTo, path.slice('%workspace%/'.length));
  if (isAbsolute(path)) return isExecutableFile(path) ? { file: path } : { problem: `${path} does not exist or is not executable` };
  const found = whichOnPath(path, env.PATH);
  return found ? { file: found } : { problem: `${path} is not found on PATH` };
}

function bazel(env: Env, targets: Target[]): Check {
  const file = bazelrcPath(env);
  const ours = helperPath(env, 'credmux-bazel');
  const { text, error } = read(file);
  if (error) return tool('bazel', 'error', `cannot read ${file}: ${error}`);
  const helpers = text === null ? [] : bazelHelpers(text).filter((h) => basename(h.path) === 'credmux-bazel');
  if (helpers.length === 0) return tool('bazel', 'info', `not wired (no credmux-bazel helper in ${file})`, { fix: 'credmux setup bazel' });
  const broken: string[] = [];
  const foreign: string[] = [];
  // Lines inside credmux's block are rewritten by setup; any other line is the person's to remove.
  const block = blockLines(text ?? '');
  const outside: number[] = [];
  for (const h of helpers) {
    const r = resolveHelper(h.path, env, dirname(file));
    if (r.problem) broken.push(`${file}:${h.line}: ${r.problem} (Bazel fails: "Credential helper ${h.path} is not executable")`);
    else if (!sameFile(r.file!, ours)) foreign.push(`${file}:${h.line}: ${h.path} is another credmux, not this one (${ours})`);
    else continue;
    if (!block.has(h.line)) outside.push(h.line);
  }
  const fix = outside.length
    ? `delete line${outside.length === 1 ? '' : 's'} ${outside.join(', ')} of ${file} (not written by credmux setup), then: credmux setup bazel`
    : "credmux setup bazel   (rewrites its block with this credmux's path)";
  if (broken.length) return tool('bazel', 'error', 'wired to a credmux-bazel that cannot run', { details: broken, fix });
  if (foreign.length) return tool('bazel', 'warn', 'wired to another credmux installation', { details: foreign, fix });
  const scopes = new Set(helpers.map((h) => h.scope));
  const unscoped = scopes.has(null);
  const missing = targets
    .filter((t) => !isUnscopableHost(t.pattern.host))
    .map((t) => (t.pattern.wildcard ? `*.${t.pattern.host}` : t.pattern.host))
    .filter((s) => !scopes.has(s) && !unscoped);
  const unscopable = targets.filter((t) => isUnscopableHost(t.pattern.host)).map((t) => formatPattern(t.pattern));
  if (missing.length)
    return tool('bazel', 'warn', `wired in ${file}, but not for: ${[...new Set(missing)].join(', ')}`, { fix: 'credmux setup bazel' });
  const note =
    unscopable.length && !unscoped
      ? {
          details: [
            `not served to Bazel (no scope possible for an IP or localhost): ${unscopable.join(', ')}; add an unscoped helper with: credmux setup bazel --unscoped`,
          ],
        }
      : {};
  return tool('bazel', 'ok', `wired in ${file} to ${ours}${unscoped ? ' (unscoped too)' : ''}`, note);
}

/** 1-based line numbers inside credmux's marked block. */
function blockLines(text: string): Set<number> {
  const out = new Set<number>();
  let inside = false;
  text.split('\n').forEach((l, i) => {
    if (l.trim() === BAZEL_BEGIN) inside = true;
    else if (l.trim() === BAZEL_END) inside = false;
    else if (inside) out.add(i + 1);
  });
  return out;
}

async function git(env: Env, targets: Target[]): Promise<Check> {
  const r = await execArgv('git', ['config', '--global', '--null', '--get-regexp', '^credential\\.'], { env: childEnv(env), timeoutMs: 5_000 });
  if (r.spawnError) return tool('git', 'info', 'git is not installed (not found on PATH)');
  if (r.code !== 0 && r.code !== 1)
    return tool('git', 'error', `git cannot read its global config: ${r.stderr.trim()}`, { fix: 'fix the file git names above' });
  // `key\nvalue\0` per value, in file order; the URL subsection keeps its case.
  const helpers = new Map<string, string[]>();
  for (const item of r.stdout.split('\0').slice(0, -1)) {
    const nl = item.indexOf('\n');
    const key = nl < 0 ? item : item.slice(0, nl);
    const value = nl < 0 ? '' : item.slice(nl + 1);
    const m = /^credential\.(?:(.*)\.)?helper$/.exec(key);
    if (!m) continue;
    const url = m[1] ?? '';
    if (value === '')
      helpers.set(url, []); // an empty value resets the list
    else helpers.set(url, [...(helpers.get(url) ?? []), value]);
  }
  const ours = helperPath(env, 'git-credential-credmux');
  const broken: string[] = [];
  const foreign: string[] = [];
  const wired = new Set<string>();
  for (const [url, values] of helpers) {
    for (const v of values) {
      const path = gitHelperProgram(v);
      if (!path || !basename(path).startsWith('git-credential-credmux')) continue;
      const res = resolveHelper(path, env);
      const where = url ? `credential.${url}.helper` : 'credential.helper';
      if (res.problem) broken.push(`${where}: ${res.problem}`);
      else if (!sameFile(res.file!, ours)) foreign.push(`${where}: ${path} is another credmux, not this one (${ours})`);
      else wired.add(url);
    }
  }
  if (broken.length)
    return tool('git', 'error', 'wired to a git-credential-credmux that cannot run (git then asks no helper and fails or prompts)', {
      details: broken,
      fix: "credmux setup git   (rewrites the entries with this credmux's path)",
    });
  if (foreign.length && wired.size === 0)
    return tool('git', 'warn', 'wired to another credmux installation', { details: foreign, fix: 'credmux setup git' });
  if (wired.size === 0) return tool('git', 'info', 'not wired (no credmux helper in the global git config)', { fix: 'credmux setup git' });
  const missing = wired.has('') ? [] : targets.flatMap((t) => gitUrls(t.pattern).slice(0, 1)).filter((u) => !wired.has(u));
  if (missing.length) return tool('git', 'warn', `wired, but not for: ${missing.join(', ')}`, { fix: 'credmux setup git' });
  return tool('git', 'ok', `wired to ${ours}${wired.has('') ? ' (for every URL)' : ` for ${wired.size} URL${wired.size === 1 ? '' : 's'}`}`);
}

/** The program a credential.helper value runs (gitcredentials: `!cmd`, an absolute path, or `git credential-<name>`). */
function gitHelperProgram(value: string): string | undefined {
  const v = value.trim();
  const first = (s: string) => (s.startsWith("'") ? s.slice(1, s.indexOf("'", 1) < 0 ? undefined : s.indexOf("'", 1)) : s.split(/\s+/)[0]);
  if (v.startsWith('!')) return first(v.slice(1).trim());
  if (isAbsolute(v)) return first(v);
  const name = first(v);
  return name ? `git-credential-${name}` : undefined;
}

function docker(env: Env, targets: Target[]): Check {
  const file = dockerConfigPath(env);
  const { text, error } = read(file);
  if (error) return tool('docker', 'error', `cannot read ${file}: ${error}`);
  let cfg: { credHelpers?: Record<string, unknown>; credsStore?: unknown } = {};
  if (text !== null && text.trim() !== '') {
    try {
      cfg = JSON.parse(text);
    } catch (e) {
      return tool('docker', 'error', `${file} is not valid JSON (${(e as Error).message}); docker ignores it`, {
        fix: `fix ${file}, then: credmux setup docker`,
      });
    }
  }
  const helpers = cfg.credHelpers && typeof cfg.credHelpers === 'object' ? cfg.credHelpers : {};
  const keys = Object.entries(helpers)
    .filter(([, v]) => v === DOCKER_HELPER_NAME)
    .map(([k]) => k);
  const store = cfg.credsStore === DOCKER_HELPER_NAME;
  if (keys.length === 0 && !store)
    return tool('docker', 'info', `not wired (no "${DOCKER_HELPER_NAME}" in ${file} credHelpers)`, { fix: 'credmux setup docker' });
  const onPath = dockerHelperOnPath(env);
  if (onPath.problem && !onPath.found) {
    return tool(
      'docker',
      'error',
      `wired in ${file}, but docker-credential-${DOCKER_HELPER_NAME} is not on PATH: skopeo fails, docker silently pulls without credentials`,
      {
        fix: onPath.problem.replace(/^.*To fix it, /s, ''),
      },
    );
  }
  if (onPath.problem)
    return tool('docker', 'warn', `wired in ${file}, but PATH finds another docker-credential-${DOCKER_HELPER_NAME}: ${onPath.found}`, {
      fix: onPath.problem.replace(/^.*To fix it, /s, ''),
    });
  const missing = [...new Set(targets.filter((t) => !t.pattern.wildcard).flatMap(dockerKeys))].filter((k) => !keys.includes(k));
  const extra = store ? { details: ['credsStore is credmux too (docker CLI only: skopeo and podman read credHelpers)'] } : {};
  if (missing.length && !store) return tool('docker', 'warn', `wired, but not for: ${missing.join(', ')}`, { fix: 'credmux setup docker', ...extra });
  return tool(
    'docker',
    'ok',
    `wired in ${file} for ${keys.length} registr${keys.length === 1 ? 'y' : 'ies'}; docker-credential-${DOCKER_HELPER_NAME} on PATH is this credmux`,
    extra,
  );
}

function pip(env: Env): Check {
  const { path, hiddenByDevNull } = pipConfigPath(env);
  const { text, error } = read(path);
  if (error) return tool('pip', 'error', `cannot read ${path}: ${error}`);
  const fromFile = hiddenByDevNull || text === null ? undefined : pipKeyringProvider(text);
  const provider = env.PIP_KEYRING_PROVIDER || fromFile?.global;
  const origin = env.PIP_KEYRING_PROVIDER ? 'PIP_KEYRING_PROVIDER' : path;
  if (provider !== 'subprocess') {
    const why = hiddenByDevNull ? `PIP_CONFIG_FILE=/dev/null hides ${path}` : `keyring-provider is ${provider ?? 'not set'} in ${origin}`;
    return tool('pip', 'info', `not wired (${why})`, {
      fix: hiddenByDevNull ? 'unset PIP_CONFIG_FILE, then: credmux setup pip' : 'credmux setup pip',
    });
  }
  const details = (fromFile?.overrides ?? []).map(
    (o) => `[${o.section}] sets keyring-provider = ${o.value}, which wins for pip ${o.section}: remove it from ${path}`,
  );
  const onPath = keyringOnPath(env, 'pip');
  if (onPath.problem) {
    return tool(
      'pip',
      'error',
      `keyring-provider = subprocess (${origin}), but ${onPath.found ? `\`keyring\` on PATH is ${onPath.found}, not credmux` : '`keyring` is not on PATH'}`,
      {
        ...(details.length ? { details } : {}),
        fix: onPath.problem.replace(/^.*To fix it, /s, ''),
      },
    );
  }
  return tool(
    'pip',
    details.length ? 'warn' : 'ok',
    `keyring-provider = subprocess (${origin}); \`keyring\` on PATH is credmux (${onPath.found})`,
    details.length ? { details, fix: `edit ${shq(path)}` } : {},
  );
}

function uv(env: Env): Check {
  const path = uvConfigPath(env);
  const { text, error } = read(path);
  if (error) return tool('uv', 'error', `cannot read ${path}: ${error}`);
  let provider: unknown = env.UV_KEYRING_PROVIDER;
  if (!provider && text !== null) {
    try {
      provider = parseTomlValue(text)['keyring-provider'];
    } catch (e) {
      return tool('uv', 'error', `${path} is not valid TOML (${(e as Error).message}); uv refuses to start`, {
        fix: `fix ${path}, then: credmux setup uv`,
      });
    }
  }
  const origin = env.UV_KEYRING_PROVIDER ? 'UV_KEYRING_PROVIDER' : path;
  if (provider !== 'subprocess')
    return tool('uv', 'info', `not wired (keyring-provider is ${typeof provider === 'string' ? provider : 'not set'} in ${origin})`, {
      fix: 'credmux setup uv',
    });
  const onPath = keyringOnPath(env, 'uv');
  if (onPath.problem) {
    return tool(
      'uv',
      'error',
      `keyring-provider = "subprocess" (${origin}), but ${onPath.found ? `\`keyring\` on PATH is ${onPath.found}, not credmux` : '`keyring` is not on PATH'}`,
      {
        fix: onPath.problem.replace(/^.*To fix it, /s, ''),
      },
    );
  }
  return tool('uv', 'ok', `keyring-provider = "subprocess" (${origin}); \`keyring\` on PATH is credmux (${onPath.found})`);
}

/** podman, skopeo and buildah: is credmux the first credential helper they ask (credential-helpers)? */
function podman(env: Env): Check {
  const ours = podmanDropInPath(env);
  const { helpers, from, unreadable } = effectiveHelpers(env);
  const where = from ? `credential-helpers in ${from}` : 'no credential-helpers set';
  if (unreadable.length) {
    return tool('podman', 'error', `${unreadable.join(', ')} is not valid TOML: podman, skopeo and buildah refuse to run`, {
      fix: `fix ${unreadable.join(', ')}, then: credmux setup podman`,
    });
  }
  const at = helpers.indexOf(DOCKER_HELPER_NAME);
  if (at < 0) return tool('podman', 'info', `not wired (${where}: ${helpers.join(', ')})`, { fix: 'credmux setup podman' });
  const onPath = dockerHelperOnPath(env);
  if (onPath.problem && !onPath.found) {
    return tool('podman', 'error', `wired (${where}), but docker-credential-${DOCKER_HELPER_NAME} is not on PATH: podman and skopeo fail`, {
      fix: onPath.problem.replace(/^.*To fix it, /s, ''),
    });
  }
  if (onPath.problem) {
    return tool('podman', 'warn', `wired (${where}), but PATH finds another docker-credential-${DOCKER_HELPER_NAME}: ${onPath.found}`, {
      fix: onPath.problem.replace(/^.*To fix it, /s, ''),
    });
  }
  if (helpers.slice(0, at).includes('containers-auth.json')) {
    return tool(
      'podman',
      'warn',
      `credmux comes after containers-auth.json (${where}): a podman or skopeo login writes its password into auth.json`,
      {
        fix:
          from === ours
            ? 'credmux setup podman'
            : `put "${DOCKER_HELPER_NAME}" first in ${from}, or remove credential-helpers there and run: credmux setup podman`,
      },
    );
  }
  return tool(
    'podman',
    'ok',
    `podman, skopeo and buildah ask credmux first (${where}); docker-credential-${DOCKER_HELPER_NAME} on PATH is this credmux`,
  );
}

/** The auth files docker, podman, skopeo and buildah read, in their order (docs/protocols.md §3.4). */
function authFiles(env: Env): string[] {
  const home = env.HOME || homedir();
  // containers/image: $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/$UID/auth.json.
  const runtime = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'containers') : join('/run/containers', String(process.getuid?.() ?? 0));
  const config = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config');
  const files = [
    ...(env.REGISTRY_AUTH_FILE ? [env.REGISTRY_AUTH_FILE] : []),
    join(runtime, 'auth.json'),
    join(config, 'containers', 'auth.json'),
    dockerConfigPath(env),
  ];
  return [...new Set(files)];
}

/**
 * Passwords kept in plain text (`auths` with `auth`, `password` or a token) in docker's and containers'
 * auth files, for registries credmux serves anyway: a copy nothing needs, readable by whatever reads the
 * file. Names files and registries only, never what is in them.
 */
function plaintextAuths(env: Env, targets: Target[]): Check[] {
  const found: string[] = [];
  const files = new Set<string>();
  for (const file of authFiles(env)) {
    const { text } = read(file);
    if (text === null) continue;
    let auths: unknown;
    try {
      auths = (JSON.parse(text) as { auths?: unknown }).auths;
    } catch {
      continue; // the docker check reports a broken config.json; containers tools refuse a broken auth.json
    }
    if (typeof auths !== 'object' || auths === null) continue;
    for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
      if (typeof entry !== 'object' || entry === null) continue;
      const e = entry as Record<string, unknown>;
      if (!['auth', 'password', 'identitytoken', 'registrytoken'].some((k) => typeof e[k] === 'string' && e[k] !== '')) continue;
      const url = isDockerHub(key) ? DOCKER_HUB_URL : registryHost(key);
      if (!servedBy(targets, url)) continue;
      found.push(`${file}: "${key}"`);
      files.add(file);
    }
  }
  if (found.length === 0) return [];
  return [
    tool('plaintext', 'warn', `${found.length} password${found.length === 1 ? '' : 's'} in plain text for registries credmux serves anyway`, {
      details: found,
      fix:
        `delete those entries from "auths" in ${[...files].join(', ')} (credmux keeps its own copy; ` +
        '`docker logout`/`podman logout` would erase that one too)\nthen, so that the next login does not write them again: credmux setup docker / credmux setup podman',
    }),
  ];
}

/** Would credmux answer a request for this registry (any rule or stored credential matches)? */
function servedBy(targets: Target[], url: string): boolean {
  let request;
  try {
    request = parseRequest(url);
  } catch {
    return false;
  }
  return targets.some((t) => matches(t.pattern, request));
}

/**
 * kubectl: every kubeconfig context (KUBECONFIG's merged view, first file wins) whose user runs
 * credmux-kube, and whether that would work: the executable is this credmux, the exec section speaks
 * v1 or v1beta1, kubectl hands over the cluster's server (provideClusterInfo, or --url), and credmux
 * has a credential for that server.
 */
function kubectl(env: Env, targets: Target[]): Check {
  let view: ReturnType<typeof mergedKubeconfig>;
  try {
    view = mergedKubeconfig(env);
  } catch (e) {
    return tool('kubectl', 'error', (e as Error).message, { fix: 'fix that file, then: credmux doctor' });
  }
  const ours = helperPath(env, KUBE_HELPER);
  const errors: string[] = [];
  const warnings: string[] = [];
  const wired: string[] = [];
  for (const name of view.contextNames) {
    const context = view.first('contexts', name)!.value;
    const userName = typeof context.user === 'string' ? context.user : undefined;
    const exec = userName === undefined ? undefined : view.first('users', userName)?.value.exec;
    if (typeof exec !== 'object' || exec === null) continue;
    const e = exec as Record<string, unknown>;
    if (typeof e.command !== 'string' || basename(e.command) !== KUBE_HELPER) continue;
    wired.push(name);
    const where = `context ${name} (user ${userName})`;
    const r = resolveHelper(e.command, env);
    if (r.problem) errors.push(`${where}: ${r.problem} (kubectl fails: "exec: executable ${e.command} not found")`);
    else if (!sameFile(r.file!, ours)) warnings.push(`${where}: ${e.command} is another credmux, not this one (${ours})`);
    if (e.apiVersion !== EXEC_API_VERSION && e.apiVersion !== 'client.authentication.k8s.io/v1beta1') {
      errors.push(`${where}: apiVersion ${JSON.stringify(e.apiVersion ?? null)}; kubectl 1.24+ needs ${EXEC_API_VERSION}`);
    }
    const hasUrl = Array.isArray(e.args) && e.args.some((a) => typeof a === 'string' && a.startsWith('--url'));
    if (e.provideClusterInfo !== true && !hasUrl) {
      errors.push(`${where}: provideClusterInfo is not true, so ${KUBE_HELPER} is not told which server to answer for`);
    }
    const cluster = typeof context.cluster === 'string' ? view.first('clusters', context.cluster)?.value : undefined;
    const server = typeof cluster?.server === 'string' ? cluster.server : undefined;
    if (server && !servedBy(targets, server))
      warnings.push(`${where}: credmux has no credential for ${redactUrl(server)} (credmux login ${redactUrl(server)} --token-stdin)`);
  }
  const files = view.files.map((f) => f.path).join(', ') || kubeconfigFiles(env).join(', ');
  if (wired.length === 0)
    return tool('kubectl', 'info', `not wired (no context in ${files} runs ${KUBE_HELPER})`, { fix: 'credmux setup kubectl --context NAME' });
  const fix = "credmux setup kubectl --context NAME   (rewrites credmux's user for that context)";
  if (errors.length) return tool('kubectl', 'error', `a context wired to ${KUBE_HELPER} cannot work`, { details: [...errors, ...warnings], fix });
  if (warnings.length) return tool('kubectl', 'warn', `wired for ${wired.join(', ')}, with problems`, { details: warnings, fix });
  return tool('kubectl', 'ok', `context${wired.length === 1 ? '' : 's'} ${wired.join(', ')} ask${wired.length === 1 ? 's' : ''} ${ours} for a token`);
}
