// netrc read-through: the file is read at request time, never copied into the store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import type { Env } from '../platform/paths.js';
import { CredmuxError } from '../model/types.js';
import type { CredentialSource } from './types.js';

export interface NetrcMachine {
  machine: string | null; // null for `default`
  login?: string;
  password?: string;
  /** Where the entry starts, for messages. */
  line: number;
}

export function netrcPath(env: Env, file?: string): string {
  return file ?? env.NETRC ?? join(env.HOME || homedir(), '.netrc');
}

/** A malformed netrc file; the message names the line, never a value. */
export class NetrcFormatError extends Error {
  override name = 'NetrcFormatError';
}

/**
 * Parses netrc (curl/inetutils syntax: `machine`/`default`/`login`/`password`/`account`/`macdef`,
 * curl's double-quoted words, `#` comments). Used by the read-through source and by `credmux import`.
 */
export function parseNetrc(text: string): NetrcMachine[] {
  const entries: NetrcMachine[] = [];
  let cur: NetrcMachine | undefined;
  const tokens = tokenize(text);
  for (let i = 0; i < tokens.length; i++) {
    const { value: t, line } = tokens[i]!;
    const arg = () => {
      const next = tokens[++i];
      if (!next) throw new NetrcFormatError(`line ${line}: "${t}" needs a value`);
      return next.value;
    };
    if (t === 'machine') entries.push((cur = { machine: arg().toLowerCase(), line }));
    else if (t === 'default') entries.push((cur = { machine: null, line }));
    else if (t === 'login' || t === 'password' || t === 'account') {
      const v = arg();
      if (!cur) throw new NetrcFormatError(`line ${line}: "${t}" before any "machine"`);
      if (t === 'login') cur.login = v;
      else if (t === 'password') cur.password = v;
    } else if (t === 'macdef') {
      arg(); // the macro body runs to the next empty line; the tokenizer already dropped it
    } else {
      throw new NetrcFormatError(`line ${line}: unexpected word (expected machine, default, login, password, account or macdef)`);
    }
  }
  return entries;
}

export const netrcSource: CredentialSource = {
  async fetch(rule, { env, host }) {
    if (rule.source.type !== 'netrc') return null;
    const path = netrcPath(env, rule.source.file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return null;
    }
    try {
      return lookupNetrc(parseNetrc(text), host, rule.username);
    } catch (e) {
      if (e instanceof NetrcFormatError) throw new CredmuxError('source', `rule "${rule.id}": ${path} ${e.message}`);
      throw e;
    }
  },
};

/** netrc keys by host only; an exact machine wins over `default`. */
export function lookupNetrc(machines: NetrcMachine[], host: string, username?: string) {
  const bare = host.replace(/^\[|\]$/g, '');
  const pick = (m: NetrcMachine) => m.password !== undefined && (!username || m.login === username);
  const hit = machines.find((m) => m.machine === bare && pick(m)) ?? machines.find((m) => m.machine === null && pick(m));
  return hit ? { kind: 'basic' as const, username: hit.login ?? '', secret: hit.password ?? '' } : null;
}

/** Words with their line; `"…"` quoting with backslash escapes; `#` comments; macdef bodies removed. */
function tokenize(text: string): { value: string; line: number }[] {
  const out: { value: string; line: number }[] = [];
  let i = 0;
  let line = 1;
  let macro = false;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      // A macro definition ends at the first empty line.
      if (macro) {
        const end = text.indexOf('\n\n', i - 1);
        const stop = end < 0 ? text.length : end + 2;
        for (let j = i; j < stop; j++) if (text[j] === '\n') line++;
        i = stop;
        macro = false;
      }
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    let value = '';
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        if (text[i] === '\n') throw new NetrcFormatError(`line ${line}: unterminated quoted word`);
        value += text[i++];
      }
      if (i >= text.length) throw new NetrcFormatError(`line ${line}: unterminated quoted word`);
      i++;
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) value += text[i++];
    }
    out.push({ value, line });
    if (out.length >= 2 && out[out.length - 2]!.value === 'macdef') macro = true;
  }
  return out;
}
