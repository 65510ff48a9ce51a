// `credmux setup uv`: top-level `keyring-provider = "subprocess"` in the user's uv.toml, and the same
// `keyring` directory pip uses. uv asks keyring after a 401/403 only when it knows a username (from the
// index URL) or the index says `authenticate = "always"` (docs/protocols.md §4.3).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import { keyringLink, keyringOnPath } from './keyring-dir.js';
import { parseToml, TomlError, tomlEditIsExact, tomlString, type TomlDoc, type TomlValue } from '../../formats/toml.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

const KEY = 'keyring-provider';
const VALUE = 'subprocess';
const LINE = `${KEY} = ${tomlString(VALUE)}`;

export function uvConfigPath(env: Env): string {
  if (env.UV_CONFIG_FILE) return resolve(env.UV_CONFIG_FILE);
  const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(xdg, 'uv', 'uv.toml');
}

export function parseUvToml(text: string, file: string): TomlDoc {
  try {
    return parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) throw new CredmuxError('bad-request', `${file} is not valid TOML (${e.message}); fix it first`);
    throw e;
  }
}

interface Owned {
  /** The key's lines before setup; null when setup added the key. */
  prev: string[] | null;
  addedNewline: boolean;
  /** A blank line setup put after its line, to keep it apart from the first table. */
  addedBlankAfter: boolean;
}

const NOTHING: Owned = { prev: null, addedNewline: false, addedBlankAfter: false };

function topLevelKey(doc: TomlDoc) {
  return doc.topLevel.find((k) => k.key.length === 1 && k.key[0] === KEY);
}

/** `text` with the key set; null content: it already holds the value. */
function setKey(text: string, file: string): { content: string | null; owned: Owned } {
  const doc = parseUvToml(text, file);
  const lines = text.split('\n');
  const existing = topLevelKey(doc);
  if (existing) {
    if (doc.value[KEY] === VALUE) return { content: null, owned: NOTHING };
    const prev = lines.slice(existing.start, existing.end + 1);
    lines.splice(existing.start, prev.length, LINE);
    return { content: lines.join('\n'), owned: { ...NOTHING, prev } };
  }
  const lastTop = doc.topLevel[doc.topLevel.length - 1];
  if (lastTop) {
    lines.splice(lastTop.end + 1, 0, LINE);
    return { content: lines.join('\n'), owned: NOTHING };
  }
  if (doc.firstHeaderLine !== null) {
    // Top-level keys must come before the first table; comments right above a header belong to it.
    let at = doc.firstHeaderLine;
    while (at > 0 && lines[at - 1]!.trim().startsWith('#')) at--;
    lines.splice(at, 0, LINE, '');
    return { content: lines.join('\n'), owned: { ...NOTHING, addedBlankAfter: true } };
  }
  const addedNewline = text !== '' && !text.endsWith('\n');
  return { content: `${text}${addedNewline ? '\n' : ''}${LINE}\n`, owned: { ...NOTHING, addedNewline } };
}

/** `current` with the key taken out (or its earlier lines back); null: there is nothing of ours in it. */
function unsetKey(current: string, owned: Owned): string | null {
  let doc: TomlDoc;
  try {
    doc = parseToml(current);
  } catch {
    return null; // not ours to repair
  }
  const k = topLevelKey(doc);
  if (!k || doc.value[KEY] !== VALUE) return null;
  const lines = current.split('\n');
  const removeBlank = owned.addedBlankAfter && lines[k.end + 1]?.trim() === '' ? 1 : 0;
  const wasLast = k.end === lines.length - 2 && lines[lines.length - 1] === '';
  lines.splice(k.start, k.end - k.start + 1 + removeBlank, ...(owned.prev ?? []));
  let out = lines.join('\n');
  if (wasLast && owned.addedNewline && out.endsWith('\n')) out = out.slice(0, -1);
  return out;
}

/** The edited text, once parsing it shows the key holds `value` (undefined: is gone) and nothing else moved. */
function verified(before: string, after: string, value: TomlValue | undefined, file: string): string {
  if (tomlEditIsExact(before, after, KEY, value)) return after;
  throw new CredmuxError(
    'bad-request',
    `cannot ${value === undefined ? 'take out' : 'set'} ${KEY} in ${file} without changing anything else; edit it by hand`,
  );
}

export function planUv(env: Env, opts: SetupOptions): ToolPlan {
  const file = uvConfigPath(env);
  const spec: FileSpec<Owned> = {
    path: file,
    newMode: 0o644,
    async apply(base) {
      const text = base ?? '';
      const { content, owned } = setKey(text, file);
      return content === null ? { content: base, owned } : { content: verified(text, content, VALUE, file), owned };
    },
    async revert(current, owned) {
      if (current === null) return null;
      const out = unsetKey(current, owned);
      if (out === null) return current;
      return verified(current, out, owned.prev ? parseToml(owned.prev.join('\n')).value[KEY] : undefined, file);
    },
  };
  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    notes.push(`uv now asks \`keyring\` for index credentials (${LINE} in ${file}).`);
    notes.push(
      'uv asks keyring only when it knows the username: put it in the index URL (https://USER@host/simple), ' +
        'or set authenticate = "always" on that [[index]] to ask without one.',
    );
    if (env.UV_KEYRING_PROVIDER && env.UV_KEYRING_PROVIDER !== VALUE) {
      warnings.push(`UV_KEYRING_PROVIDER=${env.UV_KEYRING_PROVIDER} overrides the config file: unset it (or set it to ${VALUE}).`);
    }
    if (env.UV_NO_CONFIG) warnings.push('UV_NO_CONFIG is set, so uv reads no config file: unset it.');
    const onPath = keyringOnPath(env, 'uv');
    if (onPath.problem) warnings.push(onPath.problem);
  }
  return { files: [spec], links: [keyringLink(env)], notes, warnings };
}
