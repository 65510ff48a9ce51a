// `credmux setup cargo`: credmux's provider in cargo's `[registry] global-credential-providers`, in
// $CARGO_HOME/config.toml (docs/protocols.md §10.2). cargo walks that list from the END, so credmux is
// appended: asked first for every registry, and `not-found` falls through to what was there before —
// `cargo:token` (cargo's default when the key is unset) keeps serving tokens cargo stored itself.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import { parseTomlValue, TomlError, tomlItems, tomlString, tomlTableEditIsExact, type TomlTable } from '../../formats/toml.js';
import { helperPath } from './common.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

export const CARGO_HELPER = 'cargo-credential-credmux';
const TABLE = 'registry';
const KEY = 'global-credential-providers';
/** What cargo uses when the key is unset or empty (rust-lang/cargo src/util/auth/mod.rs, credential_provider). */
export const CARGO_DEFAULT_PROVIDERS = ['cargo:token'];

export function cargoHome(env: Env): string {
  return env.CARGO_HOME ? resolve(env.CARGO_HOME) : join(env.HOME || homedir(), '.cargo');
}

/** The file cargo reads: the legacy extension-less `config` wins when it exists (cargo warns when both do). */
export function cargoConfigPath(env: Env): string {
  const legacy = join(cargoHome(env), 'config');
  return existsSync(legacy) ? legacy : join(cargoHome(env), 'config.toml');
}

function parseCargoToml(text: string, file: string): TomlTable {
  try {
    return parseTomlValue(text);
  } catch (e) {
    if (e instanceof TomlError) throw new CredmuxError('bad-request', `${file} is not valid TOML (${e.message}); cargo refuses it too: fix it first`);
    throw e;
  }
}

/** The providers list as the file sets it: undefined when unset, null when it is not a list of strings. */
export function configuredProviders(value: TomlTable): string[] | undefined | null {
  const reg = value[TABLE];
  if (reg === undefined) return undefined;
  if (typeof reg !== 'object' || reg === null || Array.isArray(reg) || reg instanceof Date) return null;
  const list = (reg as TomlTable)[KEY];
  if (list === undefined) return undefined;
  return Array.isArray(list) && list.every((p) => typeof p === 'string') ? (list as string[]) : null;
}

/** A provider entry that runs some credmux's cargo entry (another install, or this one before it moved). */
export function isCredmuxProvider(entry: string): boolean {
  return basename(entry.trim().split(/\s+/)[0] ?? '') === CARGO_HELPER;
}

interface Owned {
  /** The provider entry setup added. */
  added: string;
  /** The list setup wrote. */
  wrote: string[];
  /** The key's lines before setup; null when setup added the key. */
  prev: string[] | null;
  /** Setup added the `[registry]` table (and the blank line before it). */
  addedTable: boolean;
  addedNewline: boolean;
}

function arrayLine(list: readonly string[]): string {
  return `${KEY} = [${list.map(tomlString).join(', ')}]`;
}

/** Where `[registry]` is and where its providers key sits; null: no `[registry]` header. */
function locate(text: string): { header: number; lastKv: number; key: { start: number; end: number } | null } | null {
  const items = tomlItems(text);
  const h = items.findIndex((it) => it.type === 'header' && !it.array && it.path.length === 1 && it.path[0] === TABLE);
  if (h < 0) return null;
  const header = items[h]!;
  let lastKv = header.type === 'header' ? header.line : 0;
  let key: { start: number; end: number } | null = null;
  for (const it of items.slice(h + 1)) {
    if (it.type === 'header') break;
    lastKv = it.end;
    if (it.key.length === 1 && it.key[0] === KEY) key = { start: it.start, end: it.end };
  }
  return { header: header.type === 'header' ? header.line : 0, lastKv, key };
}

function handEdit(file: string, list: readonly string[]): CredmuxError {
  return new CredmuxError(
    'bad-request',
    `cannot set ${TABLE}.${KEY} in ${file} without changing anything else (it is written with dotted keys or an inline table); ` +
      `edit it by hand: under [${TABLE}], ${arrayLine(list)}`,
  );
}

function apply(text: string, file: string, ours: string): { content: string | null; owned: Owned } {
  const value = parseCargoToml(text, file);
  const current = configuredProviders(value);
  if (current === null)
    throw new CredmuxError('bad-request', `${TABLE}.${KEY} in ${file} is not a list of strings; cargo refuses it too: fix it first`);
  const before = current === undefined || current.length === 0 ? CARGO_DEFAULT_PROVIDERS : current;
  const nothing: Owned = { added: ours, wrote: before, prev: null, addedTable: false, addedNewline: false };
  if (before[before.length - 1] === ours) return { content: null, owned: nothing };
  // Another credmux's entry (a moved install) is replaced, not kept behind this one.
  const wrote = [...before.filter((p) => p !== ours && !isCredmuxProvider(p)), ours];
  const owned: Owned = { ...nothing, wrote };
  const lines = text.split('\n');
  const at = locate(text);
  let out: string;
  if (at?.key) {
    owned.prev = lines.slice(at.key.start, at.key.end + 1);
    lines.splice(at.key.start, owned.prev.length, arrayLine(wrote));
    out = lines.join('\n');
  } else if (at) {
    lines.splice(at.lastKv + 1, 0, arrayLine(wrote));
    out = lines.join('\n');
  } else if (value[TABLE] === undefined) {
    owned.addedTable = true;
    owned.addedNewline = text !== '' && !text.endsWith('\n');
    const sep = text === '' ? '' : owned.addedNewline ? '\n\n' : text.endsWith('\n\n') ? '' : '\n';
    out = `${text}${sep}[${TABLE}]\n${arrayLine(wrote)}\n`;
  } else {
    throw handEdit(file, wrote);
  }
  if (!tomlTableEditIsExact(text, out, TABLE, KEY, wrote)) throw handEdit(file, wrote);
  return { content: out, owned };
}

/** `current` without credmux's entry: the lines from before when the list is as setup wrote it, else the list less ours. */
function revert(current: string, owned: Owned): string {
  let list: string[] | undefined | null;
  let at: ReturnType<typeof locate>;
  try {
    list = configuredProviders(parseTomlValue(current));
    at = locate(current);
  } catch {
    return current; // not ours to repair
  }
  if (!list || !list.includes(owned.added) || !at?.key) return current;
  const lines = current.split('\n');
  const asWritten = list.length === owned.wrote.length && list.every((p, i) => p === owned.wrote[i]);
  const rest = list.filter((p) => p !== owned.added);
  let replacement: string[];
  let expected: string[] | undefined;
  if (asWritten && owned.prev) {
    replacement = owned.prev;
    expected = configuredProviders(parseTomlValue(`[${TABLE}]\n${owned.prev.join('\n')}`)) ?? undefined;
  } else if (asWritten) {
    replacement = [];
    expected = undefined;
  } else {
    replacement = [arrayLine(rest)];
    expected = rest;
  }
  lines.splice(at.key.start, at.key.end - at.key.start + 1, ...replacement);
  let out = lines.join('\n');
  // The table setup added, now empty again, goes with the blank line setup put before it.
  let dropTable = false;
  if (owned.addedTable && expected === undefined) {
    const after = locate(out);
    if (after && after.lastKv === after.header) {
      const l = out.split('\n');
      const blank = after.header > 0 && l[after.header - 1]!.trim() === '' ? 1 : 0;
      l.splice(after.header - blank, 1 + blank);
      out = l.join('\n');
      if (owned.addedNewline && out.endsWith('\n')) out = out.slice(0, -1);
      dropTable = true;
    }
  }
  if (!tomlTableEditIsExact(current, out, TABLE, KEY, expected, dropTable)) {
    throw new CredmuxError(
      'bad-request',
      `cannot take credmux out of ${TABLE}.${KEY} in the cargo config without changing anything else; edit it by hand`,
    );
  }
  return out;
}

export function planCargo(env: Env, opts: SetupOptions): ToolPlan {
  const file = cargoConfigPath(env);
  const ours = helperPath(env, CARGO_HELPER);
  // cargo splits a provider string at whitespace into program and arguments.
  if (/\s/.test(ours) && !opts.undo) {
    throw new CredmuxError(
      'bad-request',
      `cargo splits provider paths at spaces, and credmux is installed at ${ours}: install it at a path without spaces, ` +
        `or add it by hand as [credential-alias] credmux = [${tomlString(ours)}] with "credmux" in ${TABLE}.${KEY}`,
    );
  }
  const spec: FileSpec<Owned> = {
    path: file,
    newMode: 0o644,
    async apply(base) {
      const { content, owned } = apply(base ?? '', file, ours);
      return { content: content ?? base, owned };
    },
    async revert(current, owned) {
      return current === null ? null : revert(current, owned);
    },
  };
  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    notes.push(
      `cargo (≥ 1.74) now asks credmux first for every registry's token (${TABLE}.${KEY} in ${file}); ` +
        'what credmux does not hold falls through to the providers listed before it (cargo:token: tokens cargo stored itself).',
    );
    notes.push(
      '`cargo login --registry NAME` and `cargo logout` now store and erase through credmux; or store a token for a registry with ' +
        '`credmux login https://HOST/INDEX/ --token-stdin --for cargo` (the index URL without "sparse+"). cargo sends the token as the whole ' +
        'Authorization header: include the scheme ("Bearer …") when the registry wants one.',
    );
    if (env.CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS !== undefined) {
      warnings.push('CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS is set and overrides the config file: unset it, or add this provider to it.');
    }
    for (const name of ownProviders(env, file)) {
      warnings.push(`registry "${name}" names its own credential-provider, which replaces the global list: credmux is not asked for it.`);
    }
  }
  return { files: [spec], links: [], notes, warnings };
}

/** Registries whose own `credential-provider` (config or environment) replaces the global list. */
export function ownProviders(env: Env, file: string, text?: string): string[] {
  const names = new Set<string>();
  for (const k of Object.keys(env)) {
    const m = /^CARGO_REGISTRIES_(.+)_CREDENTIAL_PROVIDER$/.exec(k);
    if (m) names.add(m[1]!.toLowerCase().replaceAll('_', '-'));
  }
  try {
    const value = parseTomlValue(text ?? readFileSync(file, 'utf8'));
    const regs = value.registries;
    if (regs && typeof regs === 'object' && !Array.isArray(regs) && !(regs instanceof Date)) {
      for (const [name, reg] of Object.entries(regs as TomlTable)) {
        if (reg && typeof reg === 'object' && 'credential-provider' in (reg as TomlTable)) names.add(name);
      }
    }
  } catch {
    /* absent or broken: the file's own check says so */
  }
  return [...names].sort();
}
