// A small TOML 1.0 reader for the two files credmux touches: uv's `uv.toml` (setup sets one top-level
// key) and uv's `credentials.toml` (import reads `[[credential]]` tables). It parses the whole language
// except that dates and times come back as their source text, and it also reports where each top-level
// key/value sits, so setup can edit one line and leave every other byte alone. Written here instead of
// adding a dependency (the project takes none without review); a file it cannot read is an error with a
// line number, never a guess.

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

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

const BARE_KEY = /[A-Za-z0-9_-]/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$|^\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;
const DEC_INT = /^[+-]?(?:0|[1-9](?:_?\d)*)$/;
const HEX_INT = /^0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*$/;
const OCT_INT = /^0o[0-7](?:_?[0-7])*$/;
const BIN_INT = /^0b[01](?:_?[01])*$/;
const FLOAT = /^[+-]?(?:0|[1-9](?:_?\d)*)(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?$/;

/** Tables we made implicitly (from dotted keys or headers) may be opened by a header later; others not. */
type Kind = 'implicit' | 'header' | 'dotted' | 'inline' | 'array-table';

export function parseToml(text: string): TomlDoc {
  return new Parser(text).parse();
}

class Parser {
  private pos = 0;
  private readonly lineStarts: number[] = [0];
  private readonly kinds = new WeakMap<object, Kind>();
  private readonly root: TomlTable = {};
  private current: TomlTable = this.root;
  private readonly topLevel: TomlDoc['topLevel'] = [];
  private firstHeaderLine: number | null = null;

  constructor(private readonly src: string) {
    if (src.charCodeAt(0) === 0xfeff) this.pos = 1; // a BOM is allowed and meaningless
    for (let i = 0; i < src.length; i++) if (src[i] === '\n') this.lineStarts.push(i + 1);
    this.kinds.set(this.root, 'header');
  }

  parse(): TomlDoc {
    for (;;) {
      this.skipWs();
      if (this.eof()) break;
      const c = this.src[this.pos]!;
      if (c === '#') this.skipComment();
      else if (c === '\n' || c === '\r') this.newline();
      else if (c === '[') this.header();
      else this.keyValue();
    }
    return { value: this.root, topLevel: this.topLevel, firstHeaderLine: this.firstHeaderLine };
  }

  // ---- structure ------------------------------------------------------------------------------

  private header(): void {
    const line = this.lineOf(this.pos);
    if (this.firstHeaderLine === null) this.firstHeaderLine = line;
    const array = this.src.startsWith('[[', this.pos);
    this.pos += array ? 2 : 1;
    this.skipWs();
    const key = this.key();
    this.skipWs();
    if (!this.src.startsWith(array ? ']]' : ']', this.pos)) this.fail(`expected ${array ? ']]' : ']'} to close the table header`);
    this.pos += array ? 2 : 1;
    this.endOfLine();
    const parent = this.walk(this.root, key.slice(0, -1), true);
    const last = key[key.length - 1]!;
    const existing = parent[last];
    if (array) {
      if (existing === undefined) parent[last] = [];
      else if (!Array.isArray(existing) || this.kinds.get(existing) !== 'array-table') this.fail(`"${key.join('.')}" is already defined and is not an array of tables`);
      const arr = parent[last] as TomlValue[];
      this.kinds.set(arr, 'array-table');
      const t: TomlTable = {};
      this.kinds.set(t, 'header');
      arr.push(t);
      this.current = t;
      return;
    }
    if (existing === undefined) {
      const t: TomlTable = {};
      this.kinds.set(t, 'header');
      parent[last] = t;
      this.current = t;
      return;
    }
    if (!isTable(existing) || this.kinds.get(existing) !== 'implicit') this.fail(`table "${key.join('.')}" is defined twice`);
    this.kinds.set(existing, 'header');
    this.current = existing;
  }

  private keyValue(): void {
    const start = this.lineOf(this.pos);
    const key = this.key();
    this.skipWs();
    if (this.src[this.pos] !== '=') this.fail(`expected "=" after the key "${key.join('.')}"`);
    this.pos++;
    this.skipWs();
    const value = this.value();
    const end = this.lineOf(Math.max(this.pos - 1, 0));
    this.assign(this.current, key, value, 'dotted');
    if (this.current === this.root) this.topLevel.push({ key, start, end });
    this.endOfLine();
  }

  private assign(table: TomlTable, key: string[], value: TomlValue, via: Kind): void {
    const parent = this.walk(table, key.slice(0, -1), false, via);
    const last = key[key.length - 1]!;
    if (Object.hasOwn(parent, last)) this.fail(`key "${key.join('.')}" is defined twice`);
    parent[last] = value;
  }

  /** Follows (creating) tables along `path`; headers may pass through the last table of an array of tables. */
  private walk(from: TomlTable, path: string[], forHeader: boolean, via: Kind = 'implicit'): TomlTable {
    let t = from;
    for (const k of path) {
      let next = t[k];
      if (next === undefined) {
        const made: TomlTable = {};
        this.kinds.set(made, forHeader ? 'implicit' : via);
        t[k] = made;
        next = made;
      } else if (Array.isArray(next)) {
        if (!forHeader || this.kinds.get(next) !== 'array-table') this.fail(`"${k}" is not a table`);
        next = next[next.length - 1]!;
      } else if (!isTable(next)) {
        this.fail(`"${k}" is a value, not a table`);
      } else if (this.kinds.get(next) === 'inline') {
        // An inline table is complete as written (TOML 1.0): neither keys nor headers may add to it.
        this.fail(`"${k}" is an inline table and cannot be extended`);
      }
      t = next as TomlTable;
    }
    return t;
  }

  // ---- keys and values ------------------------------------------------------------------------

  private key(): string[] {
    const parts = [this.simpleKey()];
    for (;;) {
      this.skipWs();
      if (this.src[this.pos] !== '.') return parts;
      this.pos++;
      this.skipWs();
      parts.push(this.simpleKey());
    }
  }

  private simpleKey(): string {
    const c = this.src[this.pos];
    if (c === '"') {
      if (this.src.startsWith('"""', this.pos)) this.fail('a key cannot be a multi-line string');
      return this.basicString();
    }
    if (c === "'") {
      if (this.src.startsWith("'''", this.pos)) this.fail('a key cannot be a multi-line string');
      return this.literalString();
    }
    const start = this.pos;
    while (!this.eof() && BARE_KEY.test(this.src[this.pos]!)) this.pos++;
    if (start === this.pos) this.fail(c === undefined || c === '\n' ? 'expected a key' : `unexpected "${c}" where a key should be`);
    return this.src.slice(start, this.pos);
  }

  private value(): TomlValue {
    const c = this.src[this.pos];
    if (c === '"') return this.src.startsWith('"""', this.pos) ? this.multilineBasic() : this.basicString();
    if (c === "'") return this.src.startsWith("'''", this.pos) ? this.multilineLiteral() : this.literalString();
    if (c === '[') return this.array();
    if (c === '{') return this.inlineTable();
    if (this.src.startsWith('true', this.pos) && !BARE_KEY.test(this.src[this.pos + 4] ?? '')) {
      this.pos += 4;
      return true;
    }
    if (this.src.startsWith('false', this.pos) && !BARE_KEY.test(this.src[this.pos + 5] ?? '')) {
      this.pos += 5;
      return false;
    }
    return this.scalar();
  }

  private scalar(): TomlValue {
    const start = this.pos;
    while (!this.eof() && /[0-9A-Za-z_+\-.:]/.test(this.src[this.pos]!)) this.pos++;
    // "1979-05-27 07:32:00": a space may separate date and time.
    if (/^\d{4}-\d{2}-\d{2}$/.test(this.src.slice(start, this.pos)) && this.src[this.pos] === ' ' && /\d/.test(this.src[this.pos + 1] ?? '')) {
      this.pos++;
      while (!this.eof() && /[0-9A-Za-z_+\-.:]/.test(this.src[this.pos]!)) this.pos++;
    }
    const tok = this.src.slice(start, this.pos);
    if (tok === '') this.fail(`expected a value, found ${JSON.stringify(this.src[this.pos] ?? 'end of file')}`);
    if (DATE_TIME.test(tok)) return tok;
    if (DEC_INT.test(tok)) return Number(tok.replaceAll('_', ''));
    if (HEX_INT.test(tok) || OCT_INT.test(tok) || BIN_INT.test(tok)) return Number(tok.replaceAll('_', ''));
    if (/^[+-]?(?:inf|nan)$/.test(tok)) return tok.endsWith('nan') ? NaN : tok.startsWith('-') ? -Infinity : Infinity;
    if (FLOAT.test(tok)) return Number(tok.replaceAll('_', ''));
    // The word itself is not quoted: in a credentials file it may be a secret someone forgot to quote.
    return this.fail('a bare word is not a TOML value (strings need quotes)');
  }

  private array(): TomlValue[] {
    this.pos++; // [
    const out: TomlValue[] = [];
    for (;;) {
      this.skipWsNewlinesComments();
      if (this.src[this.pos] === ']') {
        this.pos++;
        return out;
      }
      out.push(this.value());
      this.skipWsNewlinesComments();
      if (this.src[this.pos] === ',') {
        this.pos++;
        continue;
      }
      if (this.src[this.pos] === ']') {
        this.pos++;
        return out;
      }
      this.fail('expected "," or "]" in the array');
    }
  }

  private inlineTable(): TomlTable {
    this.pos++; // {
    const t: TomlTable = {};
    this.kinds.set(t, 'inline');
    this.skipWsNewlinesComments();
    if (this.src[this.pos] === '}') {
      this.pos++;
      return t;
    }
    for (;;) {
      this.skipWsNewlinesComments();
      const key = this.key();
      this.skipWs();
      if (this.src[this.pos] !== '=') this.fail(`expected "=" after the key "${key.join('.')}"`);
      this.pos++;
      this.skipWs();
      this.assign(t, key, this.value(), 'dotted');
      this.skipWsNewlinesComments();
      if (this.src[this.pos] === ',') {
        this.pos++;
        continue;
      }
      if (this.src[this.pos] === '}') {
        this.pos++;
        return t;
      }
      this.fail('expected "," or "}" in the inline table');
    }
  }

  private basicString(): string {
    this.pos++; // "
    let out = '';
    for (;;) {
      if (this.eof()) this.fail('unterminated string');
      const c = this.src[this.pos]!;
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '\n' || c === '\r') this.fail('unterminated string (a "…" string ends on its line)');
      if (c === '\\') out += this.escape();
      else {
        out += c;
        this.pos++;
      }
    }
  }

  private multilineBasic(): string {
    this.pos += 3;
    if (this.src[this.pos] === '\n') this.pos++;
    else if (this.src.startsWith('\r\n', this.pos)) this.pos += 2;
    let out = '';
    for (;;) {
      if (this.eof()) this.fail('unterminated """ string');
      if (this.src.startsWith('"""', this.pos)) {
        // Up to two quotes may sit right before the closing three.
        let extra = 0;
        while (extra < 2 && this.src[this.pos + 3 + extra] === '"') extra++;
        out += '"'.repeat(extra);
        this.pos += 3 + extra;
        return out;
      }
      const c = this.src[this.pos]!;
      if (c === '\\') {
        // A backslash at the end of a line swallows the newline and the whitespace after it.
        const m = /^\\[ \t]*\r?\n/.exec(this.src.slice(this.pos, this.pos + 256));
        if (m) {
          this.pos += m[0].length;
          while (!this.eof() && /[ \t\r\n]/.test(this.src[this.pos]!)) this.pos++;
          continue;
        }
        out += this.escape();
        continue;
      }
      out += c;
      this.pos++;
    }
  }

  private literalString(): string {
    this.pos++; // '
    const end = this.src.indexOf("'", this.pos);
    const nl = this.src.indexOf('\n', this.pos);
    if (end < 0 || (nl >= 0 && nl < end)) this.fail("unterminated '…' string");
    const s = this.src.slice(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  private multilineLiteral(): string {
    this.pos += 3;
    if (this.src[this.pos] === '\n') this.pos++;
    else if (this.src.startsWith('\r\n', this.pos)) this.pos += 2;
    const end = this.src.indexOf("'''", this.pos);
    if (end < 0) this.fail("unterminated ''' string");
    let extra = 0;
    while (extra < 2 && this.src[end + 3 + extra] === "'") extra++;
    const s = this.src.slice(this.pos, end + extra);
    this.pos = end + 3 + extra;
    return s;
  }

  private escape(): string {
    const c = this.src[this.pos + 1];
    this.pos += 2;
    switch (c) {
      case 'b':
        return '\b';
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'f':
        return '\f';
      case 'r':
        return '\r';
      case 'e':
        return '\x1b';
      case '"':
        return '"';
      case '\\':
        return '\\';
      case 'x':
        return this.hexEscape(2);
      case 'u':
        return this.hexEscape(4);
      case 'U':
        return this.hexEscape(8);
      default:
        return this.fail(`invalid escape "\\${c ?? ''}" in a string`);
    }
  }

  private hexEscape(n: number): string {
    const hex = this.src.slice(this.pos, this.pos + n);
    if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) this.fail('invalid unicode escape in a string');
    this.pos += n;
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail('unicode escape is not a scalar value');
    return String.fromCodePoint(cp);
  }

  // ---- whitespace -----------------------------------------------------------------------------

  private eof(): boolean {
    return this.pos >= this.src.length;
  }

  private skipWs(): void {
    while (this.src[this.pos] === ' ' || this.src[this.pos] === '\t') this.pos++;
  }

  private skipComment(): void {
    while (!this.eof() && this.src[this.pos] !== '\n') this.pos++;
  }

  private newline(): void {
    if (this.src[this.pos] === '\r') {
      if (this.src[this.pos + 1] !== '\n') this.fail('a bare carriage return is not allowed');
      this.pos++;
    }
    this.pos++;
  }

  private skipWsNewlinesComments(): void {
    for (;;) {
      this.skipWs();
      const c = this.src[this.pos];
      if (c === '#') this.skipComment();
      else if (c === '\n' || c === '\r') this.newline();
      else return;
    }
  }

  /** After a key/value or header: only whitespace and a comment may follow on the line. */
  private endOfLine(): void {
    this.skipWs();
    if (this.src[this.pos] === '#') this.skipComment();
    if (this.eof()) return;
    if (this.src[this.pos] !== '\n' && this.src[this.pos] !== '\r') this.fail(`unexpected "${this.src[this.pos]}" after the value; one key = value per line`);
    this.newline();
  }

  private lineOf(pos: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private fail(message: string): never {
    throw new TomlError(message, this.lineOf(Math.min(this.pos, this.src.length)) + 1);
  }
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A TOML basic string for a value setup writes. */
export function tomlString(s: string): string {
  return JSON.stringify(s); // JSON's escapes are a subset of TOML's basic-string escapes
}
