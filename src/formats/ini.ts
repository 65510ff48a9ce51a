// The INI dialect of Python's configparser, as far as pip's config and ~/.pypirc need it: `[section]`
// headers, `key = value` or `key: value`, full-line `#`/`;` comments, and indented continuation lines
// (pypirc's multi-line `index-servers`). Parsing keeps line positions so setup can change one key and
// leave every other byte alone.

export interface IniEntry {
  section: string | null;
  /** The key as written. */
  key: string;
  value: string;
  /** First line (0-based) and one past the last (continuations included). */
  start: number;
  end: number;
}

export interface IniSection {
  name: string;
  header: number;
  /** One past its last line: the next header, or the end of the file. */
  end: number;
}

export interface IniDoc {
  lines: string[];
  sections: IniSection[];
  entries: IniEntry[];
}

const HEADER = /^\[([^\]]+)\]\s*(?:[#;].*)?$/;
const KEY_VALUE = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/;

export function parseIni(text: string): IniDoc {
  const lines = text
    .replace(/^\ufeff/, '')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''));
  const sections: IniSection[] = [];
  const entries: IniEntry[] = [];
  let section: IniSection | null = null;
  let last: IniEntry | null = null;
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '') {
      last = null;
      return;
    }
    if (trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    if (/^\s/.test(line) && last) {
      last.value = last.value === '' ? trimmed : `${last.value}\n${trimmed}`;
      last.end = i + 1;
      return;
    }
    const h = HEADER.exec(line);
    if (h) {
      if (section) section.end = i;
      section = { name: h[1]!.trim(), header: i, end: lines.length - (lines[lines.length - 1] === '' ? 1 : 0) };
      sections.push(section);
      last = null;
      return;
    }
    const kv = KEY_VALUE.exec(trimmed);
    if (kv) {
      last = { section: section?.name ?? null, key: kv[1]!, value: kv[2]!.trim(), start: i, end: i + 1 };
      entries.push(last);
    } else last = null;
  });
  return { lines, sections, entries };
}

/** The value of `key` in `section` (later definitions win, as configparser's non-strict reading does). */
export function iniGet(doc: IniDoc, section: string, key: string, normalize: (k: string) => string = (k) => k.toLowerCase()): string | undefined {
  const want = normalize(key);
  let v: string | undefined;
  for (const e of doc.entries) if (e.section === section && normalize(e.key) === want) v = e.value;
  return v;
}

/** pip reads `keyring_provider` and `keyring-provider` alike, case-insensitively. */
export function pipKey(k: string): string {
  return k.toLowerCase().replaceAll('_', '-');
}

/** What `iniSet` changed, so `iniUnset` can put it back. */
export interface IniOwned {
  /** The lines the key had before, when it had a value; null when setup added the key. */
  prev: string[] | null;
  createdSection: boolean;
  addedNewline: boolean;
  addedBlank: boolean;
}

const NOTHING: IniOwned = { prev: null, createdSection: false, addedNewline: false, addedBlank: false };

/** Sets `key = value` in `section`, editing only that line (or adding the line, or the section at the end). */
export function iniSet(
  text: string | null,
  section: string,
  key: string,
  value: string,
  normalize = pipKey,
): { text: string | null; owned: IniOwned } {
  const doc = parseIni(text ?? '');
  const matches = doc.entries.filter((e) => e.section === section && normalize(e.key) === normalize(key));
  const lines = [...doc.lines];
  const line = `${key} = ${value}`;
  if (matches.length > 0) {
    const e = matches[matches.length - 1]!;
    if (e.value === value) return { text, owned: NOTHING };
    const prev = lines.slice(e.start, e.end);
    lines.splice(e.start, e.end - e.start, line);
    return { text: lines.join('\n'), owned: { ...NOTHING, prev } };
  }
  const sec = doc.sections.find((s) => s.name === section);
  if (sec) {
    const inSection = doc.entries.filter((e) => e.section === section);
    const at = inSection.length > 0 ? inSection[inSection.length - 1]!.end : sec.header + 1;
    lines.splice(at, 0, line);
    return { text: lines.join('\n'), owned: NOTHING };
  }
  let out = text ?? '';
  const addedNewline = out !== '' && !out.endsWith('\n');
  if (addedNewline) out += '\n';
  const addedBlank = out !== '';
  if (addedBlank) out += '\n';
  return { text: `${out}[${section}]\n${line}\n`, owned: { prev: null, createdSection: true, addedNewline, addedBlank } };
}

/** Undoes `iniSet` on a file edited since: only if the key still has the value setup wrote. */
export function iniUnset(text: string | null, section: string, key: string, value: string, owned: IniOwned, normalize = pipKey): string | null {
  if (text === null) return null;
  const doc = parseIni(text);
  const e = [...doc.entries].reverse().find((x) => x.section === section && normalize(x.key) === normalize(key));
  if (!e || e.value !== value) return text;
  const lines = [...doc.lines];
  lines.splice(e.start, e.end - e.start, ...(owned.prev ?? []));
  if (owned.createdSection && owned.prev === null) {
    const after = parseIni(lines.join('\n'));
    const sec = after.sections.find((s) => s.name === section);
    const body = sec ? after.lines.slice(sec.header + 1, sec.end).filter((l) => l.trim() !== '') : ['x'];
    if (sec && body.length === 0) {
      let from = sec.header;
      if (owned.addedBlank && from > 0 && lines[from - 1]!.trim() === '') from--;
      const atEnd = sec.end >= lines.length - 1;
      lines.splice(from, sec.end - from);
      let out = lines.join('\n');
      if (atEnd && owned.addedNewline && out.endsWith('\n')) out = out.slice(0, -1);
      return out;
    }
  }
  return lines.join('\n');
}
