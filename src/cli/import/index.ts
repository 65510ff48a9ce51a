// `credmux import [netrc|docker|git|pypirc|uv|rattler]… [--dry-run]`: copies credentials other tools
// keep in files into credmux's store, through the engine's `store` op (the same store, patterns and
// normalisation as `credmux login` and every helper). Nothing stored is ever overwritten: an entry with
// the same URL and username but another secret is a conflict, reported with the command that resolves it.
import { readFileSync } from 'node:fs';
import { openEngine, type OpenedEngine } from '../../engine/open.js';
import type { Env } from '../../platform/paths.js';
import { CredmuxError, type Credential } from '../../model/types.js';
import { storedUrl, type Io } from '../credentials.js';
import { EXIT } from '../exit-codes.js';
import { keepDaemonOnStore } from '../daemon-store-sync.js';
import { EXIT_PROBLEMS, shq, tilde } from '../setup/common.js';
import { dockerImport } from './docker.js';
import { gitImport } from './git-credentials.js';
import { netrcImport } from './netrc.js';
import { pypircImport } from './pypirc.js';
import { rattlerImport } from './rattler.js';
import { FormatError, SOURCE_NAMES, type Candidate, type ImportSource, type SourceName } from './types.js';
import { uvImport } from './uv.js';

const SOURCES: Record<SourceName, ImportSource> = {
  netrc: netrcImport,
  docker: dockerImport,
  git: gitImport,
  pypirc: pypircImport,
  uv: uvImport,
  rattler: rattlerImport,
};

type Outcome = 'imported' | 'would import' | 'present' | 'conflict' | 'skipped' | 'error';

interface Tally {
  imported: number;
  present: number;
  conflicts: number;
  skipped: number;
  badFiles: number;
  filesRead: number;
}

/** One credential or skipped entry of a file, for --json: never the secret. */
interface ReportItem {
  outcome: Outcome;
  where: string;
  url?: string;
  username?: string;
  kind?: string;
  reason?: string;
}

interface ReportFile {
  source: SourceName;
  file: string;
  status: 'read' | 'unreadable' | 'malformed';
  problem?: string;
  items: ReportItem[];
}

/** The setups that wire what each source imported (its ImportSource.protocols). */
const SETUPS_FOR: Record<SourceName, string> = {
  netrc: 'git|docker|podman|bazel|pip|uv',
  docker: 'docker|podman',
  git: 'git',
  pypirc: 'pip|uv',
  uv: 'pip|uv',
  rattler: 'bazel',
};

export async function runImport(env: Env, io: Io, opts: { sources?: readonly string[]; dryRun: boolean; json?: boolean }): Promise<number> {
  const explicit = opts.sources !== undefined && opts.sources.length > 0;
  const names = explicit ? [...new Set(opts.sources as SourceName[])] : [...SOURCE_NAMES];
  const engine = await openEngine(env);
  const planned = new Map<string, string>();
  const tally: Tally = { imported: 0, present: 0, conflicts: 0, skipped: 0, badFiles: 0, filesRead: 0 };
  const out: string[] = [];
  if (opts.dryRun) out.push('credmux import --dry-run: nothing is stored, and no secret is shown.', '');
  const missing: string[] = [];
  const report: ReportFile[] = [];
  const importedFrom = new Set<SourceName>();

  for (const name of names) {
    const source = SOURCES[name];
    let found = false;
    for (const file of source.files(env)) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        found = true;
        tally.badFiles++;
        const problem = `cannot read it (${code ?? (e as Error).message})`;
        report.push({ source: name, file, status: 'unreadable', problem, items: [] });
        out.push(`${name}  ${tilde(file, env)}: ${problem}; skipped this file`);
        continue;
      }
      found = true;
      let parsed;
      try {
        parsed = source.parse(text);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        tally.badFiles++;
        report.push({ source: name, file, status: 'malformed', problem: e.message, items: [] });
        out.push(`${name}  ${tilde(file, env)}: malformed, ${e.message}; nothing imported from it (fix the file and run again)`);
        continue;
      }
      tally.filesRead++;
      const items: ReportItem[] = [];
      report.push({ source: name, file, status: 'read', items });
      out.push(`${name}  ${tilde(file, env)}`);
      if (parsed.candidates.length === 0 && parsed.skipped.length === 0) out.push('  (no credentials in it)');
      for (const c of parsed.candidates) {
        const r = await importOne(engine, c, planned, opts.dryRun, name);
        count(tally, r.outcome);
        if (r.outcome === 'imported') importedFrom.add(name);
        items.push(r.item);
        out.push(`  ${r.outcome.padEnd(12)} ${r.line}`);
      }
      for (const s of parsed.skipped) {
        tally.skipped++;
        items.push({ outcome: 'skipped', where: s.where, reason: s.reason });
        out.push(`  ${'skipped'.padEnd(12)} ${s.where}: ${s.reason}`);
      }
    }
    if (!found)
      missing.push(
        `${name} (${source
          .files(env)
          .map((f) => tilde(f, env))
          .join(' or ')})`,
      );
  }

  if (missing.length) out.push(`${explicit ? 'Not found' : 'No file for'}: ${missing.join(', ')}`);
  out.push(
    '',
    `${opts.dryRun ? 'Would import' : 'Imported'} ${tally.imported}, already present ${tally.present}, conflicts ${tally.conflicts}, skipped ${tally.skipped}` +
      `${tally.badFiles ? `, unreadable or malformed files ${tally.badFiles}` : ''}.`,
  );
  const setups = [...new Set([...importedFrom].flatMap((n) => SETUPS_FOR[n].split('|')))];
  if (!opts.dryRun && setups.length) out.push(`To have your tools ask credmux for them: credmux setup ${setups.join('|')}`);
  const code = tally.conflicts || tally.badFiles ? EXIT_PROBLEMS : tally.filesRead === 0 ? EXIT.notFound : EXIT.ok;
  if (opts.json) {
    const { filesRead: _read, ...totals } = tally;
    io.out(`${JSON.stringify({ dryRun: opts.dryRun, files: report, notFound: missing, totals, setup: setups }, null, 2)}\n`);
  } else {
    io.out(`${out.join('\n')}\n`);
  }
  if (!opts.dryRun && tally.imported) await keepDaemonOnStore(env, engine.store, io);
  return code;
}

function count(t: Tally, o: Outcome): void {
  if (o === 'imported' || o === 'would import') t.imported++;
  else if (o === 'present') t.present++;
  else if (o === 'conflict') t.conflicts++;
  else if (o === 'skipped') t.skipped++;
}

async function importOne(
  engine: OpenedEngine,
  c: Candidate,
  planned: Map<string, string>,
  dryRun: boolean,
  source: SourceName,
): Promise<{ outcome: Outcome; line: string; item: ReportItem }> {
  const cred: Credential = c.credential;
  const who = cred.username === '' ? '(no username)' : cred.username;
  const done = (outcome: Outcome, line: string, url?: string, reason?: string) => ({
    outcome,
    line,
    item: {
      outcome,
      where: c.where,
      ...(url !== undefined ? { url, username: cred.username, kind: cred.kind } : {}),
      ...(reason !== undefined ? { reason } : {}),
    },
  });
  let url: string;
  try {
    url = storedUrl(c.url);
  } catch (e) {
    return done('skipped', `${c.where}: ${(e as Error).message}`, undefined, (e as Error).message);
  }
  const label = `${url}  ${who} (${cred.kind}), from ${c.where}`;
  const key = `${url}\n${cred.username}`;
  const existing = planned.get(key) ?? (await engine.store.get({ url, username: cred.username }))?.secret;
  if (existing !== undefined) {
    if (existing === cred.secret) return done('present', label, url);
    const reason = `a different secret is already stored for this URL and user; kept it. To take the one from the file: credmux logout ${shq(url)} --username ${shq(cred.username)} && credmux import ${source}`;
    return done('conflict', `${label}: ${reason}`, url, reason);
  }
  planned.set(key, cred.secret);
  if (dryRun) return done('would import', label, url);
  const r = await engine.handle({ op: 'store', url: c.url, credential: cred, protocols: SOURCES[source].protocols });
  if (r.op === 'error') throw new CredmuxError(r.error.code, r.error.message);
  if (r.op === 'store' && !r.stored)
    return done('present', `${label}: the same credential is already served for it`, url, 'the same credential is already served for it');
  return done('imported', label, url);
}
