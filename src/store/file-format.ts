// The credential file's format: `{"version":1,"entries":[StoredEntry…]}`. Parsing is strict — a file
// that does not have exactly this shape is reported as a problem, never partly used, because
// dropping an entry silently would lose a secret on the next write.
import type { StoredEntry } from '../model/types.js';
import { checkEntry, keyId } from './entry.js';

export const FORMAT_VERSION = 1;

export type Parsed =
  | { ok: true; entries: StoredEntry[] }
  /** Damaged: not JSON, or the wrong shape. `problem` names the place, never a value. */
  | { ok: false; corrupt: true; problem: string }
  /** Well-formed but written by a newer credmux. */
  | { ok: false; corrupt: false; version: number };

export function parseStoreFile(raw: Buffer): Parsed {
  let doc: unknown;
  try {
    // V8's parse errors quote the input around the error, which may be a secret: not reused.
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    return { ok: false, corrupt: true, problem: raw.length === 0 ? 'it is empty' : 'it is not valid JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, corrupt: true, problem: 'it is not a JSON object' };
  const d = doc as Record<string, unknown>;
  if (typeof d.version === 'number' && Number.isInteger(d.version) && d.version > FORMAT_VERSION) {
    return { ok: false, corrupt: false, version: d.version };
  }
  if (d.version !== FORMAT_VERSION) return { ok: false, corrupt: true, problem: `"version" must be ${FORMAT_VERSION}` };
  for (const k of Object.keys(d)) {
    if (k !== 'version' && k !== 'entries') return { ok: false, corrupt: true, problem: `unknown top-level field "${k.slice(0, 40)}"` };
  }
  if (!Array.isArray(d.entries)) return { ok: false, corrupt: true, problem: '"entries" must be an array' };
  const entries: StoredEntry[] = [];
  const seen = new Map<string, number>();
  for (const [i, value] of d.entries.entries()) {
    const checked = checkEntry(value, `entries[${i}]`);
    if ('problem' in checked) return { ok: false, corrupt: true, problem: checked.problem };
    const id = keyId(checked.entry);
    const first = seen.get(id);
    if (first !== undefined) return { ok: false, corrupt: true, problem: `entries[${i}] has the same url and username as entries[${first}]` };
    seen.set(id, i);
    entries.push(checked.entry);
  }
  return { ok: true, entries };
}

export function serializeStoreFile(entries: StoredEntry[]): string {
  return `${JSON.stringify({ version: FORMAT_VERSION, entries }, null, 2)}\n`;
}
