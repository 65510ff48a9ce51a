// netrc read-through: the file is read at request time (again whenever it changed), never copied into the store.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import type { Env } from '../platform/paths.js';
import { CredmuxError, type Credential } from '../model/types.js';
import type { Rule } from '../model/rule.js';
import { fileIdentity } from '../platform/file-identity.js';
import type { CredentialSource, SourceContext } from './types.js';

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
  async fetch(rule, ctx) {
    return fromNetrc(rule, ctx);
  },
  // No I/O to wait for: one stat, and a read only when the file changed. The daemon answers from it at once.
  fetchNow: fromNetrc,
};

function fromNetrc(rule: Rule, { env, host }: SourceContext): Credential | null {
  if (rule.source.type !== 'netrc') return null;
  const path = netrcPath(env, rule.source.file);
  const machines = machinesIn(path);
  if (machines === undefined) return null;
  if (machines instanceof NetrcFormatError) throw new CredmuxError('source', `rule "${rule.id}": ${path} ${machines.message}`);
  return lookupNetrc(machines, host, rule.username);
}

/**
 * netrc files parsed, by path, each kept while its identity (platform/file-identity.ts: inode, size,
 * mtime and ctime) is unchanged: a daemon serving netrc rules reads the file once per change instead of
 * once per request, and an edit of the same size with the mtime carried over (`cp -p`) is still seen.
 * Bounded: callers may name any number of files (NETRC).
 */
const parsed = new Map<string, { id: string; machines: NetrcMachine[] | NetrcFormatError }>();
const MAX_FILES = 16;

/** The machines in the file, its format error, or undefined when there is no readable file. */
function machinesIn(path: string): NetrcMachine[] | NetrcFormatError | undefined {
  let id: string;
  let text: string;
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) {
      parsed.delete(path);
      return undefined;
    }
    id = fileIdentity(st);
    const kept = parsed.get(path);
    if (kept?.id === id) return kept.machines;
    // Read after the stat: a change in between leaves a newer text under an older identity, which the
    // next stat no longer matches, so it is read again.
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let machines: NetrcMachine[] | NetrcFormatError;
  try {
    machines = parseNetrc(text);
  } catch (e) {
    if (!(e instanceof NetrcFormatError)) throw e;
    machines = e;
  }
  if (parsed.size >= MAX_FILES) parsed.clear();
  parsed.set(path, { id, machines });
  return machines;
}

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
