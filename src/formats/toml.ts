// TOML for the two files credmux touches: uv's `uv.toml` (setup sets one top-level key) and uv's
// `credentials.toml` (import reads `[[credential]]` tables). smol-toml parses; what is left here is the
// thin layer setup needs to edit one top-level key and leave every other byte alone: where each
// top-level key/value sits (found by asking the parser, not by lexing TOML again), and a check that an
// edit changed exactly what it meant to. A file the parser refuses is an error with a line number and
// never quotes the file (it may hold a secret).
import { isDeepStrictEqual } from 'node:util';
import { parse, TomlError as ParseError, type TomlPrimitive, type TomlTable } from 'smol-toml';

export type TomlValue = TomlPrimitive;
export type { TomlTable };

export interface TomlDoc {
  value: TomlTable;
  /** Key/values before the first table header, with their 0-based first and last line. */
  topLevel: { key: string[]; start: number; end: number }[];
  /** 0-based line of the first `[table]` or `[[array]]` header; null when there is none. */
  firstHeaderLine: number | null;
}

export class TomlError extends Error {
  constructor(
    message: string,
    /** 1-based, for people. */
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'TomlError';
  }
}

/** The parsed value; a TomlError (line and reason, none of the file's text) when it is not TOML. */
export function parseTomlValue(text: string): TomlTable {
  try {
    return parse(text);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    // smol-toml's message is "Invalid TOML document: <reason>" and then a code block of the file's
    // lines: keep the reason only.
    const reason = e.message.split('\n', 1)[0]!.replace(/^Invalid TOML document: /, '');
    throw new TomlError(reason, e.line);
  }
}

export function parseToml(text: string): TomlDoc {
  const value = parseTomlValue(text);
  const lines = text.split('\n');
  const topLevel: TomlDoc['topLevel'] = [];
  let firstHeaderLine: number | null = null;
  for (let i = 0; i < lines.length;) {
    const t = lines[i]!.trim(); // trim() also drops a BOM and the \r of a CRLF line
    if (t === '' || t.startsWith('#')) {
      i++;
      continue;
    }
    if (t.startsWith('[')) {
      firstHeaderLine = i;
      break;
    }
    // A key/value ends on the first line at which it parses on its own: before that its string,
    // array or inline table is still open.
    let end = i;
    while (!parses(lines.slice(i, end + 1).join('\n'))) {
      if (++end === lines.length) throw new TomlError('cannot find the end of this key/value', i + 1);
    }
    topLevel.push({ key: keyOf(lines[i]!), start: i, end });
    i = end + 1;
  }
  return { value, topLevel, firstHeaderLine };
}

function parses(text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The dotted key of a `key = value` line, as the parser reads it. */
function keyOf(line: string): string[] {
  // The key ends at the first `=` outside quotes.
  let quote = '';
  let at = 0;
  for (; at < line.length; at++) {
    const c = line[at]!;
    if (quote) {
      if (c === '\\' && quote === '"') at++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '=') break;
  }
  const key: string[] = [];
  let v: TomlValue = parse(`${line.slice(0, at)}= 0`);
  while (typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
    const k: string = Object.keys(v)[0]!;
    key.push(k);
    v = v[k]!;
  }
  return key;
}

/** Both texts parsed, or undefined when either is not TOML (an edit check then fails). */
function parseBoth(before: string, after: string): [TomlTable, TomlTable] | undefined {
  try {
    return [parse(before), parse(after)];
  } catch {
    return undefined;
  }
}

/**
 * Whether `after` is `before` with the top-level `key` set to `value` (or removed, for undefined) and
 * nothing else changed, by parsing both.
 */
export function tomlEditIsExact(before: string, after: string, key: string, value: TomlValue | undefined): boolean {
  const both = parseBoth(before, after);
  if (!both) return false;
  const [b, a] = both;
  const expected: TomlTable = Object.assign(Object.create(null) as TomlTable, b);
  if (value === undefined) delete expected[key];
  else expected[key] = value;
  return isDeepStrictEqual(a, expected);
}

/** A TOML basic string for a value setup writes. */
export function tomlString(s: string): string {
  return JSON.stringify(s); // JSON's escapes are a subset of TOML's basic-string escapes
}

/** One line-level item of a TOML file: a table header, or a key/value with its first and last line (0-based). */
export type TomlItem = { type: 'header'; line: number; path: string[]; array: boolean } | { type: 'kv'; key: string[]; start: number; end: number };

/**
 * The headers and key/values of a file that parses, in order, for edits inside a table (cargo's
 * `[registry]`); the same rule as parseToml: a key/value ends on the first line at which it parses on
 * its own, so a `[` inside a multi-line array or string is never taken for a header.
 */
export function tomlItems(text: string): TomlItem[] {
  parseTomlValue(text);
  const lines = text.split('\n');
  const items: TomlItem[] = [];
  for (let i = 0; i < lines.length;) {
    const t = lines[i]!.trim();
    if (t === '' || t.startsWith('#')) {
      i++;
      continue;
    }
    if (t.startsWith('[')) {
      items.push({ type: 'header', line: i, ...headerPath(lines[i]!) });
      i++;
      continue;
    }
    let end = i;
    while (!parses(lines.slice(i, end + 1).join('\n'))) {
      if (++end === lines.length) throw new TomlError('cannot find the end of this key/value', i + 1);
    }
    items.push({ type: 'kv', key: keyOf(lines[i]!), start: i, end });
    i = end + 1;
  }
  return items;
}

/** The dotted name of a `[a.b]` or `[[a.b]]` header, as the parser reads it. */
function headerPath(line: string): { path: string[]; array: boolean } {
  const path: string[] = [];
  let v: unknown = parse(line);
  let array = false;
  for (;;) {
    if (Array.isArray(v)) {
      array = true;
      v = v[v.length - 1];
      continue;
    }
    if (typeof v !== 'object' || v === null || v instanceof Date) break;
    const keys = Object.keys(v);
    if (keys.length !== 1) break;
    array = false;
    path.push(keys[0]!);
    v = (v as Record<string, unknown>)[keys[0]!];
  }
  return { path, array };
}

/**
 * Whether `after` is `before` with `table.key` set to `value` (or removed, for undefined; the table
 * too when `dropEmptyTable` and nothing else is left in it) and nothing else changed, by parsing both.
 */
export function tomlTableEditIsExact(
  before: string,
  after: string,
  table: string,
  key: string,
  value: TomlValue | undefined,
  dropEmptyTable = false,
): boolean {
  const both = parseBoth(before, after);
  if (!both) return false;
  const [b, a] = both;
  const expected: TomlTable = Object.assign(Object.create(null) as TomlTable, b);
  const inner = b[table];
  if (inner !== undefined && (typeof inner !== 'object' || inner === null || Array.isArray(inner) || inner instanceof Date)) return false;
  const t: TomlTable = Object.assign(Object.create(null) as TomlTable, inner ?? {});
  if (value === undefined) delete t[key];
  else t[key] = value;
  if (dropEmptyTable && Object.keys(t).length === 0) delete expected[table];
  else expected[table] = t;
  return isDeepStrictEqual(a, expected);
}
