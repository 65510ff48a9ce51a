// What setup wires: every URL pattern credmux can answer for, from the config's rules and from the
// stored credentials (which are rules too). Tools are wired per host, so these are the hosts to name.
import { compileRules, loadConfig } from '../../engine/config.js';
import { openEngine } from '../../engine/open.js';
import type { Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import { formatPattern, parsePattern, type Pattern } from '../../model/url.js';

export interface Target {
  pattern: Pattern;
  /** For messages: `rule <id>` or `stored <url> (user)`. */
  origin: string;
}

export async function collectTargets(env: Env): Promise<Target[]> {
  const loaded = loadConfig(env);
  const targets: Target[] = compileRules(loaded.config, loaded.path).map((r) => ({ pattern: r.pattern, origin: `rule ${r.id}` }));
  const engine = await openEngine(env);
  const listed = await engine.handle({ op: 'list' });
  if (listed.op === 'error') throw new CredmuxError(listed.error.code, listed.error.message);
  if (listed.op === 'list') {
    for (const e of listed.entries) {
      try {
        targets.push({ pattern: parsePattern(e.url), origin: `stored ${e.url}${e.username ? ` (${e.username})` : ''}` });
      } catch {
        /* an entry the engine itself cannot match is not worth wiring */
      }
    }
  }
  // One per pattern, in a stable order, so the files setup writes do not depend on store order.
  const seen = new Map<string, Target>();
  for (const t of targets) if (!seen.has(formatPattern(t.pattern))) seen.set(formatPattern(t.pattern), t);
  return [...seen.values()].sort((a, b) => formatPattern(a.pattern).localeCompare(formatPattern(b.pattern)));
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
