// Another local account, for the attacks a second user on the same machine can make (issue 15): as
// root (CI), a throw-away account made with useradd, whose processes are started with runuser and
// which is removed with userdel afterwards. Without root no second account can exist; the tests then
// run the parts of each attack that one uid can stage (a directory open to others, a planted link)
// and say loudly that the ownership half was not run as a second account. They never skip.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

export interface Attacker extends Account {
  /** Runs `node -e script args…` as this account; resolves with its exit code and output. */
  run(script: string, args?: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /**
   * Starts `node -e script args…` as this account and resolves once it printed a line "ready". It
   * runs until stop() closes its stdin (every script here exits on that), so a failed test leaves
   * nothing of the account's running.
   */
  start(script: string, args?: readonly string[]): Promise<{ stop(): Promise<void>; output(): string }>;
  /** Stops what start() left running and removes the account. */
  remove(): Promise<void>;
}

export const IS_ROOT = process.getuid?.() === 0;

/** A directory every account can enter and create in, with the sticky bit, as /tmp is. */
export function sharedDir(prefix = 'credmux-shared-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(path, 0o1777);
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Creates the account (root only). Its name is unique to this process, so test files running at
 * once never share one; useradd is retried while another useradd holds the passwd lock.
 */
export async function createAttacker(): Promise<Attacker> {
  if (!IS_ROOT) throw new Error('createAttacker needs root (CI runs as root); use IS_ROOT to run the single-uid variant');
  const name = `cmxatk${process.pid}${Math.floor(Math.random() * 1e4)}`.slice(0, 30);
  for (let attempt = 0; ; attempt++) {
    try {
      execFileSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name], {
        stdio: 'pipe',
      });
      break;
    } catch (e) {
      const err = String((e as { stderr?: Buffer }).stderr ?? e);
      if (attempt >= 50 || !/lock/i.test(err)) throw new Error(`useradd ${name} failed: ${err}`, { cause: e });
      await new Promise((r) => setTimeout(r, 20 * (attempt + 1))); // another useradd holds /etc/passwd's lock
    }
  }
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const running = new Set<ChildProcess>();

  const spawnAs = (script: string, args: readonly string[]) => {
    // runuser: no password, no PAM session prompts; the account's own uid, gid and groups.
    const p = spawn('runuser', ['-u', name, '--', process.execPath, '-e', script, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
    });
    running.add(p);
    p.on('close', () => running.delete(p));
    return p;
  };

  const stopAll = () =>
    Promise.all(
      [...running].map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('close', () => resolve());
            p.stdin!.end();
          }),
      ),
    );

  return {
    name,
    uid,
    gid,
    run(script, args = []) {
      return new Promise((resolve, reject) => {
        const p = spawnAs(script, args);
        let stdout = '';
        let stderr = '';
        p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        p.stdin!.end();
        p.on('error', reject);
        p.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    start(script, args = []) {
      return new Promise((resolve, reject) => {
        const p = spawnAs(script, args);
        let out = '';
        let ready = false;
        p.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (!ready && /^ready$/m.test(out)) {
            ready = true;
            resolve({
              output: () => out,
              stop: () =>
                new Promise<void>((done) => {
                  if (p.exitCode !== null || p.signalCode !== null) return done();
                  p.once('close', () => done());
                  p.stdin!.end();
                }),
            });
          }
        });
        p.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
        p.on('error', reject);
        p.on('close', (code) => {
          if (!ready) reject(new Error(`the attacker's script exited ${code} before it was ready:\n${out}`));
        });
      });
    },
    async remove() {
      await stopAll();
      try {
        execFileSync('userdel', [name], { stdio: 'pipe' });
      } catch {
        execFileSync('userdel', ['--force', name], { stdio: 'pipe' });
      }
    },
  };
}

/** Said once per test file that could not use a second account, so a reader of the log knows. */
export function warnSingleUid(what: string): void {
  console.warn(
    `NOTE: not root, so no second account can be created: ${what} ran with planted files of this uid ` +
      '(modes and links), not as another account. CI runs as root and runs the real cross-account attack.',
  );
}
