// Runs every case of test/hardening/corpus/*.json against the BUILT entries as real processes, each in
// its own copy of a seeded user (file store, no daemon), and checks: the exact stdout, the exit code,
// stderr, that no seeded secret reached stderr, and that the store's bytes did not change. Daemon
// cases send their bytes on the socket of a real daemon serving a seeded user.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/dist.js';
import { inputBytes, loadCorpus, type CorpusCase } from './corpus.js';
import {
  cloneHome,
  daemonExecutable,
  disposeBuiltSnapshot,
  secretPiece,
  SEEDED_SECRETS,
  seededTemplate,
  show,
  snapshotDir,
  runBytes,
  sleep,
  type Home,
} from './helpers.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const corpus = loadCorpus();

let template: Home;
beforeAll(async () => {
  template = await seededTemplate();
}, 60_000);
afterAll(() => {
  template?.cleanup();
  disposeBuiltSnapshot();
});

function writeConfig(h: Home, c: CorpusCase): void {
  const given = [c.config, c.configText, c.configBase64].filter((x) => x !== undefined);
  if (given.length === 0) return;
  mkdirSync(join(h.configFile, '..'), { recursive: true });
  if (c.config !== undefined) writeFileSync(h.configFile, JSON.stringify(c.config));
  else if (c.configText !== undefined) writeFileSync(h.configFile, c.configText);
  else writeFileSync(h.configFile, Buffer.from(c.configBase64!, 'base64'));
}

/** "$HOME" in an expected stdout/stderr stands for the case's home directory. */
function checkStreams(c: CorpusCase, r: { code: number | null; stdout: string; stderr: string }, home: string): void {
  const e = JSON.parse(JSON.stringify(c.expect).replaceAll('$HOME', home)) as CorpusCase['expect'];
  const why = `${c.id}: ${c.description}\n${show(r)}`;
  if (e.stdout !== undefined) expect(r.stdout, why).toBe(e.stdout);
  expect(r.code, why).toBe(e.exitCode);
  if (e.stderr !== undefined) expect(r.stderr, why).toBe(e.stderr);
  if (e.stderrMatches !== undefined) expect(r.stderr, why).toMatch(new RegExp(e.stderrMatches));
  for (const s of e.notIncludes ?? []) {
    expect(secretPiece(r.stdout, s), `${c.id}: stdout must not contain any piece of ${JSON.stringify(s)}`).toBeUndefined();
    expect(secretPiece(r.stderr, s), `${c.id}: stderr must not contain any piece of ${JSON.stringify(s)}`).toBeUndefined();
  }
  for (const s of SEEDED_SECRETS) expect(r.stderr, `${c.id}: a stored secret on stderr`).not.toContain(s);
  // A stored secret may be on stdout only where the case says exactly what stdout is.
  if (e.stdout === undefined) for (const s of SEEDED_SECRETS) expect(r.stdout, `${c.id}: a stored secret on stdout`).not.toContain(s);
}

describe('the corpus itself', () => {
  it('has at least 150 cases with unique ids, each stating stdout, exit code and stderr', () => {
    const all = corpus.flatMap((f) => f.cases);
    expect(all.length).toBeGreaterThanOrEqual(150);
    const ids = all.map((c) => c.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    for (const c of all) {
      const e = c.expect;
      if (c.entry === 'daemon') {
        expect(e.replies, c.id).toBeDefined();
        continue;
      }
      expect(typeof e.exitCode, c.id).toBe('number');
      expect(e.stdout, `${c.id} states its exact stdout`).toBeTypeOf('string');
      expect(e.stderr !== undefined || e.stderrMatches !== undefined, `${c.id} states its stderr`).toBe(true);
      expect(() => inputBytes(c), c.id).not.toThrow();
    }
  });
});

for (const file of corpus.filter((f) => f.area !== 'daemon')) {
  describe.concurrent(`corpus: ${file.area}`, () => {
    for (const c of file.cases) {
      const test = c.knownBug === undefined ? it : it.fails;
      test(`${c.id}: ${c.description}${c.knownBug ? ` [known bug: ${c.knownBug}]` : ''}`, async () => {
        const h = cloneHome(template, c.env ?? {});
        try {
          writeConfig(h, c);
          const before = snapshotDir(h.dataDir);
          expect(Object.keys(before).length, 'the seeded store is there').toBeGreaterThan(0);
          const r = await runBytes(c.entry as Exclude<CorpusCase['entry'], 'daemon'>, c.argv ?? [], h.env, inputBytes(c));
          checkStreams(c, r, h.home);
          expect(snapshotDir(h.dataDir), `${c.id}: the store changed`).toEqual(before);
        } finally {
          h.cleanup();
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The daemon: one real daemon for a seeded user; every case opens a connection, sends its bytes,
// half-closes, and reads every reply until the daemon closes the connection.

const daemonCases = corpus.find((f) => f.area === 'daemon')?.cases ?? [];

describe('corpus: daemon', () => {
  let h: Home;
  let daemon: ChildProcess;
  let socket: string;

  beforeAll(async () => {
    h = cloneHome(template, { CREDMUX_IDLE_TIMEOUT: '120' });
    socket = join(h.env.XDG_RUNTIME_DIR!, 'credmux', 'daemon.sock');
    const exe = daemonExecutable();
    daemon = spawn(exe.command, exe.args, { env: h.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    daemon.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await canTalk(socket)) break;
      if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`the daemon did not start: exit ${daemon.exitCode}: ${err}`);
      await sleep(20);
    }
  }, 30_000);
  afterAll(() => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    if (h) rmSync(h.root, { recursive: true, force: true });
  });

  for (const c of daemonCases) {
    const test = c.knownBug === undefined ? it : it.fails;
    test(`${c.id}: ${c.description}`, async () => {
      const before = snapshotDir(h.dataDir);
      const replies = await exchange(socket, inputBytes(c) ?? Buffer.alloc(0));
      const expected = JSON.parse(JSON.stringify(c.expect.replies).replaceAll('$VERSION', VERSION)) as unknown[];
      expect(replies, `${c.id}: ${c.description}`).toEqual(expected);
      for (const s of SEEDED_SECRETS) {
        if (!JSON.stringify(expected).includes(s)) expect(JSON.stringify(replies), `${c.id}: a stored secret in a reply`).not.toContain(s);
      }
      expect(snapshotDir(h.dataDir), `${c.id}: the store changed`).toEqual(before);
      expect(daemon.exitCode, 'the daemon survived the case').toBeNull();
    });
  }
});

function canTalk(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Sends `bytes`, half-closes, and returns every reply line (parsed) until the daemon ends the connection. */
function exchange(path: string, bytes: Buffer): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = connect({ path, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no end of replies within 10 s; got ${Buffer.concat(chunks).toString('utf8').slice(0, 500)}`));
    }, 10_000);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('end', () => {
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(
          text
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as unknown),
        );
      } catch {
        reject(new Error(`a reply is not JSON: ${text.slice(0, 500)}`));
      }
    });
    s.once('connect', () => s.end(bytes));
  });
}
