// The environment a rule's source reads when a daemon answers a helper: the daemon's own, with the
// caller's values for the variables the rule reads. Merged environments are kept by the variables read
// and the caller's values for them: a daemon's callers keep sending the same few, and copying the
// environment (tens of variables) per request is most of an env rule's answer. Sources only read an
// environment, and the one an engine serves is fixed when it opens. In memory only, like the
// credentials they lead to; a few, as few callers' environments differ.
import type { Rule } from '../model/rule.js';
import { CredmuxError } from '../model/types.js';
import type { Env } from '../platform/paths.js';
import { ruleEnvNames, type CallerEnv } from '../sources/env-names.js';

/** Merged caller environments kept before they are all dropped. */
export const MERGED_ENVS = 64;

export class CallerEnvs {
  private readonly merged = new Map<string, { values: (string | null)[]; env: Env }[]>();
  private count = 0;

  constructor(
    private readonly base: Env,
    private readonly limit = MERGED_ENVS,
  ) {}

  /** The environment `rule`'s source reads: the caller's values for its variables, when a caller sent them. */
  for(rule: Rule, callerEnv: CallerEnv | undefined): Env {
    const { names, key } = ruleEnvNames(rule);
    if (!callerEnv || names.length === 0) return this.base;
    for (const name of names) {
      // A client that did not know this rule's variables (its list was stale) must not be answered
      // with the daemon's own values: it resolves in process instead.
      if (!Object.hasOwn(callerEnv, name)) throw new CredmuxError('caller-env', `the request did not carry $${name}, which rule "${rule.id}" reads`);
    }
    let merged = this.merged.get(key);
    for (const m of merged ?? []) if (sameValues(m.values, names, callerEnv)) return m.env;
    const values = names.map((name) => callerEnv[name] ?? null);
    const env: Env = { ...this.base };
    names.forEach((name, i) => {
      const v = values[i];
      if (v === null || v === undefined) delete env[name];
      else env[name] = v;
    });
    // Frozen: shared by every request from callers with these values (and so hashed once by the token cache).
    Object.freeze(env);
    if (this.count >= this.limit) {
      this.merged.clear();
      this.count = 0;
      merged = undefined;
    }
    if (!merged) this.merged.set(key, (merged = []));
    merged.push({ values, env });
    this.count++;
    return env;
  }
}

function sameValues(values: readonly (string | null)[], names: readonly string[], callerEnv: CallerEnv): boolean {
  for (let i = 0; i < names.length; i++) if (values[i] !== (callerEnv[names[i]!] ?? null)) return false;
  return true;
}
