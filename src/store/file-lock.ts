// The inter-process write lock shared by the file store and the keychain store: proper-lockfile's
// mkdir lock (atomic on every local file system), refreshed while held and taken over when stale.
//
// Timings: a write holds the lock for a few milliseconds (one fsync), so 40 writers at once need
// well under a second; the retry budget (12-24 s) outlasts the 10 s stale threshold, so a lock left by
// a killed process is taken over instead of failing the write. A process that exits normally or on
// SIGINT/SIGTERM releases its lock itself (proper-lockfile's exit hook).
//
// A holder killed outright (SIGKILL, the OOM killer) cannot release it, and waiting out the stale
// threshold stalls every writer for 10 s (seen: a git `store` hanging after a daemon was killed
// mid-write). So the holder also leaves an owner record beside the lock (`<lock>.owner`: pid, start
// time, host, pid namespace, and the lock directory's inode and birth time), and a waiter that finds
// the recorded process gone on this host takes the lock over at once (takeOverFromDeadHolder). Anything
// it cannot be sure of (no record, a record for another lock directory, another host or container, a
// file system without birth times) leaves the stale threshold as the only way, as before.
import { readFileSync, readlinkSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { processAlive, processStartTime } from '../platform/liveness.js';
import { CredmuxError } from '../model/types.js';
import { storeFsError } from './fs-errors.js';

const STALE_MS = 10_000;
const ATTEMPTS = 90;

/** 5 ms growing ×1.3 up to 150 ms, randomised ×1–2 so waiting writers do not retry in lockstep. */
const backoff = (attempt: number): number => Math.min(150, 5 * 1.3 ** attempt) * (1 + Math.random());

/** Throws when the lock was lost (held past the stale threshold, e.g. after a suspend): do not write. */
export type AssertHeld = () => void;

export async function withFileLock<T>(lockPath: string, what: string, fn: (assertHeld: AssertHeld) => Promise<T>): Promise<T> {
  let lost: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await acquire(lockPath, (e) => {
      lost = e;
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new CredmuxError(
        'store',
        `cannot write ${what}: another process has held the lock ${lockPath} for too long. If no credmux process is running, remove it: rmdir ${lockPath}`,
      );
    }
    throw storeFsError(`cannot write ${what}: cannot create the lock ${lockPath}`, e, 'nothing was changed');
  }
  const assertHeld: AssertHeld = () => {
    if (lost)
      throw new CredmuxError('store', `lost the lock ${lockPath} while writing ${what} (was the process suspended?); nothing was changed, retry`);
  };
  const owner = recordOwner(lockPath);
  try {
    return await fn(assertHeld);
  } finally {
    if (!lost) {
      if (owner) forgetOwner(lockPath, owner.lock);
      await release().catch(() => {});
    }
  }
}

/**
 * Retries only while someone else holds the lock. proper-lockfile's own `retries` retries every
 * error, so a read-only directory (EACCES) would take the whole budget to report.
 */
async function acquire(lockPath: string, onCompromised: (e: Error) => void): Promise<() => Promise<void>> {
  // Loaded on the first write only (~13 ms with graceful-fs and signal-exit): readers never lock, and
  // the client hot path is reads.
  const { default: lockfile } = await import('proper-lockfile');
  for (let attempt = 0; ; attempt++) {
    try {
      // The lock is a directory next to the data; `lockPath` doubles as the locked "file" so the
      // data file need not exist yet (realpath: false).
      return await lockfile.lock(lockPath, {
        lockfilePath: lockPath,
        realpath: false,
        stale: STALE_MS,
        retries: 0,
        // The default throws from a timer, which would crash a daemon; fail this write instead.
        onCompromised,
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED' || attempt >= ATTEMPTS) throw e;
      if (takeOverFromDeadHolder(lockPath)) continue;
      await new Promise((r) => setTimeout(r, backoff(attempt)));
    }
  }
}

/** Who holds a lock, written by the holder beside it. */
interface OwnerRecord {
  pid: number;
  start?: string;
  host: string;
  /** The pid namespace: a pid means nothing across containers that share the directory. */
  ns: string;
  /** The lock directory this record is about: inode and birth time, which no later directory repeats. */
  lock: string;
}

const ownerPath = (lockPath: string): string => `${lockPath}.owner`;

function lockIdentity(path: string): string | undefined {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  // Without a birth time a recreated directory could reuse the inode and pass for the dead one.
  if (!st || st.birthtimeNs === 0n) return undefined;
  return `${st.ino}:${st.birthtimeNs}`;
}

let here: { host: string; ns: string } | undefined;

/** This process's host and pid namespace: read once, not on every write and every retry of a waiter. */
function thisHost(): { host: string; ns: string } {
  if (!here) {
    let ns = '';
    try {
      ns = readlinkSync('/proc/self/ns/pid');
    } catch {
      // no /proc (macOS): one pid space per host
    }
    here = { host: process.getBuiltinModule('node:os').hostname(), ns };
  }
  return here;
}

/** Best effort: without a record, a waiter just waits for the stale threshold. */
function recordOwner(lockPath: string): OwnerRecord | undefined {
  try {
    const lock = lockIdentity(lockPath);
    if (!lock) return undefined;
    const rec: OwnerRecord = { pid: process.pid, start: processStartTime(process.pid), ...thisHost(), lock };
    // Written in place: a reader that catches it half-written cannot parse it and just waits.
    writeFileSync(ownerPath(lockPath), `${JSON.stringify(rec)}\n`, { mode: 0o600 });
    return rec;
  } catch {
    // e.g. a full disk created the file but not its contents: leave nothing behind.
    try {
      unlinkSync(ownerPath(lockPath));
    } catch {
      // never created
    }
    return undefined;
  }
}

function readOwner(lockPath: string): OwnerRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(ownerPath(lockPath), 'utf8')) as Partial<OwnerRecord>;
    if (!Number.isSafeInteger(r.pid) || typeof r.host !== 'string' || typeof r.ns !== 'string' || typeof r.lock !== 'string') return undefined;
    return { pid: r.pid!, start: typeof r.start === 'string' ? r.start : undefined, host: r.host, ns: r.ns, lock: r.lock };
  } catch {
    return undefined;
  }
}

/** Removes the owner record if it still describes `lock` (a newer holder's record stays). */
function forgetOwner(lockPath: string, lock: string): void {
  try {
    if (readOwner(lockPath)?.lock === lock) unlinkSync(ownerPath(lockPath));
  } catch {
    // already gone
  }
}

/**
 * When the lock's recorded holder is provably gone, removes the lock and returns true (try again
 * now). The directory is first renamed aside, which of several waiters exactly one achieves, and
 * checked to be the dead holder's: a live holder's lock that replaced it in between is put back.
 */
function takeOverFromDeadHolder(lockPath: string): boolean {
  try {
    const owner = readOwner(lockPath);
    if (!owner) return false;
    const { host, ns } = thisHost();
    if (owner.host !== host || owner.ns !== ns) return false;
    const lock = lockIdentity(lockPath);
    if (lock !== owner.lock || processAlive(owner.pid, owner.start)) return false;
    const aside = `${lockPath}.dead-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      renameSync(lockPath, aside);
    } catch {
      return true; // another waiter moved it first: the lock may be free
    }
    if (lockIdentity(aside) !== owner.lock) {
      renameSync(aside, lockPath);
      return false;
    }
    rmdirSync(aside);
    forgetOwner(lockPath, owner.lock);
    return true;
  } catch {
    return false;
  }
}
