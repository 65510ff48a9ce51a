// What setup wires: every URL pattern credmux can answer for, from the config's rules and from the
// stored credentials (which are rules too). Tools are wired per host, so these are the hosts to name.
//
// A host is wired into a tool only when that tool can use it (issue 17): a config rule serves every
// tool; a stored credential serves the tools it was stored for (StoredEntry.protocols: the protocol a
// helper stored it through, or what `credmux login --for` named; every tool without either). An API
// key or refresh token stored as a token rule's input is never served, so never wired.
import { compileRules, loadConfig } from '../../engine/config.js';
import { openEngine } from '../../engine/open.js';
import type { Rule } from '../../model/rule.js';
import type { Env } from '../../platform/paths.js';
import { CredmuxError, PROTOCOL_NAMES, type ProtocolName, type StoredEntry } from '../../model/types.js';
import { formatPattern, parsePattern, type Pattern } from '../../model/url.js';
import { sourceFor } from '../../sources/index.js';
import { hiddenInputs } from '../../sources/refreshing.js';

export interface Target {
  pattern: Pattern;
  /** For messages: `rule <id>` or `stored <url> (user)`. */
  origin: string;
  /** The protocols whose tools may be wired for it; undefined: every one. */
  protocols?: readonly ProtocolName[];
}

/** The targets of these rules and stored entries, token inputs left out, sorted and one per pattern and origin kind. */
export function targetsFrom(rules: readonly Rule[], entries: readonly StoredEntry[]): Target[] {
  const targets: Target[] = rules.map((r) => ({ pattern: r.pattern, origin: `rule ${r.id}` }));
  let hidden = new Set<StoredEntry>();
  try {
    hidden = hiddenInputs(rules, entries, sourceFor);
  } catch {
    /* a rule whose inputs cannot be worked out hides nothing */
  }
  for (const e of entries) {
    if (hidden.has(e)) continue;
    try {
      targets.push({
        pattern: parsePattern(e.url),
        origin: `stored ${e.url}${e.username ? ` (${e.username})` : ''}`,
        ...(e.protocols ? { protocols: e.protocols } : {}),
      });
    } catch {
      /* an entry the engine itself cannot match is not worth wiring */
    }
  }
  return targets.sort((a, b) => formatPattern(a.pattern).localeCompare(formatPattern(b.pattern)));
}

/** The targets a tool speaking `protocol` is wired for, one per pattern, in a stable order. */
export function targetsFor(targets: readonly Target[], protocol: ProtocolName): Target[] {
  // Stable order and one per pattern, so the files setup writes do not depend on store order.
  const seen = new Map<string, Target>();
  for (const t of targets) {
    if (t.protocols && !t.protocols.includes(protocol)) continue;
    const key = formatPattern(t.pattern);
    if (!seen.has(key)) seen.set(key, t);
  }
  return [...seen.values()];
}

/** The targets that are for other tools only (for the note saying what was left out, and why). */
export function targetsNotFor(targets: readonly Target[], protocol: ProtocolName): Target[] {
  const wired = new Set(targetsFor(targets, protocol).map((t) => formatPattern(t.pattern)));
  const seen = new Map<string, Target>();
  for (const t of targets) {
    const key = formatPattern(t.pattern);
    if (!wired.has(key) && !seen.has(key)) seen.set(key, t);
  }
  return [...seen.values()];
}

export async function collectTargets(env: Env): Promise<Target[]> {
  const loaded = loadConfig(env);
  const engine = await openEngine(env);
  return targetsFrom(compileRules(loaded.config, loaded.path), await engine.store.list());
}

const DEFAULT_PORT = { https: 443, http: 80 } as const;

/** `host[:port]` as docker and keyring name a server: the port only when it is not the scheme's default. */
export function hostPort(p: Pattern): string {
  return p.port === DEFAULT_PORT[p.scheme] ? p.host : `${p.host}:${p.port}`;
}

/** True for names Bazel cannot scope (and wildcards cannot cover): IP literals and single labels like localhost. */
export function isUnscopableHost(host: string): boolean {
  return host.startsWith('[') || /^[0-9.]+$/.test(host) || !host.includes('.');
}

/** How the tools of a protocol are called in messages. */
export const TOOLS_OF: Record<ProtocolName, string> = {
  bazel: 'bazel',
  git: 'git',
  docker: 'docker/podman',
  keyring: 'pip/uv',
  terraform: 'terraform/tofu',
  go: 'go',
  cargo: 'cargo',
  kubectl: 'kubectl',
  kubelet: 'kubelet',
};

/**
 * The names `credmux login --for` takes: each tool a person may name, the protocol it asks credmux
 * through, and the `credmux setup` that wires it.
 */
export const FOR_NAMES = {
  bazel: { protocol: 'bazel', setup: ['bazel'] },
  git: { protocol: 'git', setup: ['git'] },
  docker: { protocol: 'docker', setup: ['docker'] },
  podman: { protocol: 'docker', setup: ['podman'] },
  skopeo: { protocol: 'docker', setup: ['podman'] },
  buildah: { protocol: 'docker', setup: ['podman'] },
  pip: { protocol: 'keyring', setup: ['pip'] },
  uv: { protocol: 'keyring', setup: ['uv'] },
  keyring: { protocol: 'keyring', setup: ['pip', 'uv'] },
  terraform: { protocol: 'terraform', setup: ['terraform'] },
  tofu: { protocol: 'terraform', setup: ['terraform'] },
  opentofu: { protocol: 'terraform', setup: ['terraform'] },
  go: { protocol: 'go', setup: ['go'] },
  cargo: { protocol: 'cargo', setup: ['cargo'] },
  kubectl: { protocol: 'kubectl', setup: ['kubectl'] },
} as const satisfies Record<string, { protocol: ProtocolName; setup: readonly string[] }>;
export type ForName = keyof typeof FOR_NAMES;

/** `--for docker,git` (repeatable) → the protocols and setups named; undefined when nothing was named. */
export function parseFor(values: readonly string[] | undefined): { protocols: ProtocolName[]; setups: string[] } | undefined {
  const names = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase());
  if (names.length === 0) return undefined;
  const protocols = new Set<ProtocolName>();
  const setups = new Set<string>();
  for (const n of names) {
    if (!Object.hasOwn(FOR_NAMES, n)) {
      throw new CredmuxError(
        'bad-request',
        `--for ${JSON.stringify(n.slice(0, 40))}: not a tool credmux serves; name some of ${Object.keys(FOR_NAMES).join(', ')} (e.g. --for docker,git)`,
      );
    }
    const f = FOR_NAMES[n as ForName];
    protocols.add(f.protocol);
    for (const s of f.setup) setups.add(s);
  }
  return { protocols: PROTOCOL_NAMES.filter((p) => protocols.has(p)), setups: [...setups] };
}
