// The one interface every secret store implements. Stores hold StoredEntry records keyed by
// (url pattern, username); they never interpret URLs (the engine matches).
import type { EntryKey, StoredEntry } from '../model/types.js';

export interface SecretStore {
  readonly kind: 'keychain' | 'file' | 'memory';
  /** For humans (`credmux list`, `doctor`): a path or a backend name. Never a secret. */
  readonly location: string;
  /** Every entry, secrets included (callers strip them before showing anything). */
  list(): Promise<StoredEntry[]>;
  get(key: EntryKey): Promise<StoredEntry | undefined>;
  /** Insert or replace the entry with the same (url, username). */
  put(entry: StoredEntry, opts?: WriteOptions): Promise<void>;
  /** Remove every entry the predicate selects, atomically against other writers; returns how many. */
  remove(predicate: (entry: StoredEntry) => boolean, opts?: WriteOptions): Promise<number>;
  /** A cheap token that changes whenever the stored data may have changed (mtime, counter…), so a
   * long-lived process (the daemon) can tell when to drop what it derived from the store. */
  version(): Promise<string>;
}

export interface WriteOptions {
  /**
   * Called inside the store's write lock just before the write commits; a throw abandons the write
   * and nothing changes. The daemon passes its caller's deadline here (src/ipc/deadline.ts), so a
   * write its caller stopped waiting for never lands after a newer one.
   */
  guard?: () => void;
}
