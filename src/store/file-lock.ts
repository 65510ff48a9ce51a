// The inter-process write lock shared by the file store and the keychain store: proper-lockfile's
// mkdir lock (atomic on every local file system), refreshed while held and taken over when stale.
//
// Timings: a write holds the lock for a few milliseconds (one fsync), so 40 writers at once need
// well under a second; the retry budget (12-24 s) outlasts the 10 s stale threshold, so a lock left by
// a killed process is taken over instead of failing the write. A process that exits normally or on
// SIGINT/SIGTERM releases its lock itself (proper-lockfile's exit hook).
import { CredmuxError } from '../core/types.js';
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
    if (lost) throw new CredmuxError('store', `lost the lock ${lockPath} while writing ${what} (was the process suspended?); nothing was changed, retry`);
  };
  try {
    return await fn(assertHeld);
  } finally {
    if (!lost) await release().catch(() => {});
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
      await new Promise((r) => setTimeout(r, backoff(attempt)));
    }
  }
}
