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

/**
 * Whether `after` is `before` with the top-level `key` set to `value` (or removed, for undefined) and
 * nothing else changed, by parsing both.
 */
export function tomlEditIsExact(before: string, after: string, key: string, value: TomlValue | undefined): boolean {
  let b: TomlTable;
  let a: TomlTable;
  try {
    b = parse(before);
    a = parse(after);
  } catch {
    return false;
  }
  const expected: TomlTable = Object.assign(Object.create(null) as TomlTable, b);
  if (value === undefined) delete expected[key];
  else expected[key] = value;
  return isDeepStrictEqual(a, expected);
}

/** A TOML basic string for a value setup writes. */
export function tomlString(s: string): string {
  return JSON.stringify(s); // JSON's escapes are a subset of TOML's basic-string escapes
}
