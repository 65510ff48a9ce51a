// One daemon per user: a lock, not luck.
//
// The lock is a series of generation files, daemon.lock.1, daemon.lock.2, … Each is created once,
// atomically and already complete (link(2) of a finished temp file: it fails if the name exists), and
// the highest one is never deleted. A process holds the lock when it created generation n and then
// saw no generation above n. A newcomer reads the highest generation: holder alive → back off; holder
// dead or released → try to create n+1, and of several newcomers link() lets exactly one win.
//
// Why not one pid file? Breaking a stale pid file needs "delete it if it is still the stale one",
// which no filesystem call does atomically: two newcomers both delete "the stale file", the second
// deleting the first one's fresh lock, and both run. Here nothing live is ever deleted. (Sketch: if P
// holds n and Q holds m > n, P's check ran before m existed; so Q read the top generation before P
// created n, and saw something ≥ m-1 ≥ n that P would then have seen above n — a contradiction.)
//
// Liveness: platform/liveness.ts (kill(pid, 0) plus the process start time). The holder removes older
// generations and leftovers; it never removes its own file but marks it released on a clean exit.
//
// A helper that finds no daemon takes the lock itself before it spawns one, and hands it over to the
// daemon's pid once spawned (HeldLock.handOver); the daemon adopts a generation held by its spawner
// or already naming it. Helpers arriving meanwhile see a live holder and wait, instead of each
// spawning a daemon that starts only to lose the race (a burst of 200 helpers on 2 cores spawned
// 15–60 daemons, measured, each paying a whole start on CPUs the one winner needed).
import { linkSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { pidAlive, processAlive, processStartTime } from '../platform/liveness.js';
import { VERSION } from '../platform/version.js';
import { PROTOCOL_VERSION } from './codec.js';
import { DaemonError } from './errors.js';

export interface LockRecord {
  pid: number;
  /** Process start time (Linux /proc/<pid>/stat field 22), to tell a recycled pid from the holder. */
  start?: string;
  version: string;
  protocol: number;
  /** Set on a clean exit: the generation is free without a liveness check. */
  released?: boolean;
}

export interface Holder extends LockRecord {
  gen: number;
}

export interface HeldLock {
  gen: number;
  path: string;
  /** True while no newer generation exists and our file is still ours. */
  stillHeld(): boolean;
  /** Marks the generation released (the file stays: the highest generation is never deleted). */
  release(): void;
  /** Passes the lock to another live process (the daemon this one spawned to hold it); no longer ours. */
  handOver(pid: number): void;
}

export type AcquireResult = { ok: true; lock: HeldLock } | { ok: false; holder: Holder };

/** What this process records when it takes the lock: itself (pid and start time), this build's version and protocol. */
export function ownRecord(): LockRecord {
  return { pid: process.pid, start: processStartTime(process.pid), version: VERSION, protocol: PROTOCOL_VERSION };
}

const GEN = /^daemon\.lock\.(\d{1,15})$/;
const TMP = /^\.daemon\.lock\.(\d+)\.[0-9a-z]+\.tmp$/;

function lockPath(dir: string, gen: number): string {
  return join(dir, `daemon.lock.${gen}`);
}

/** Generations present, highest first. */
function generations(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const gens: number[] = [];
  for (const n of names) {
    const m = GEN.exec(n);
    if (m) gens.push(Number(m[1]));
  }
  return gens.sort((a, b) => b - a);
}

function readRecord(dir: string, gen: number): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(lockPath(dir, gen), 'utf8')) as Partial<LockRecord>;
    if (typeof r.pid !== 'number' || !Number.isSafeInteger(r.pid) || r.pid <= 0) return undefined;
    return {
      pid: r.pid,
      start: typeof r.start === 'string' ? r.start : undefined,
      version: typeof r.version === 'string' ? r.version : 'unknown',
      protocol: typeof r.protocol === 'number' ? r.protocol : 0,
      released: r.released === true,
    };
  } catch {
    return undefined; // unreadable or corrupt: nobody can be holding it
  }
}

export function isAlive(rec: LockRecord): boolean {
  return !rec.released && processAlive(rec.pid, rec.start);
}

/** The live holder of the lock, if any (cheap: one readdir and one small read). */
export function currentHolder(dir: string): Holder | undefined {
  const top = generations(dir)[0];
  if (top === undefined) return undefined;
  const rec = readRecord(dir, top);
  return rec && isAlive(rec) ? { ...rec, gen: top } : undefined;
}

/** Writes `content` under a temp name, then links it to `path`: the file appears complete or not at all. */
function createComplete(dir: string, path: string, content: string): boolean {
  const tmp = join(dir, `.daemon.lock.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  writeFileSync(tmp, content, { flag: 'wx', mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new DaemonError('start-failed', `credmux daemon: cannot create the lock ${path}: ${(e as Error).message}`);
  } finally {
    unlinkSync(tmp);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Removes generations below ours and temp files of dead processes. */
function sweep(dir: string, mine: number): void {
  for (const g of generations(dir)) if (g < mine) removeQuietly(lockPath(dir, g));
  for (const name of readdirSync(dir)) {
    const m = TMP.exec(name);
    if (m && !pidAlive(Number(m[1]))) removeQuietly(join(dir, name));
  }
}

/**
 * Takes the daemon lock in `dir` (which must exist and be private), or reports the live holder.
 * A generation held for us is adopted: one named after us (pid and start time), or one held by
 * `spawner` (the daemon passes its parent: the helper that took the lock and spawned it).
 * Synchronous on purpose: it runs once at daemon start, before anything else.
 */
export function acquireLock(dir: string, record: LockRecord, spawner?: number): AcquireResult {
  for (let attempt = 0; attempt < 20; attempt++) {
    const top = generations(dir)[0] ?? 0;
    if (top > 0) {
      const rec = readRecord(dir, top);
      if (rec && isAlive(rec)) {
        const forUs = (rec.pid === record.pid && rec.start === record.start) || rec.pid === spawner;
        if (forUs) return { ok: true, lock: adopt(dir, top, record) };
        return { ok: false, holder: { ...rec, gen: top } };
      }
    }
    const gen = top + 1;
    const path = lockPath(dir, gen);
    if (!createComplete(dir, path, JSON.stringify(record))) continue; // another newcomer won gen: look again
    if (generations(dir)[0] !== gen) {
      // We worked from an old view and someone is already above us. Ours is not the highest, so
      // deleting it is allowed; the next round reports (or replaces) whoever is on top.
      removeQuietly(path);
      continue;
    }
    sweep(dir, gen);
    return { ok: true, lock: heldLock(dir, gen, record) };
  }
  const holder = currentHolder(dir);
  if (holder) return { ok: false, holder };
  throw new DaemonError('busy', `credmux daemon: could not take the lock in ${dir} (too much contention); try again`);
}

/** A generation held for us: our own record replaces the spawner's. */
function adopt(dir: string, gen: number, record: LockRecord): HeldLock {
  rewriteRecord(dir, gen, record);
  sweep(dir, gen);
  return heldLock(dir, gen, record);
}

/** Replaces a generation's record; rename() is atomic, so readers see the old record or the new one, never neither. */
function rewriteRecord(dir: string, gen: number, record: LockRecord): void {
  const tmp = join(dir, `.daemon.lock.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  try {
    writeFileAtomicSync(lockPath(dir, gen), JSON.stringify(record), { durable: 'none', tmp });
  } catch {
    // the temp file is gone; the old record stands
  }
}

function heldLock(dir: string, gen: number, record: LockRecord): HeldLock {
  const path = lockPath(dir, gen);
  const ours = (): boolean => {
    const rec = readRecord(dir, gen);
    return rec !== undefined && rec.pid === record.pid && rec.start === record.start && !rec.released;
  };
  return {
    gen,
    path,
    stillHeld: () => generations(dir)[0] === gen && ours(),
    release() {
      // If the rewrite fails, the pid check still frees the lock once we exit.
      if (ours()) rewriteRecord(dir, gen, { ...record, released: true });
    },
    handOver(pid) {
      // The daemon may have adopted the generation already (its record names it too) or even left
      // (then a record naming its dead pid frees the lock just the same).
      if (ours()) rewriteRecord(dir, gen, { ...record, pid, start: processStartTime(pid) });
    },
  };
}
