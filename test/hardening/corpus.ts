// The bad-input corpus (test/hardening/corpus/*.json): its format, and how a case's bytes are made.
// Each case runs one BUILT entry as a real process in a copy of a seeded user (see helpers.ts), or
// sends one line to a real daemon, and states exactly what must come out.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Entry } from '../helpers/dist.js';

export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'corpus');

/** Input bytes: exactly one of these (none: stdin is /dev/null, as pip gives `keyring`). */
export interface InputSpec {
  stdin?: string;
  stdinBase64?: string;
  /** prefix + `fill` repeated + suffix, cut to exactly `totalBytes` (prefix and suffix kept whole). */
  stdinFill?: { prefix?: string; fill: string; suffix?: string; totalBytes: number };
  /** Concatenated pieces; `{ repeat, times }` stands for `repeat` written `times` times (deep nesting). */
  stdinParts?: Array<string | { repeat: string; times: number }>;
}

export interface CorpusExpect {
  exitCode: number;
  /** Exact stdout. */
  stdout?: string;
  /** Exact stderr, or a regular expression it must match. */
  stderr?: string;
  stderrMatches?: string;
  /** Strings that must appear on neither stream (secrets the input carried). */
  notIncludes?: string[];
  /** Daemon cases: the reply lines, as JSON ("$VERSION" stands for the package version). */
  replies?: unknown[];
}

export interface CorpusCase extends InputSpec {
  id: string;
  description: string;
  /** A built entry, or "daemon": the input is sent as is on a real daemon's socket. */
  entry: Entry | 'daemon';
  argv?: string[];
  /** Replaces the seeded config file: as JSON, as raw text, or as raw bytes. */
  config?: unknown;
  configText?: string;
  configBase64?: string;
  /** Added to (or overriding) the isolated environment. */
  env?: Record<string, string>;
  expect: CorpusExpect;
  /**
   * A defect in a file this suite does not own: the case runs as an expected failure, so it turns
   * red the day the defect is fixed and the marker must go.
   */
  knownBug?: string;
}

export interface CorpusFile {
  area: string;
  cases: CorpusCase[];
}

export function loadCorpus(): CorpusFile[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      area: f.replace(/\.json$/, ''),
      cases: (JSON.parse(readFileSync(join(CORPUS_DIR, f), 'utf8')) as { cases: CorpusCase[] }).cases,
    }));
}

export function inputBytes(c: InputSpec): Buffer | undefined {
  const given = [c.stdin, c.stdinBase64, c.stdinFill, c.stdinParts].filter((x) => x !== undefined).length;
  if (given > 1) throw new Error('a case gives more than one of stdin, stdinBase64, stdinFill, stdinParts');
  if (c.stdinParts !== undefined)
    return Buffer.from(c.stdinParts.map((p) => (typeof p === 'string' ? p : p.repeat.repeat(p.times))).join(''), 'utf8');
  if (c.stdin !== undefined) return Buffer.from(c.stdin, 'utf8');
  if (c.stdinBase64 !== undefined) return Buffer.from(c.stdinBase64, 'base64');
  if (c.stdinFill !== undefined) {
    const { prefix = '', fill, suffix = '', totalBytes } = c.stdinFill;
    const head = Buffer.from(prefix, 'utf8');
    const tail = Buffer.from(suffix, 'utf8');
    const middle = totalBytes - head.length - tail.length;
    if (middle < 0 || fill === '') throw new Error('stdinFill: prefix and suffix exceed totalBytes, or fill is empty');
    const unit = Buffer.from(fill, 'utf8');
    const body = Buffer.alloc(middle);
    for (let i = 0; i < middle; i += unit.length) unit.copy(body, i, 0, Math.min(unit.length, middle - i));
    return Buffer.concat([head, body, tail]);
  }
  return undefined;
}
