import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredmuxError } from '../../src/model/types.js';
import { FileStore } from '../../src/store/file.js';
import { storeFsError } from '../../src/store/fs-errors.js';
import { prepareChildRunner, type ChildRunner } from './child.js';
import { basic, rejectionOf, storeContract } from './contract.js';

let base: string;
let n = 0;
/** A fresh store directory path (not yet created) under a per-file temp root. */
const freshDir = (): string => join(base, `store-${++n}`, 'credmux');

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'credmux-file-'));
  await chmod(base, 0o755); // the read-only test runs a child as `nobody` when we are root
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

storeContract('FileStore', async () => ({ store: new FileStore(freshDir()) }));

/** As src/store/file-lock.ts records it: '' where there is no /proc. */
const nsOfThisProcess = (): string => {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
};

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;
const errorOf = async (p: Promise<unknown>): Promise<CredmuxError> => {
  const e = await rejectionOf(p);
  expect(e.code).toBe('store');
  return e;
};

describe('FileStore on disk', () => {
  it('writes {"version":1,"entries":[…]} to <dir>/credentials.json', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    expect(s.location).toBe(join(dir, 'credentials.json'));
    await s.put(basic('https://a.example', 'u', 'pw'));
    expect(JSON.parse(await readFile(join(dir, 'credentials.json'), 'utf8'))).toEqual({
      version: 1,
      entries: [basic('https://a.example', 'u', 'pw')],
    });
  });

  it('reads a missing file (and a missing directory) as an empty store without creating anything', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    expect(await s.list()).toEqual([]);
    expect(await s.version()).toBe('absent');
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates the directory 0700 and the file 0600 whatever the umask', async () => {
    const old = process.umask(0); // a umask of 0 would make a plain mkdir/writeFile 0777/0666
    try {
      const dir = freshDir();
      await new FileStore(dir).put(basic('https://a.example', 'u', 'pw'));
      expect(await mode(dir)).toBe(0o700);
      expect(await mode(join(dir, 'credentials.json'))).toBe(0o600);
      // A missing parent (an XDG dir) is created 0700 as the XDG spec asks.
      expect(await mode(join(dir, '..'))).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it('refuses a directory group or others can enter, naming the chmod fix, and touches nothing', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    await s.put(basic('https://a.example', 'u', 'pw'));
    const before = await readFile(join(dir, 'credentials.json'));
    await chmod(dir, 0o755);
    // Started one at a time: a rejected promise nobody awaits yet is an unhandled rejection.
    for (const op of [
      () => s.list(),
      () => s.get({ url: 'https://a.example', username: 'u' }),
      () => s.put(basic('https://b.example', 'u', 'x')),
      () => s.remove(() => true),
    ]) {
      const e = await errorOf(op());
      expect(e.message).toContain(`chmod 700 ${dir}`);
      expect(e.message).toContain('0755');
    }
    expect(await mode(dir)).toBe(0o755);
    expect(await readFile(join(dir, 'credentials.json'))).toEqual(before);
  });

  it('changes version() when another process writes', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    await s.put(basic('https://a.example', 'u', 'pw'));
    const v = await s.version();
    expect(await s.version()).toBe(v);
    const r = await runner.run(dir, 'put', basic('https://a.example', 'u', 'pw')); // same bytes, new file
    expect(r.ok).toBe(true);
    expect(await s.version()).not.toBe(v);
  });
});

let runner: ChildRunner;
beforeAll(async () => {
  runner = await prepareChildRunner();
});
afterAll(async () => {
  if (runner) await rm(runner.dir, { recursive: true, force: true });
});

/** A store directory holding one entry, its store, and the path of its write lock. */
async function storeWithOneEntry(): Promise<{ dir: string; s: FileStore; lockPath: string }> {
  const dir = freshDir();
  const s = new FileStore(dir);
  await s.put(basic('https://a.example', 'u', 'first'));
  return { dir, s, lockPath: join(dir, 'credentials.json.lock') };
}

describe('FileStore across processes', () => {
  it('40 writer processes at once: all succeed, exactly 40 entries, none lost', async () => {
    const dir = freshDir();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => runner.run(dir, 'put', basic(`https://h${i}.example`, `user${i}`, `secret-${i}`))),
    );
    for (const r of results) expect(r, r.message).toMatchObject({ ok: true });
    const all = await new FileStore(dir).list();
    expect(all).toHaveLength(40);
    for (let i = 0; i < 40; i++) expect(all).toContainEqual(basic(`https://h${i}.example`, `user${i}`, `secret-${i}`));
    // No lock or temp file left behind.
    expect((await readdir(dir)).sort()).toEqual(['credentials.json']);
  }, 60_000);

  it('waits for a lock held by another writer instead of failing', async () => {
    const { s, lockPath } = await storeWithOneEntry();
    const release = await lockfile.lock(lockPath, { lockfilePath: lockPath, realpath: false });
    let done = false;
    const put = s.put(basic('https://b.example', 'u', 'second')).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 400));
    expect(done).toBe(false);
    await release();
    await put;
    expect(await s.list()).toHaveLength(2);
  });

  it('asks the guard after the lock is won, not before: a write whose deadline passed while it waited changes nothing', async () => {
    const { s, lockPath } = await storeWithOneEntry();
    const before = (await s.list()).map((e) => e.secret);
    const release = await lockfile.lock(lockPath, { lockfilePath: lockPath, realpath: false });
    let late = false;
    const put = s.put(basic('https://a.example', 'u', 'too-late'), {
      guard: () => {
        if (late) throw new CredmuxError('expired', 'the deadline passed');
      },
    });
    late = true; // the deadline passes while another writer holds the lock
    await release();
    expect((await rejectionOf(put)).code).toBe('expired');
    expect((await s.list()).map((e) => e.secret)).toEqual(before);
  });

  it('takes over a stale lock left by a killed writer', async () => {
    const { s, lockPath } = await storeWithOneEntry();
    await mkdir(lockPath);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    const t = Date.now();
    await s.put(basic('https://b.example', 'u', 'second'));
    expect(Date.now() - t).toBeLessThan(3000);
    expect(await s.list()).toHaveLength(2);
    await expect(stat(lockPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes over at once a lock whose holder was SIGKILLed, not after the 10 s stale threshold', async () => {
    const { dir, s, lockPath } = await storeWithOneEntry();
    const holder = await runner.holdLock(lockPath);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const t = Date.now();
    await s.put(basic('https://b.example', 'u', 'second'));
    expect(Date.now() - t).toBeLessThan(2000);
    expect(await s.list()).toHaveLength(2);
    // The dead holder's lock and owner record are gone, and so are ours.
    expect((await readdir(dir)).sort()).toEqual(['credentials.json']);
  });

  it('never takes the lock from a holder that is alive, even stopped (SIGSTOP)', async () => {
    const { s, lockPath } = await storeWithOneEntry();
    const holder = await runner.holdLock(lockPath);
    holder.kill('SIGSTOP');
    let done = false;
    const put = s.put(basic('https://b.example', 'u', 'second')).then(() => (done = true));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(done).toBe(false);
    } finally {
      holder.kill('SIGCONT');
      holder.kill('SIGTERM'); // releases the lock on its way out (proper-lockfile's exit hook)
    }
    await put;
    expect(await s.list()).toHaveLength(2);
  });

  it('does not trust an owner record for another host or another lock directory', async () => {
    const { s, lockPath } = await storeWithOneEntry();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    for (const record of [
      (lock: string) => ({ pid: deadPid, host: 'another-host', ns: nsOfThisProcess(), lock }),
      (_lock: string) => ({ pid: deadPid, host: hostname(), ns: nsOfThisProcess(), lock: '1:1' }),
    ]) {
      await mkdir(lockPath);
      const id = await stat(lockPath, { bigint: true });
      await writeFile(`${lockPath}.owner`, JSON.stringify(record(`${id.ino}:${id.birthtimeNs}`)));
      let done = false;
      const put = s.put(basic('https://b.example', 'u', 'second')).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 1000));
      expect(done).toBe(false);
      await rm(lockPath, { recursive: true });
      await put;
    }
    // The same record, right host and directory: taken over at once.
    await mkdir(lockPath);
    const id = await stat(lockPath, { bigint: true });
    await writeFile(
      `${lockPath}.owner`,
      JSON.stringify({ pid: deadPid, host: hostname(), ns: nsOfThisProcess(), lock: `${id.ino}:${id.birthtimeNs}` }),
    );
    const t = Date.now();
    await s.put(basic('https://c.example', 'u', 'third'));
    expect(Date.now() - t).toBeLessThan(2000);
    expect(await s.list()).toHaveLength(3);
  });

  it('a read-only directory gives a clear error naming the path and errno, and the old data stays', async () => {
    const dir = freshDir();
    await new FileStore(dir).put(basic('https://a.example', 'u', 'old'));
    const file = join(dir, 'credentials.json');
    const before = await readFile(file);
    // Root ignores permission bits, so as root the writer runs as `nobody` on a directory it owns.
    const asRoot = process.getuid?.() === 0;
    const ids = asRoot ? { uid: 65534, gid: 65534 } : {};
    if (asRoot) {
      await chown(join(dir, '..'), 65534, 65534);
      await chown(dir, 65534, 65534);
      await chown(file, 65534, 65534);
    }
    await chmod(dir, 0o500);
    try {
      const r = await runner.run(dir, 'put', basic('https://b.example', 'u', 'new-secret-value'), ids);
      expect(r.ok).toBe(false);
      expect(r.code).toBe('store');
      expect(r.message).toContain(dir);
      expect(r.message).toMatch(/permission denied \(EACCES\)/);
      expect(r.message).not.toContain('new-secret-value');
      // Reading still works and shows the old data.
      const listed = await runner.run(dir, 'list', undefined, ids);
      expect(listed).toEqual({ ok: true, value: [basic('https://a.example', 'u', 'old')] });
    } finally {
      await chmod(dir, 0o700);
    }
    expect(await readFile(file)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['credentials.json']);
  });

  it('a write that runs out of space (ulimit -f) fails clearly and leaves the old file intact', async () => {
    const dir = freshDir();
    await new FileStore(dir).put(basic('https://a.example', 'u', 'old'));
    const file = join(dir, 'credentials.json');
    const before = await readFile(file);
    expect(before.length).toBeLessThan(512);
    // At most 4 KiB may be written; the new file would be ~200 KiB. write-file-atomic renamed a
    // truncated file into place in exactly this situation.
    const r = await runner.run(dir, 'put', basic('https://b.example', 'u', 'x'.repeat(200_000)), { ulimitFileBlocks: 4 });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('store');
    expect(r.message).toContain(file);
    expect(r.message).toMatch(/file too large .*\(EFBIG\)/);
    expect(r.message).toMatch(/previous contents are unchanged/);
    expect(await readFile(file)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['credentials.json']);
  });

  it('names disk-full and read-only-filesystem errors by meaning', () => {
    const enospc = storeFsError(
      'cannot write the credential file /x/credentials.json',
      Object.assign(new Error('boom'), { code: 'ENOSPC' }),
      'its previous contents are unchanged',
    );
    expect(enospc.code).toBe('store');
    expect(enospc.message).toBe(
      'cannot write the credential file /x/credentials.json: no space left on device (ENOSPC); its previous contents are unchanged; free some disk space and retry',
    );
    expect(storeFsError('cannot write /x', Object.assign(new Error(), { code: 'EROFS' })).message).toMatch(/read-only file system \(EROFS\)/);
  });
});

describe('FileStore with a corrupted file', () => {
  const corruptions: [string, string][] = [
    ['not JSON', '{"version":1,"entries":[{"url":"https://a.example","username":"u","kind":"basic","secret":"s3cr3t-in-broken-json"'],
    ['empty', ''],
    ['not an object', '[]'],
    ['wrong version', '{"version":0,"entries":[]}'],
    ['entries not an array', '{"version":1,"entries":{}}'],
    ['entry missing its secret', '{"version":1,"entries":[{"url":"https://a.example","username":"u","kind":"basic"}]}'],
    [
      'entry with a bad kind',
      '{"version":1,"entries":[{"url":"https://a.example","username":"u","kind":"digest","secret":"s3cr3t-in-broken-json"}]}',
    ],
    ['entry with an unknown field', '{"version":1,"entries":[{"url":"https://a.example","username":"u","kind":"basic","secret":"x","extra":1}]}'],
    [
      'duplicate (url, username)',
      '{"version":1,"entries":[{"url":"https://a.example","username":"u","kind":"basic","secret":"x"},{"url":"https://a.example","username":"u","kind":"basic","secret":"y"}]}',
    ],
  ];

  it.each(corruptions)('refuses every operation when the file is %s, backs it up once, never touches it', async (_label, content) => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'credentials.json');
    await writeFile(file, content, { mode: 0o600 });
    const s = new FileStore(dir);
    const ops = [
      () => s.list(),
      () => s.get({ url: 'https://a.example', username: 'u' }),
      () => s.put(basic('https://b.example', 'u', 'new')),
      () => s.remove(() => true),
      () => s.list(),
    ];
    const messages: string[] = [];
    for (const op of ops) messages.push((await errorOf(op())).message);
    const backups = (await readdir(dir)).filter((f) => f.startsWith('credentials.json.corrupt-'));
    expect(backups).toHaveLength(1); // copied aside once, however many operations were refused
    const backup = join(dir, backups[0]!);
    expect(backups[0]).toMatch(/^credentials\.json\.corrupt-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/);
    expect(await readFile(backup, 'utf8')).toBe(content);
    expect(await mode(backup)).toBe(0o600);
    for (const m of messages) {
      expect(m).toContain(file);
      expect(m).toContain('corrupted');
      expect(m).toContain(backup);
      expect(m).toContain(`mv ${file}`);
      expect(m).not.toContain('s3cr3t-in-broken-json');
    }
    expect(await readFile(file, 'utf8')).toBe(content);
    expect((await readdir(dir)).sort()).toEqual(['credentials.json', backups[0]]);
  });

  it('makes a new backup when the damaged content changes', async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'credentials.json');
    await writeFile(file, 'garbage one', { mode: 0o600 });
    const s = new FileStore(dir);
    await errorOf(s.list());
    await writeFile(file, 'garbage two', { mode: 0o600 });
    await errorOf(s.list());
    const backups = (await readdir(dir)).filter((f) => f.includes('.corrupt-'));
    expect(backups).toHaveLength(2);
  });

  it('refuses a file from a newer credmux without calling it corrupted', async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'credentials.json');
    await writeFile(file, '{"version":2,"entries":[],"more":true}', { mode: 0o600 });
    const s = new FileStore(dir);
    const e = await errorOf(s.put(basic('https://a.example', 'u', 'x')));
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/format version 2.*Upgrade credmux/);
    expect(await readFile(file, 'utf8')).toBe('{"version":2,"entries":[],"more":true}');
    expect(await readdir(dir)).toEqual(['credentials.json']);
  });
});

describe('FileStore housekeeping', () => {
  it('removes temp files a killed writer left behind (old ones only) on the next write', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    await s.put(basic('https://a.example', 'u', 'x'));
    const stale = join(dir, 'credentials.json.tmp-1-deadbeef');
    const fresh = join(dir, 'credentials.json.tmp-2-cafebabe');
    await writeFile(stale, 'secret leftovers', { mode: 0o600 });
    await writeFile(fresh, 'a live writer', { mode: 0o600 });
    const old = new Date(Date.now() - 120_000);
    await utimes(stale, old, old);
    await s.put(basic('https://b.example', 'u', 'y'));
    const names = await readdir(dir);
    expect(names).not.toContain('credentials.json.tmp-1-deadbeef');
    expect(names).toContain('credentials.json.tmp-2-cafebabe');
  });
});
