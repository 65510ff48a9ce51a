// The generation lock in one process: takeover of dead, released and recycled holders, and cleanup.
// (Races between processes are in daemon.test.ts: 20 daemons at once.)
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './helpers.js';
import { processStartTime } from '../../src/platform/liveness.js';
import { acquireLock, currentHolder, isAlive, type LockRecord } from '../../src/ipc/lock.js';

const dir = tempDirs('cmx-lock-');

const me: LockRecord = { pid: process.pid, start: processStartTime(process.pid), version: 'test', protocol: 1 };

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function put(d: string, gen: number, rec: object | string): void {
  writeFileSync(join(d, `daemon.lock.${gen}`), typeof rec === 'string' ? rec : JSON.stringify(rec));
}

function lockFiles(d: string): string[] {
  return readdirSync(d)
    .filter((f) => f.startsWith('daemon.lock.'))
    .sort();
}

describe('acquireLock', () => {
  it('takes generation 1 in an empty directory, writing a complete record', () => {
    const d = dir();
    const r = acquireLock(d, me);
    expect(r.ok && r.lock.gen).toBe(1);
    expect(JSON.parse(readFileSync(join(d, 'daemon.lock.1'), 'utf8'))).toEqual(me);
    expect(currentHolder(d)).toMatchObject({ pid: process.pid, gen: 1 });
    expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reports a live holder instead of taking the lock', () => {
    const d = dir();
    const parent: LockRecord = { pid: process.ppid, start: processStartTime(process.ppid), version: 'parent', protocol: 1 };
    put(d, 4, parent);
    const r = acquireLock(d, me);
    expect(r).toEqual({ ok: false, holder: { ...parent, released: false, gen: 4 } });
    expect(lockFiles(d)).toEqual(['daemon.lock.4']);
  });

  it("a generation held by a daemon's spawner is adopted by that daemon, with its own record; nobody else takes it", () => {
    const d = dir();
    // This process plays the spawned daemon; its parent, the helper that took the lock and spawned it.
    const spawner: LockRecord = { pid: process.ppid, start: processStartTime(process.ppid), version: 'spawner', protocol: 1 };
    put(d, 1, spawner);
    expect(acquireLock(d, me)).toMatchObject({ ok: false, holder: { pid: process.ppid, gen: 1 } });
    const r = acquireLock(d, me, process.ppid);
    expect(r.ok && r.lock.gen).toBe(1);
    expect(r.ok && r.lock.stillHeld()).toBe(true);
    expect(JSON.parse(readFileSync(join(d, 'daemon.lock.1'), 'utf8'))).toEqual(me);
    expect(lockFiles(d)).toEqual(['daemon.lock.1']);
    expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('handOver passes the lock to another pid, which adopts it as its own; once handed over, it is no longer ours', () => {
    const d = dir();
    const r = acquireLock(d, me); // as a helper takes it before spawning
    if (!r.ok) throw new Error('not acquired');
    r.lock.handOver(process.ppid); // …and passes it to the daemon it spawned (here: our parent)
    const daemon: LockRecord = { pid: process.ppid, start: processStartTime(process.ppid), version: 'test', protocol: 1 };
    expect(currentHolder(d)).toEqual({ ...daemon, released: false, gen: 1 });
    expect(r.lock.stillHeld()).toBe(false);
    r.lock.release(); // not ours any more: changes nothing
    r.lock.handOver(process.pid);
    expect(currentHolder(d)).toMatchObject({ pid: process.ppid, gen: 1 });
    expect(acquireLock(d, me)).toMatchObject({ ok: false, holder: { pid: process.ppid } });
    // The named process takes its generation as it is.
    const adopted = acquireLock(d, { ...daemon, version: 'daemon' });
    expect(adopted.ok && adopted.lock.gen).toBe(1);
    expect(currentHolder(d)).toMatchObject({ pid: process.ppid, version: 'daemon', gen: 1 });
  });

  it('a lock handed to a process that is gone is free', () => {
    const d = dir();
    const r = acquireLock(d, me);
    if (!r.ok) throw new Error('not acquired');
    r.lock.handOver(deadPid());
    expect(currentHolder(d)).toBeUndefined();
    expect(acquireLock(d, me)).toMatchObject({ ok: true, lock: { gen: 2 } });
  });

  it('takes over from a dead holder with the next generation, and sweeps older ones', () => {
    const d = dir();
    put(d, 1, { pid: deadPid(), version: 'x', protocol: 1 });
    put(d, 2, { pid: deadPid(), version: 'x', protocol: 1 });
    const r = acquireLock(d, me);
    expect(r.ok && r.lock.gen).toBe(3);
    expect(lockFiles(d)).toEqual(['daemon.lock.3']);
  });

  it('takes over a released generation at once, and from a recycled pid (same pid, another start time)', () => {
    const d = dir();
    put(d, 1, { ...me, released: true });
    const r1 = acquireLock(d, me);
    expect(r1.ok && r1.lock.gen).toBe(2);
    if (r1.ok) r1.lock.release();
    put(d, 3, { ...me, start: 'not-my-start-time' });
    expect(isAlive({ ...me, start: 'not-my-start-time' })).toBe(false);
    const r2 = acquireLock(d, me);
    expect(r2.ok && r2.lock.gen).toBe(4);
  });

  it('treats an unreadable top generation as free', () => {
    const d = dir();
    put(d, 7, '{"pid":');
    const r = acquireLock(d, me);
    expect(r.ok && r.lock.gen).toBe(8);
  });

  it('release keeps the file (the top generation is never deleted) but frees the lock; stillHeld sees a newer generation', () => {
    const d = dir();
    const r = acquireLock(d, me);
    if (!r.ok) throw new Error('not acquired');
    expect(r.lock.stillHeld()).toBe(true);
    put(d, 2, { pid: deadPid(), version: 'x', protocol: 1 });
    expect(r.lock.stillHeld()).toBe(false);
    rmSync(join(d, 'daemon.lock.2'));
    r.lock.release();
    expect(lockFiles(d)).toEqual(['daemon.lock.1']);
    expect(JSON.parse(readFileSync(join(d, 'daemon.lock.1'), 'utf8'))).toMatchObject({ pid: process.pid, released: true });
    expect(currentHolder(d)).toBeUndefined();
    expect(r.lock.stillHeld()).toBe(false);
  });

  it('sweeps temp files left by dead processes, but not those of live ones', () => {
    const d = dir();
    const dead = `.daemon.lock.${deadPid()}.abc123.tmp`;
    const live = `.daemon.lock.${process.pid}.def456.tmp`;
    writeFileSync(join(d, dead), '{}');
    writeFileSync(join(d, live), '{}');
    expect(acquireLock(d, me).ok).toBe(true);
    expect(readdirSync(d)).toContain(live);
    expect(readdirSync(d)).not.toContain(dead);
  });
});

describe('isAlive', () => {
  it('is false for a dead pid and true for this process', () => {
    expect(isAlive({ pid: deadPid(), version: 'x', protocol: 1 })).toBe(false);
    expect(isAlive(me)).toBe(true);
    expect(isAlive({ ...me, released: true })).toBe(false);
  });
});
