// The client's trust in the daemon directory (issue 15, class 1), unit by unit: what makes it
// trusted, absent or untrusted, with the fix each refusal names; and the notice said once. The same
// attacks as real processes of a second account are in test/hardening/local-user.test.ts.
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonDirTrust } from '../../src/ipc/trust.js';
import { NOTICE_QUIET_MS, noticeDue } from '../../src/client/untrusted-notice.js';
import { tempDirs } from './helpers.js';

const tmp = tempDirs('cmx-trust-');
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function layout(parentMode = 0o700) {
  const root = tmp();
  const parent = join(root, 'rt');
  mkdirSync(parent, { mode: 0o700 });
  chmodSync(parent, parentMode);
  const dir = join(parent, 'credmux');
  return { root, parent, dir, socket: join(dir, 'daemon.sock') };
}

function listen(path: string): Promise<void> {
  return new Promise((resolve) => {
    const s = createServer(() => {});
    servers.push(s);
    s.listen(path, () => resolve());
  });
}

const me = process.getuid!();

describe('daemonDirTrust', () => {
  it('absent: no runtime dir, no credmux/ in it, or no socket in a private credmux/', () => {
    const f = layout();
    expect(daemonDirTrust({ dir: join(f.root, 'nope', 'credmux'), socket: join(f.root, 'nope', 'credmux', 'daemon.sock') })).toEqual({
      state: 'absent',
    });
    expect(daemonDirTrust(f)).toEqual({ state: 'absent' });
    mkdirSync(f.dir, { mode: 0o700 });
    expect(daemonDirTrust(f)).toEqual({ state: 'absent' });
  });

  it('trusted: ours, 0700, a socket of ours; a world-writable parent is fine with the sticky bit (as /tmp)', async () => {
    const f = layout(0o1777);
    mkdirSync(f.dir, { mode: 0o700 });
    await listen(f.socket);
    expect(daemonDirTrust(f)).toEqual({ state: 'trusted' });
  });

  it('untrusted: credmux/ open to group or others, with the exact chmod', async () => {
    const f = layout();
    mkdirSync(f.dir, { mode: 0o700 });
    chmodSync(f.dir, 0o777);
    await listen(f.socket);
    expect(daemonDirTrust(f)).toEqual({
      state: 'untrusted',
      problem: `${f.dir} is accessible to group or others (mode 0777); run: chmod 700 ${f.dir}`,
    });
  });

  it("untrusted: credmux/ is a link (to a directory of ours or anyone's)", async () => {
    const f = layout();
    const elsewhere = join(f.root, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, f.dir);
    await listen(join(elsewhere, 'daemon.sock'));
    expect(daemonDirTrust(f)).toMatchObject({ state: 'untrusted', problem: expect.stringContaining('is a symbolic link') });
  });

  it('untrusted: a parent others can write without the sticky bit (they could swap credmux/ between check and connect)', () => {
    const f = layout(0o777);
    mkdirSync(f.dir, { mode: 0o700 });
    expect(daemonDirTrust(f)).toEqual({
      state: 'untrusted',
      problem: `${f.parent} lets group or others replace ${f.dir} (mode 0777, no sticky bit); run: chmod go-w ${f.parent}, or point XDG_RUNTIME_DIR at a directory of yours`,
    });
  });

  it('untrusted: owned by another uid — the parent, credmux/ or the socket (as seen by a caller of another uid)', async () => {
    const f = layout();
    mkdirSync(f.dir, { mode: 0o700 });
    await listen(f.socket);
    // Runs without root: the files are ours, the caller is told it is someone else.
    const other = me + 1;
    expect(daemonDirTrust(f, other)).toEqual({
      state: 'untrusted',
      // A root-owned parent is trusted by everyone (as /run/user is); then credmux/ itself is not the caller's.
      problem:
        me === 0
          ? `${f.dir} belongs to uid 0, not to you (uid ${other}); remove it or point XDG_RUNTIME_DIR at a directory of yours`
          : `${f.parent} belongs to uid ${me}, who could replace ${f.dir} (you are uid ${other}); point XDG_RUNTIME_DIR at a directory of yours`,
    });
    // The same layout, seen by its owner, is trusted: the uid alone made the difference.
    expect(statSync(f.socket).uid).toBe(me);
    expect(daemonDirTrust(f, me)).toEqual({ state: 'trusted' });
  });

  it('untrusted: a daemon.sock that is not a socket', () => {
    const f = layout();
    mkdirSync(f.dir, { mode: 0o700 });
    writeFileSync(f.socket, '');
    expect(daemonDirTrust(f)).toEqual({ state: 'untrusted', problem: `${f.socket} is not a socket; remove it` });
  });
});

describe('the notice that the daemon is not used', () => {
  it('is due once for a problem, then not again for NOTICE_QUIET_MS; a new problem, or the time up, makes it due again', () => {
    const env = { HOME: tmp() };
    const t = 1_700_000_000_000;
    expect(noticeDue('problem A', env, t)).toBe(true);
    expect(noticeDue('problem A', env, t + 1_000)).toBe(false);
    expect(noticeDue('problem A', env, t + NOTICE_QUIET_MS - 1)).toBe(false);
    expect(noticeDue('problem B', env, t + 2_000)).toBe(true);
    expect(noticeDue('problem B', env, t + 2_000 + NOTICE_QUIET_MS)).toBe(true);
    // Remembered in the user's own state directory, 0600.
    const file = join(env.HOME, '.local', 'state', 'credmux', 'untrusted-daemon-dir.notice');
    expect(readFileSync(file, 'utf8')).toBe('problem B');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('is always due when the state directory is not private, or the record is a link (nothing there can be trusted)', () => {
    const home = tmp();
    const state = join(home, '.local', 'state', 'credmux');
    mkdirSync(state, { recursive: true });
    chmodSync(state, 0o755);
    expect(noticeDue('problem C', { HOME: home }, 1)).toBe(true);
    expect(noticeDue('problem C', { HOME: home }, 2)).toBe(true);
    chmodSync(state, 0o700);
    const target = join(home, 'target');
    writeFileSync(target, 'problem C');
    symlinkSync(target, join(state, 'untrusted-daemon-dir.notice'));
    expect(noticeDue('problem C', { HOME: home }, 3)).toBe(true);
    expect(noticeDue('problem C', { HOME: home }, 4)).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('problem C');
  });
});
