// netrc read-through: the file is read at request time, never copied into the store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import type { Env } from '../core/paths.js';
import type { CredentialSource } from './types.js';

export interface NetrcMachine {
  machine: string | null; // null for `default`
  login?: string;
  password?: string;
}

export function netrcPath(env: Env, file?: string): string {
  return file ?? env.NETRC ?? join(env.HOME || homedir(), '.netrc');
}

/** Parses the netrc token stream (machine/default/login/password/account/macdef). */
export function parseNetrc(text: string): NetrcMachine[] {
  const tokens = text.split(/\s+/).filter(Boolean);
  const machines: NetrcMachine[] = [];
  let current: NetrcMachine | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === 'machine') machines.push((current = { machine: (tokens[++i] ?? '').toLowerCase() }));
    else if (t === 'default') machines.push((current = { machine: null }));
    else if (t === 'login' && current) current.login = tokens[++i];
    else if (t === 'password' && current) current.password = tokens[++i];
    else if (t === 'account') i++;
    else if (t === 'macdef') break; // macros run to a blank line; nothing after them is credentials we use
  }
  return machines;
}

export const netrcSource: CredentialSource = {
  async fetch(rule, { env, host }) {
    if (rule.source.type !== 'netrc') return null;
    let text: string;
    try {
      text = readFileSync(netrcPath(env, rule.source.file), 'utf8');
    } catch {
      return null;
    }
    return lookupNetrc(parseNetrc(text), host, rule.username);
  },
};

/** netrc keys by host only; an exact machine wins over `default`. */
export function lookupNetrc(machines: NetrcMachine[], host: string, username?: string) {
  const bare = host.replace(/^\[|\]$/g, '');
  const pick = (m: NetrcMachine) => m.password !== undefined && (!username || m.login === username);
  const hit = machines.find((m) => m.machine === bare && pick(m)) ?? machines.find((m) => m.machine === null && pick(m));
  return hit ? { kind: 'basic' as const, username: hit.login ?? '', secret: hit.password ?? '' } : null;
}
