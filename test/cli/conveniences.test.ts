// What a new user expects of a CLI (issue 17): completion, `logout --all`, `--json` where a script
// would parse the answer, a version that names the commit, colour only on a terminal, and messages
// that say what happened (Replaced vs Stored, an empty password) or the whole command to type.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCommit } from '../../scripts/commit.mjs';
import { REPO_ROOT, requireTools } from '../helpers/dist.js';
import { isolatedEnv, run } from './run-bin.js';

const SECRET = 'pw-conv-V9q2';
const login = (env: Record<string, string>, url: string, extra: string[] = [], secret = SECRET) =>
  run('credmux', ['login', url, '--username', 'alice', '--password-stdin', ...extra], env, `${secret}\n`);

/** Runs `command` on a real pseudo-terminal (util-linux script), typing `input`; what the terminal showed. */
function onTerminal(command: string, env: Record<string, string>, input = ''): string {
  requireTools(['script']);
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { env, input, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return r.stdout;
}

describe('messages that say what happened', () => {
  it('Stored, then Replaced for a new secret, Already stored for the same; an empty password is stored with a warning', async () => {
    const env = isolatedEnv();
    const first = await login(env, 'https://pkgs.example.com');
    expect(first.stderr).toMatch(/^Stored the password of alice for https:\/\/pkgs\.example\.com \(for every tool\) in the file store/);
    const same = await login(env, 'https://pkgs.example.com');
    expect(same.stderr).toMatch(/^Already stored: the password of alice for https:\/\/pkgs\.example\.com, the same as before/);
    const other = await login(env, 'https://pkgs.example.com', [], `${SECRET}-2`);
    expect(other.stderr).toMatch(/^Replaced the password of alice/);
    const empty = await login(env, 'https://empty.example.com', [], '');
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain('Warning: the password is empty (was the variable you piped in unset?)');
    expect(empty.stderr).toContain('echo "$PASSWORD" | credmux login https://empty.example.com --username alice --password-stdin');
    for (const r of [first, same, other, empty]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('a password piped without --password-stdin, or a login without a URL: one message with the whole command, nothing stored', async () => {
    const env = isolatedEnv();
    const piped = await run('credmux', ['login', 'https://pkgs.example.com'], env, `${SECRET}\n`);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toBe(
      'credmux: stdin is not a terminal, and credmux reads a secret from it only when told: ' +
        'echo "$PASSWORD" | credmux login https://pkgs.example.com --username NAME --password-stdin (--token-stdin for a token)\n',
    );
    const noUrl = await run('credmux', ['login', '--username', 'alice', '--password-stdin'], env, `${SECRET}\n`);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toBe('credmux: name the URL to log in to: echo "$PASSWORD" | credmux login URL --username alice --password-stdin\n');
    expect(noUrl.stderr).not.toContain('Not enough non-option arguments');
    expect(JSON.parse((await run('credmux', ['list', '--json'], env)).stdout).entries).toEqual([]);
  });
});

describe('credmux logout --all', () => {
  it('without a terminal it wants --yes and removes nothing; with --yes it removes every stored credential (of --username)', async () => {
    const env = isolatedEnv();
    await login(env, 'https://a.example.com');
    await login(env, 'https://b.example.com');
    await run('credmux', ['login', 'https://c.example.com', '--username', 'bob', '--password-stdin'], env, 'pw-bob\n');
    const refused = await run('credmux', ['logout', '--all'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('credmux: credmux logout --all would remove 3 stored credentials; with no terminal to ask on, confirm with --yes\n');
    expect(JSON.parse((await run('credmux', ['list', '--json'], env)).stdout).entries).toHaveLength(3);

    const bob = await run('credmux', ['logout', '--all', '--username', 'bob', '--yes', '--json'], env);
    expect(bob.code).toBe(0);
    expect(JSON.parse(bob.stdout)).toEqual({ removed: 1, entries: [{ url: 'https://c.example.com', username: 'bob' }] });
    const all = await run('credmux', ['logout', '--all', '--yes'], env);
    expect(all.code).toBe(0);
    expect(all.stderr).toMatch(/^Removed 2 stored credentials from the file store/);
    expect(JSON.parse((await run('credmux', ['list', '--json'], env)).stdout).entries).toEqual([]);
    expect((await run('credmux', ['logout', '--all', '--yes'], env)).code).toBe(1);
    expect((await run('credmux', ['logout', 'https://a.example.com', '--all'], env)).code).toBe(2);
  });

  it('on a terminal it lists what would go and asks; only "y" removes', async () => {
    const env = isolatedEnv();
    await login(env, 'https://a.example.com');
    const no = await onTerminal('credmux logout --all', { ...env, PATH: `${join(REPO_ROOT, 'dist', 'bin')}:${env.PATH}` }, 'n\n');
    expect(no).toContain('https://a.example.com  alice');
    expect(no).toContain('Remove them? [y/N]');
    expect(no).toContain('Nothing removed.');
    expect(JSON.parse((await run('credmux', ['list', '--json'], env)).stdout).entries).toHaveLength(1);
    const yes = await onTerminal('credmux logout --all', { ...env, PATH: `${join(REPO_ROOT, 'dist', 'bin')}:${env.PATH}` }, 'y\n');
    expect(yes).toContain('Removed 1 stored credential');
    expect(JSON.parse((await run('credmux', ['list', '--json'], env)).stdout).entries).toEqual([]);
  });
});

describe('--json on login, logout, setup and import', () => {
  it('each prints one JSON document on stdout, never the secret', async () => {
    const env = isolatedEnv();
    const l = await login(env, 'https://pkgs.example.com', ['--for', 'pip', '--json']);
    expect(l.code).toBe(0);
    expect(l.stderr).toBe('');
    expect(JSON.parse(l.stdout)).toMatchObject({
      url: 'https://pkgs.example.com',
      username: 'alice',
      kind: 'basic',
      result: 'stored',
      for: ['keyring'],
      store: { kind: 'file' },
      setup: { run: ['pip'] },
    });

    const setup = await run('credmux', ['setup', 'pip', '--json'], env);
    expect(setup.code).toBe(0);
    const s = JSON.parse(setup.stdout);
    expect(s).toMatchObject({ tool: 'pip', dryRun: false, undo: false });
    expect(s.changes.map((c: { kind: string }) => c.kind)).toEqual(['create', 'create']);
    expect(Array.isArray(s.notes) && Array.isArray(s.warnings)).toBe(true);

    writeFileSync(join(env.HOME!, '.netrc'), `machine n.example.com login nora password ${SECRET}-netrc\n`);
    const imp = await run('credmux', ['import', 'netrc', '--json'], env);
    expect(imp.code).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({
      dryRun: false,
      files: [{ source: 'netrc', status: 'read', items: [{ outcome: 'imported', url: 'https://n.example.com', username: 'nora', kind: 'basic' }] }],
      totals: { imported: 1, present: 0, conflicts: 0, skipped: 0, badFiles: 0 },
    });

    const out = await run('credmux', ['logout', 'https://pkgs.example.com', '--json'], env);
    expect(JSON.parse(out.stdout)).toEqual({
      url: 'https://pkgs.example.com',
      removed: 1,
      entries: [{ url: 'https://pkgs.example.com', username: 'alice' }],
    });
    for (const r of [l, setup, imp, out]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});

describe('completion and version', () => {
  it('credmux completion prints a script that asks credmux, and credmux answers it', async () => {
    const env = isolatedEnv();
    const script = await run('credmux', ['completion'], env);
    expect(script.code).toBe(0);
    expect(script.stdout).toContain('credmux --get-yargs-completions');
    const commands = (await run('credmux', ['--get-yargs-completions', 'credmux', ''], env)).stdout.split('\n');
    expect(commands).toEqual(expect.arrayContaining(['login', 'logout', 'setup', 'doctor', 'import', 'completion']));
    const tools = (await run('credmux', ['--get-yargs-completions', 'credmux', 'setup', ''], env)).stdout.split('\n');
    expect(tools).toEqual(expect.arrayContaining(['bazel', 'git', 'docker', 'pip', 'uv']));
  });

  it('--version names the commit dist/ was built from; a tree without git builds with the version alone', async () => {
    const v = (await run('credmux', ['--version'], isolatedEnv())).stdout.trim();
    const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
    const m = new RegExp(`^${version.replaceAll('.', '\\.')} \\(commit ([0-9a-f]{12})(-dirty)?\\)$`).exec(v);
    expect(m, v).not.toBeNull();
    execFileSync('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${m![1]}^{commit}`]); // a commit of this repository

    expect(buildCommit(REPO_ROOT, { ...process.env, PATH: '/nonexistent' })).toBe('');
    const notARepo = mkdtempSync(join(tmpdir(), 'credmux-no-git-'));
    try {
      expect(buildCommit(notARepo, { ...process.env, GIT_CEILING_DIRECTORIES: tmpdir() })).toBe('');
    } finally {
      rmSync(notARepo, { recursive: true, force: true });
    }
  });
});

describe('credmux doctor colour', () => {
  const ESC = '\x1b[';
  it('plain in a pipe; coloured on a terminal; never with NO_COLOR', async () => {
    const env = isolatedEnv();
    expect((await run('credmux', ['doctor'], env)).stdout).not.toContain(ESC);
    expect((await run('credmux', ['doctor'], { ...env, FORCE_COLOR: '1' })).stdout).toContain(`[${ESC}36minfo${ESC}0m]`);
    expect((await run('credmux', ['doctor'], { ...env, FORCE_COLOR: '1', NO_COLOR: '1' })).stdout).not.toContain(ESC);
    const withDist = { ...env, PATH: `${join(REPO_ROOT, 'dist', 'bin')}:${env.PATH}` };
    expect(await onTerminal('credmux doctor', withDist)).toContain(`[${ESC}36minfo${ESC}0m]`);
    expect(await onTerminal('credmux doctor', { ...withDist, NO_COLOR: '1' })).not.toContain(`${ESC}36m`);
  });
});
