// `credmux import [netrc|docker|git|pypirc|uv|rattler]… [--dry-run]`: copies credentials other tools
// keep in files into credmux's store, through the engine's `store` op (the same store, patterns and
// normalisation as `credmux login` and every helper). Nothing stored is ever overwritten: an entry with
// the same URL and username but another secret is a conflict, reported with the command that resolves it.
import { readFileSync } from 'node:fs';
import { openEngine, type OpenedEngine } from '../../engine/open.js';
import type { Env } from '../../platform/paths.js';
import { CredmuxError, type Credential } from '../../model/types.js';
import { formatPattern, parsePattern, parseRequest, patternFromRequest } from '../../model/url.js';
import type { Io } from '../credentials.js';
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

/** The pattern the engine stores `url` under (engine.ts `store`): a wildcard as given, else exactly this origin and path. */
function storedUrl(url: string): string {
  return /^(?:[a-z]+:\/\/)?\*\./i.test(url) ? formatPattern(parsePattern(url)) : formatPattern(patternFromRequest(parseRequest(url)));
}

export async function runImport(env: Env, io: Io, opts: { sources?: readonly string[]; dryRun: boolean }): Promise<number> {
  const explicit = opts.sources !== undefined && opts.sources.length > 0;
  const names = explicit ? [...new Set(opts.sources as SourceName[])] : [...SOURCE_NAMES];
  const engine = await openEngine(env);
  const planned = new Map<string, string>();
  const tally: Tally = { imported: 0, present: 0, conflicts: 0, skipped: 0, badFiles: 0, filesRead: 0 };
  const out: string[] = [];
  if (opts.dryRun) out.push('credmux import --dry-run: nothing is stored, and no secret is shown.', '');
  const missing: string[] = [];

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
        out.push(`${name}  ${tilde(file, env)}: cannot read it (${code ?? (e as Error).message}); skipped this file`);
        continue;
      }
      found = true;
      let parsed;
      try {
        parsed = source.parse(text);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        tally.badFiles++;
        out.push(`${name}  ${tilde(file, env)}: malformed, ${e.message}; nothing imported from it (fix the file and run again)`);
        continue;
      }
      tally.filesRead++;
      out.push(`${name}  ${tilde(file, env)}`);
      if (parsed.candidates.length === 0 && parsed.skipped.length === 0) out.push('  (no credentials in it)');
      for (const c of parsed.candidates) {
        const r = await importOne(engine, c, planned, opts.dryRun, name);
        count(tally, r.outcome);
        out.push(`  ${r.outcome.padEnd(12)} ${r.line}`);
      }
      for (const s of parsed.skipped) {
        tally.skipped++;
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
  if (!opts.dryRun && tally.imported) out.push('To have your tools ask credmux for them: credmux setup git|docker|bazel|pip|uv');
  io.out(`${out.join('\n')}\n`);
  if (!opts.dryRun && tally.imported) await keepDaemonOnStore(env, engine.store, io);
  if (tally.conflicts || tally.badFiles) return EXIT_PROBLEMS;
  if (tally.filesRead === 0) return EXIT.notFound;
  return EXIT.ok;
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
): Promise<{ outcome: Outcome; line: string }> {
  const cred: Credential = c.credential;
  const who = cred.username === '' ? '(no username)' : cred.username;
  let url: string;
  try {
    url = storedUrl(c.url);
  } catch (e) {
    return { outcome: 'skipped', line: `${c.where}: ${(e as Error).message}` };
  }
  const label = `${url}  ${who} (${cred.kind}), from ${c.where}`;
  const key = `${url}\n${cred.username}`;
  const existing = planned.get(key) ?? (await engine.store.get({ url, username: cred.username }))?.secret;
  if (existing !== undefined) {
    if (existing === cred.secret) return { outcome: 'present', line: label };
    return {
      outcome: 'conflict',
      line: `${label}: a different secret is already stored for this URL and user; kept it. To take the one from the file: credmux logout ${shq(url)} --username ${shq(cred.username)} && credmux import ${source}`,
    };
  }
  planned.set(key, cred.secret);
  if (dryRun) return { outcome: 'would import', line: label };
  const r = await engine.handle({ op: 'store', url: c.url, credential: cred });
  if (r.op === 'error') throw new CredmuxError(r.error.code, r.error.message);
  if (r.op === 'store' && !r.stored) return { outcome: 'present', line: `${label}: the same credential is already served for it` };
  return { outcome: 'imported', line: label };
}
