// The small pieces: line framing, the private directory check, the log, the idle timeout setting and
// the environment fingerprint.
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './helpers.js';
import { LineSplitter } from '../../src/ipc/codec.js';
import { contextFingerprint } from '../../src/ipc/context.js';
import { clean, openLog, openLogFile } from '../../src/daemon/log.js';
import { daemonFiles, socketPathProblem } from '../../src/ipc/paths.js';
import { checkPrivateDir, ensurePrivateDir } from '../../src/ipc/private-dir.js';
import { parseIdleTimeout } from '../../src/daemon/run.js';
import { createConnectionServer } from '../../src/daemon/server.js';
import { createConnection } from 'node:net';

const tmp = tempDirs('cmx-u-');

describe('LineSplitter', () => {
  it('joins lines across chunks and splits several lines in one chunk', () => {
    const s = new LineSplitter(100);
    expect(s.push(Buffer.from('{"a"'))).toEqual([]);
    expect(s.push(Buffer.from(':1}\n{"b":2}\n{"c"'))).toEqual(['{"a":1}', '{"b":2}']);
    expect(s.push(Buffer.from(':3}\r\n'))).toEqual(['{"c":3}']);
  });

  it('decodes UTF-8 only on whole lines (a character split across chunks survives)', () => {
    const s = new LineSplitter(100);
    const euro = Buffer.from('€\n');
    expect(s.push(euro.subarray(0, 1))).toEqual([]);
    expect(s.push(euro.subarray(1))).toEqual(['€']);
  });

  it('reports an oversized line once, skips to its newline without buffering it, and resynchronises', () => {
    const s = new LineSplitter(10);
    expect(s.push(Buffer.from('0123456789'))).toEqual([]); // exactly the limit: still fine
    expect(s.push(Buffer.from('A'))).toEqual([{ tooLarge: true }]);
    expect(s.push(Buffer.alloc(10_000, 0x41))).toEqual([]);
    expect(s.push(Buffer.from('BBB\nok\n'))).toEqual(['ok']);
    expect(s.push(Buffer.from('0123456789\n'))).toEqual(['0123456789']);
  });
});

describe('private directory', () => {
  it('creates missing directories 0700 (parents too) and accepts them', () => {
    const d = join(tmp(), 'a', 'b', 'credmux');
    expect(checkPrivateDir(d)).toEqual({ state: 'missing' });
    ensurePrivateDir(d);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, '..')).mode & 0o777).toBe(0o700);
    expect(checkPrivateDir(d)).toEqual({ state: 'ok' });
  });

  it('refuses group/world access with the exact chmod, a symlink, and a file', () => {
    const root = tmp();
    const open = join(root, 'open');
    mkdirSync(open);
    chmodSync(open, 0o750);
    expect(checkPrivateDir(open)).toEqual({
      state: 'unsafe',
      problem: `${open} is accessible to group or others (mode 0750); run: chmod 700 ${open}`,
    });
    expect(() => ensurePrivateDir(open)).toThrow(`chmod 700 ${open}`);
    const link = join(root, 'link');
    mkdirSync(join(root, 'target'), { mode: 0o700 });
    symlinkSync(join(root, 'target'), link);
    expect(checkPrivateDir(link)).toMatchObject({ state: 'unsafe', problem: expect.stringContaining('symbolic link') });
    const file = join(root, 'file');
    writeFileSync(file, '');
    expect(() => ensurePrivateDir(file)).toThrow();
  });

  it('quotes a path with spaces in the chmod advice', () => {
    const d = join(tmp(), 'with space');
    mkdirSync(d, { mode: 0o777 });
    chmodSync(d, 0o777);
    expect(checkPrivateDir(d)).toMatchObject({ problem: expect.stringContaining(`chmod 700 '${d}'`) });
  });
});

describe('socket path length', () => {
  it('accepts up to the platform limit and explains beyond it', () => {
    expect(socketPathProblem('/' + 'a'.repeat(106), 'linux')).toBeUndefined();
    expect(socketPathProblem('/' + 'a'.repeat(107), 'linux')).toMatch(/108 bytes, more than the 107/);
    expect(socketPathProblem('/' + 'a'.repeat(103), 'darwin')).toMatch(/more than the 103/);
    expect(socketPathProblem('/' + 'é'.repeat(54), 'linux')).toMatch(/109 bytes/); // bytes, not characters
  });

  it('socket and log live where docs/architecture.md "Files" says', () => {
    expect(daemonFiles({ HOME: '/h', XDG_RUNTIME_DIR: '/run/user/1' })).toMatchObject({
      socket: '/run/user/1/credmux/daemon.sock',
      logFile: '/h/.local/state/credmux/daemon.log',
    });
    expect(daemonFiles({ HOME: '/h' }).socket).toBe('/h/.cache/credmux/run/daemon.sock');
    expect(daemonFiles({ HOME: '/h', XDG_RUNTIME_DIR: 'relative', XDG_STATE_HOME: '/s' })).toMatchObject({
      socket: '/h/.cache/credmux/run/daemon.sock',
      logFile: '/s/credmux/daemon.log',
    });
  });
});

describe('daemon log', () => {
  it('is 0600 in a 0700 directory, fixes the mode of an existing file, and rotates at the cap', () => {
    const root = tmp();
    const dir = join(root, 'state', 'credmux');
    const file = join(dir, 'daemon.log');
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // as credmux makes it: one others can enter is refused (below)
    writeFileSync(file, 'old\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    const log = openLog(dir, file, 300);
    for (let i = 0; i < 20; i++) log.info('request', { n: i });
    log.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(file).size).toBeLessThanOrEqual(300);
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(statSync(`${file}.1`).size).toBeLessThanOrEqual(300);
    expect(readFileSync(file, 'utf8')).toMatch(/INFO request n=19\n$/);
    const fresh = join(root, 'new', 'credmux');
    openLog(fresh, join(fresh, 'daemon.log')).close();
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
  });

  it('is not opened in a directory others can enter, nor through a link, nor when it is not a regular file', () => {
    const root = tmp();
    const open = join(root, 'open');
    mkdirSync(open, { mode: 0o700 });
    chmodSync(open, 0o755);
    expect(openLogFile(open, join(open, 'daemon.log'))).toEqual({
      problem: `${open} is accessible to group or others (mode 0755); run: chmod 700 ${open}`,
    });
    const dir = join(root, 'private');
    mkdirSync(dir, { mode: 0o700 });
    const target = join(root, 'target');
    writeFileSync(target, 'mine\n', { mode: 0o644 });
    symlinkSync(target, join(dir, 'daemon.log'));
    expect(() => openLogFile(dir, join(dir, 'daemon.log'))).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    const log = openLog(dir, join(dir, 'daemon.log'));
    log.info('started');
    log.close();
    expect(readFileSync(target, 'utf8')).toBe('mine\n');
    expect(statSync(target).mode & 0o777).toBe(0o644);
    const sub = join(root, 'private2');
    mkdirSync(join(sub, 'daemon.log'), { recursive: true, mode: 0o700 });
    expect(() => openLogFile(sub, join(sub, 'daemon.log'))).toThrow(expect.objectContaining({ code: 'EISDIR' }));
  });

  it('keeps every entry on one line and strips userinfo from anything URL-like', () => {
    expect(clean('line1\nline2\r\u0000x')).toBe('line1 line2 x');
    expect(clean('fetch https://alice:s3cret@host/x failed')).toBe('fetch https://***@host/x failed');
  });

  it('a log that cannot be opened does not throw', () => {
    const root = tmp();
    writeFileSync(join(root, 'blocker'), '');
    const log = openLog(join(root, 'blocker', 'sub'), join(root, 'blocker', 'sub', 'daemon.log'));
    expect(() => log.info('x')).not.toThrow();
    log.close();
  });
});

describe('settings', () => {
  it('CREDMUX_IDLE_TIMEOUT: seconds, 0 = never, default 10 min, junk rejected', () => {
    expect(parseIdleTimeout(undefined)).toBe(600);
    expect(parseIdleTimeout('')).toBe(600);
    expect(parseIdleTimeout('0')).toBe(0);
    expect(parseIdleTimeout('1.5')).toBe(1.5);
    expect(parseIdleTimeout('-1')).toBeUndefined();
    expect(parseIdleTimeout('10m')).toBeUndefined();
  });

  it('the environment fingerprint follows config/store selection (the session bus included) and nothing else', () => {
    const base = { HOME: '/h', PATH: '/bin', CREDMUX_STORE: 'file' };
    const fp = contextFingerprint(base, '/cwd');
    expect(
      contextFingerprint({ ...base, PATH: '/other', PWD: '/x', CREDMUX_DAEMON: '1', CREDMUX_IDLE_TIMEOUT: '3', CREDMUX_DAEMON_BIN: '/b' }, '/cwd'),
    ).toBe(fp);
    expect(contextFingerprint({ ...base, CREDMUX_STORE: 'keychain' }, '/cwd')).not.toBe(fp);
    expect(contextFingerprint({ ...base, XDG_CONFIG_HOME: '/c' }, '/cwd')).not.toBe(fp);
    expect(contextFingerprint({ ...base, HOME: '/other' }, '/cwd')).not.toBe(fp);
    // The session bus chooses the keychain, except with the file store: there it changes nothing.
    const bus = 'unix:path=/run/user/1000/bus';
    expect(contextFingerprint({ ...base, DBUS_SESSION_BUS_ADDRESS: bus }, '/cwd')).toBe(fp);
    const auto = { HOME: '/h', PATH: '/bin' };
    expect(contextFingerprint({ ...auto, DBUS_SESSION_BUS_ADDRESS: bus }, '/cwd')).not.toBe(contextFingerprint(auto, '/cwd'));
    expect(contextFingerprint({ ...auto, DBUS_SESSION_BUS_ADDRESS: bus }, '/cwd')).not.toBe(
      contextFingerprint({ ...auto, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/other' }, '/cwd'),
    );
    expect(contextFingerprint({ ...auto, CREDMUX_STORE: 'keychain', DBUS_SESSION_BUS_ADDRESS: bus }, '/cwd')).not.toBe(
      contextFingerprint({ ...auto, CREDMUX_STORE: 'keychain' }, '/cwd'),
    );
    // A relative config path names the same file from the client's cwd as the absolute one the daemon gets.
    expect(contextFingerprint({ ...base, CREDMUX_CONFIG: 'conf.json' }, '/work')).toBe(
      contextFingerprint({ ...base, CREDMUX_CONFIG: '/work/conf.json' }, '/'),
    );
  });
});

describe('connections', () => {
  it('an idle connection is closed after connectionIdleMs, but not while a request is in flight; a half-closed client still gets its answers', async () => {
    const sock = join(tmp(), 's.sock');
    const conns = createConnectionServer({
      connectionIdleMs: 150,
      answer: async (line) => {
        const { id, delay } = JSON.parse(line) as { id: number; delay: number };
        await new Promise((r) => setTimeout(r, delay));
        return { v: 1, id, res: { op: 'list', entries: [] } };
      },
    });
    await conns.listen(sock);
    const talk = (lines: object[], halfClose: boolean) =>
      new Promise<{ data: string; ms: number }>((resolve) => {
        const t0 = Date.now();
        let data = '';
        const c = createConnection(sock, () => {
          for (const l of lines) c.write(`${JSON.stringify(l)}\n`);
          if (halfClose) c.end();
        });
        c.on('data', (d) => (data += d.toString()));
        c.on('close', () => resolve({ data, ms: Date.now() - t0 }));
      });
    const idle = await talk([], false);
    expect(idle.data).toBe('');
    expect(idle.ms).toBeGreaterThanOrEqual(140);
    expect(idle.ms).toBeLessThan(1_000);
    const slow = await talk([{ id: 1, delay: 400 }], false); // in flight longer than the idle time
    expect(slow.data).toBe('{"v":1,"id":1,"res":{"op":"list","entries":[]}}\n');
    const half = await talk(
      [
        { id: 2, delay: 50 },
        { id: 3, delay: 0 },
      ],
      true,
    );
    expect(
      half.data
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id: number }).id),
    ).toEqual([3, 2]); // as they complete
    await conns.drain(100);
  });
});
