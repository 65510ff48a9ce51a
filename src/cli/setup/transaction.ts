// How setup edits another tool's files so that re-running changes nothing and `--undo` gives the
// previous bytes back.
//
// For each file, the manifest ($XDG_STATE_HOME/credmux/setup/<tool>.json) records the hash of what
// setup last wrote and what setup owns in it; `<file>.credmux-backup` holds the bytes from before.
// Every run starts from the pre-credmux content ("base"): the backup when the file is as setup left it,
// else the current file with credmux's part taken out (the person edited it since; keep their edits).
// The tool then applies credmux's part to that base. So a second run with the same inputs computes the
// same bytes and writes nothing, and a run after `credmux logout` drops what is no longer needed.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmdirSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../../platform/atomic-write.js';
import { stateDir, type Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import { unifiedDiff } from '../../formats/diff.js';

export type Tool = 'bazel' | 'git' | 'docker' | 'podman' | 'pip' | 'uv' | 'terraform' | 'go' | 'cargo' | 'kubectl';

/** One file credmux edits. `O` is what `apply` needs to remember so `revert` can take its part out again. */
export interface FileSpec<O = unknown> {
  /** Absolute path as the tool names it (may be a symlink; the link's target is edited). */
  path: string;
  /** Mode of a file setup creates. */
  newMode: number;
  /** Mode of directories setup creates on the way (0700 for private ones). */
  dirMode?: number;
  /** The content with credmux's part added to `base` (the content without it). Equal to base: nothing to add. */
  apply(base: string | null): Promise<{ content: string | null; owned: O }>;
  /** `current` with credmux's part taken out, for a file edited since setup wrote it. */
  revert(current: string | null, owned: O): Promise<string | null>;
}

/** A symlink credmux owns (the `keyring` entry pip/uv find on PATH). Shared between tools. */
export interface LinkSpec {
  path: string;
  target: string;
  dirMode: number;
}

interface FileRecord {
  existed: boolean;
  /** Where the pre-credmux bytes are kept (when `existed`). */
  backup?: string;
  /** sha256 of what setup last wrote. */
  after: string;
  owned: unknown;
}

interface LinkRecord {
  target: string;
}

interface Manifest {
  version: 1;
  tool: Tool;
  files: Record<string, FileRecord>;
  links: Record<string, LinkRecord>;
}

export type ChangeKind = 'create' | 'update' | 'delete' | 'unchanged';

export interface Change {
  path: string;
  kind: ChangeKind;
  diff: string;
  /** Human note, e.g. "edited since setup: removed only credmux's part". */
  note?: string;
}

export const BACKUP_SUFFIX = '.credmux-backup';

export function manifestPath(env: Env, tool: Tool): string {
  return join(stateDir(env), 'setup', `${tool}.json`);
}

function sha256(text: string | null): string {
  return text === null ? 'absent' : createHash('sha256').update(text).digest('hex');
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CredmuxError('internal', `cannot read ${path}: ${(e as Error).message}`);
  }
}

function loadManifest(env: Env, tool: Tool): Manifest {
  const path = manifestPath(env, tool);
  const text = readOrNull(path);
  if (text === null) return { version: 1, tool, files: {}, links: {} };
  try {
    const m = JSON.parse(text) as Manifest;
    if (m.version !== 1 || typeof m.files !== 'object' || typeof m.links !== 'object') throw new Error('unknown format');
    return m;
  } catch (e) {
    throw new CredmuxError('internal', `the setup record ${path} is unreadable (${(e as Error).message}); move it away and run setup again`);
  }
}

/**
 * What a tool's setup recorded as its own in each file it edits (path → `owned`), for a tool whose
 * next run must keep wiring what earlier runs wired (kubectl: one context per run).
 */
export function recordedOwned(env: Env, tool: Tool): Record<string, unknown> {
  return Object.fromEntries(Object.entries(loadManifest(env, tool).files).map(([path, rec]) => [path, rec.owned]));
}

function saveManifest(env: Env, m: Manifest): void {
  const path = manifestPath(env, m.tool);
  if (Object.keys(m.files).length === 0 && Object.keys(m.links).length === 0) {
    rmIfExists(path);
    sweepDirs(env);
    return;
  }
  const text = `${JSON.stringify(m, null, 2)}\n`;
  if (readOrNull(path) === text) return;
  recordDirs(env, []);
  writeAtomic(path, text, 0o600);
}

/** The file to write: a symlinked config (dotfile managers) is edited where it really lives. */
function realTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    let isLink = false;
    try {
      isLink = lstatSync(path).isSymbolicLink();
    } catch {
      /* absent */
    }
    if (isLink) throw new CredmuxError('bad-request', `${path} is a symlink to a missing file (${readlinkSync(path)}); fix or remove the link first`);
    // Absent: resolve what exists of its parents, so a symlinked ~/.config still works.
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return undefined;
  }
}

/** Temp file in the same directory, fsync, rename: a reader sees the old or the new file, never half. */
function writeAtomic(path: string, content: string, mode: number): void {
  // Exactly the old file's mode (open()'s would be cut by the umask); the directory is not synced.
  writeFileAtomicSync(path, content, {
    mode,
    durable: 'file',
    tmp: join(dirname(path), `.${basename(path)}.credmux-${process.pid}-${Date.now()}.tmp`),
  });
}

function rmIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * Every directory any setup created (`setup/dirs.json`). Tools share parents (~/.config holds pip's and
 * uv's files), so one tool's record cannot know when a parent is free: each undo sweeps them all and
 * removes those that are empty, which no managed file can be in.
 */
function dirsRegistry(env: Env): string {
  return join(stateDir(env), 'setup', 'dirs.json');
}

function recordDirs(env: Env, dirs: string[]): void {
  // The state directories are made here too (and swept with the rest once no record is left).
  const made = ensureParents(dirsRegistry(env), 0o700);
  if (dirs.length === 0 && made.length === 0) return;
  const all = [...new Set([...readDirs(env), ...dirs, ...made])];
  writeAtomic(dirsRegistry(env), `${JSON.stringify({ version: 1, dirs: all }, null, 2)}\n`, 0o600);
}

function readDirs(env: Env): string[] {
  try {
    const d = JSON.parse(readFileSync(dirsRegistry(env), 'utf8')) as { dirs?: unknown };
    return Array.isArray(d.dirs) ? d.dirs.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function exists(d: string): boolean {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}

function sweepDirs(env: Env): void {
  const setupDir = dirname(dirsRegistry(env));
  const dirs = readDirs(env);
  removeEmptyDirs(dirs);
  let records: string[] = [];
  try {
    records = readdirSync(setupDir).filter((f) => f.endsWith('.json') && f !== basename(dirsRegistry(env)));
  } catch {
    /* no setup state at all */
  }
  if (records.length === 0) {
    // Nothing is set up any more: the registry goes, and so do the (now empty) directories it kept.
    rmIfExists(dirsRegistry(env));
    removeEmptyDirs([setupDir, ...dirs]);
    return;
  }
  writeAtomic(dirsRegistry(env), `${JSON.stringify({ version: 1, dirs: dirs.filter(exists) }, null, 2)}\n`, 0o600);
}

/** Creates the missing directories above `file`; returns those it created, deepest first. */
function ensureParents(file: string, mode: number): string[] {
  const missing: string[] = [];
  for (let d = dirname(file); d !== dirname(d); d = dirname(d)) {
    try {
      statSync(d);
      break;
    } catch {
      missing.push(d);
    }
  }
  for (const d of [...missing].reverse()) mkdirSync(d, { mode });
  return missing;
}

function removeEmptyDirs(dirs: string[]): void {
  // Deepest first, so a parent is tried after its children went.
  for (const d of [...new Set(dirs)].sort((a, b) => b.split('/').length - a.split('/').length)) {
    try {
      if (readdirSync(d).length === 0) rmdirSync(d);
    } catch {
      /* gone or not empty: leave it */
    }
  }
}

interface Planned {
  spec: FileSpec;
  real: string;
  current: string | null;
  next: string | null;
  base: string | null;
  owned: unknown;
  note?: string;
}

/** The pre-credmux content of a file setup edited before, and how we know it. */
function baseOf(spec: FileSpec, rec: FileRecord | undefined, current: string | null): Promise<{ base: string | null; edited: boolean }> {
  if (!rec) return Promise.resolve({ base: current, edited: false });
  if (sha256(current) === rec.after) {
    if (!rec.existed) return Promise.resolve({ base: null, edited: false });
    const kept = rec.backup ? readOrNull(rec.backup) : null;
    if (kept !== null) return Promise.resolve({ base: kept, edited: false });
  }
  return spec.revert(current, rec.owned).then((b) => ({ base: !rec.existed && b === '' ? null : b, edited: true }));
}

export interface RunOptions {
  dryRun: boolean;
}

/** Adds credmux's part to every file (or shows the diff). */
export async function applyFiles(env: Env, tool: Tool, specs: FileSpec[], links: LinkSpec[], opts: RunOptions): Promise<Change[]> {
  const m = loadManifest(env, tool);
  const plans: Planned[] = [];
  for (const spec of specs) {
    const real = realTarget(spec.path);
    const current = readOrNull(real);
    const rec = m.files[spec.path];
    const { base, edited } = await baseOf(spec, rec, current);
    const { content: next, owned } = await spec.apply(base);
    plans.push({
      spec,
      real,
      current,
      next,
      base,
      owned,
      ...(edited && next !== current ? { note: 'edited since the last setup: your edits are kept' } : {}),
    });
  }
  const changes: Change[] = plans.map((p) => ({
    path: p.spec.path,
    kind: p.next === p.current ? 'unchanged' : p.current === null ? 'create' : p.next === null ? 'delete' : 'update',
    diff: unifiedDiff(p.spec.path, p.current, p.next, `after credmux setup ${tool}`),
    ...(p.note ? { note: p.note } : {}),
  }));
  changes.push(...links.map((l) => linkChange(l)));
  if (opts.dryRun) return changes;

  for (const p of plans) {
    const rec = m.files[p.spec.path];
    if (p.next === p.current) continue;
    if (p.next !== null) recordDirs(env, ensureParents(p.real, p.spec.dirMode ?? 0o755));
    if (p.next === p.base) {
      // Nothing of credmux's is left to add (e.g. every host was logged out): give back the base.
      if (p.next === null) rmIfExists(p.real);
      else writeAtomic(p.real, p.next, modeOf(p.real) ?? p.spec.newMode);
      if (rec?.backup) rmIfExists(rec.backup);
      delete m.files[p.spec.path];
      sweepDirs(env);
      continue;
    }
    const backup = `${p.real}${BACKUP_SUFFIX}`;
    const mode = modeOf(p.real) ?? p.spec.newMode;
    if (p.base !== null && readOrNull(backup) !== p.base) writeAtomic(backup, p.base, mode);
    if (p.base === null) rmIfExists(backup);
    if (p.next === null) rmIfExists(p.real);
    else writeAtomic(p.real, p.next, mode);
    m.files[p.spec.path] = {
      existed: p.base !== null,
      ...(p.base !== null ? { backup } : {}),
      after: sha256(p.next),
      owned: p.owned,
    };
  }
  for (const l of links) applyLink(env, tool, m, l);
  saveManifest(env, m);
  return changes;
}

/** Takes credmux's part out of every file again (or shows the diff). */
export async function undoFiles(env: Env, tool: Tool, specs: FileSpec[], links: LinkSpec[], opts: RunOptions): Promise<Change[]> {
  const m = loadManifest(env, tool);
  const changes: Change[] = [];
  for (const spec of specs) {
    const rec = m.files[spec.path];
    if (!rec) {
      changes.push({ path: spec.path, kind: 'unchanged', diff: '', note: 'not set up by credmux: nothing to undo' });
      continue;
    }
    const real = realTarget(spec.path);
    const current = readOrNull(real);
    const { base, edited } = await baseOf(spec, rec, current);
    changes.push({
      path: spec.path,
      kind: base === current ? 'unchanged' : base === null ? 'delete' : current === null ? 'create' : 'update',
      diff: unifiedDiff(spec.path, current, base, `after credmux setup ${tool} --undo`),
      ...(edited ? { note: "edited since setup: removed only credmux's part, your edits are kept" } : {}),
    });
    if (opts.dryRun) continue;
    if (base !== current) {
      if (base === null) rmIfExists(real);
      else writeAtomic(real, base, modeOf(real) ?? modeOf(rec.backup ?? '') ?? spec.newMode);
    }
    if (rec.backup) rmIfExists(rec.backup);
    delete m.files[spec.path];
  }
  for (const l of links) {
    const rec = m.links[l.path];
    if (!rec) continue;
    const shared = otherToolsClaim(env, tool, l.path);
    const ours = linkTarget(l.path) === rec.target;
    changes.push({
      path: l.path,
      kind: shared || !ours ? 'unchanged' : 'delete',
      diff: '',
      note: shared
        ? `kept: credmux setup ${shared} still uses it`
        : ours
          ? `symlink to ${rec.target} removed`
          : "no longer credmux's link: left alone",
    });
    if (opts.dryRun) continue;
    if (!shared && ours) rmIfExists(l.path);
    delete m.links[l.path];
  }
  if (!opts.dryRun) {
    saveManifest(env, m);
    sweepDirs(env);
  }
  return changes;
}

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function linkChange(l: LinkSpec): Change {
  const now = linkTarget(l.path);
  if (now === l.target) return { path: l.path, kind: 'unchanged', diff: '' };
  return { path: l.path, kind: now === undefined ? 'create' : 'update', diff: '', note: `symlink → ${l.target}` };
}

/** The other tool whose setup record claims this link, if any (pip and uv share the keyring entry). */
function otherToolsClaim(env: Env, tool: Tool, path: string): Tool | undefined {
  for (const other of ['pip', 'uv', 'bazel', 'git', 'docker', 'podman', 'terraform', 'kubectl'] as const) {
    if (other === tool) continue;
    try {
      if (loadManifest(env, other).links[path]) return other;
    } catch {
      /* an unreadable record claims nothing */
    }
  }
  return undefined;
}

function applyLink(env: Env, tool: Tool, m: Manifest, l: LinkSpec): void {
  const now = linkTarget(l.path);
  let st;
  try {
    st = lstatSync(l.path);
  } catch {
    /* absent */
  }
  if (st && !st.isSymbolicLink()) throw new CredmuxError('bad-request', `${l.path} exists and is not a symlink; move it away and run setup again`);
  if (now === l.target) {
    // Already there: ours to remove later only if we made it, or if another tool's setup made it.
    if (!m.links[l.path] && otherToolsClaim(env, tool, l.path)) m.links[l.path] = { target: l.target };
    return;
  }
  recordDirs(env, ensureParents(l.path, l.dirMode));
  if (now !== undefined) rmIfExists(l.path);
  symlinkSync(l.target, l.path);
  m.links[l.path] = { target: l.target };
}
