// The file store: `<dir>/credentials.json`, 0600 in a 0700 directory. Writers read-modify-write
// under an inter-process lock and replace the file atomically, so concurrent writers lose nothing
// and a reader (which takes no lock) always sees one complete version. A file it cannot parse is
// refused, copied aside once and never overwritten: treating it as empty would destroy secrets on
// the next write.
import { readFileSync, statSync } from 'node:fs';
import { fsp } from '../platform/lazy-fs.js';
import { fileIdentity } from '../platform/file-identity.js';
import { join } from 'node:path';
import { CredmuxError, type EntryKey, type StoredEntry } from '../model/types.js';
import { tempPrefix, writeFileAtomic } from '../platform/atomic-write.js';
import { backupCorruptFile } from './corrupt-backup.js';
import { entryForPut, sameKey } from './entry.js';
import { FORMAT_VERSION, parseStoreFile, serializeStoreFile } from './file-format.js';
import { withFileLock } from './file-lock.js';
import { errnoMeaning, storeFsError } from './fs-errors.js';
import { ensurePrivateDir } from './secure-dir.js';
import type { SecretStore, WriteOptions } from './types.js';

export const STORE_FILE_NAME = 'credentials.json';

/** A temp file this old cannot belong to a live writer (writes take milliseconds, locks go stale in 10 s). */
const LEFTOVER_TEMP_MS = 60_000;

export class FileStore implements SecretStore {
  readonly kind = 'file' as const;
  readonly location: string;
  readonly file: string;
  private readonly lockPath: string;
  /** Writers in this process queue here first, so they do not spin on their own lock. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {
    this.file = join(dir, STORE_FILE_NAME);
    this.lockPath = `${this.file}.lock`;
    this.location = this.file;
  }

  async list(): Promise<StoredEntry[]> {
    return this.read();
  }

  async get(key: EntryKey): Promise<StoredEntry | undefined> {
    return (await this.read()).find((e) => sameKey(e, key));
  }

  async put(entry: StoredEntry, opts: WriteOptions = {}): Promise<void> {
    const e = entryForPut(entry);
    await this.mutate(opts, (entries) => {
      const i = entries.findIndex((x) => sameKey(x, e));
      if (i >= 0) entries[i] = e;
      else entries.push(e);
      return { result: undefined, changed: true };
    });
  }

  async remove(predicate: (entry: StoredEntry) => boolean, opts: WriteOptions = {}): Promise<number> {
    return this.mutate(opts, (entries) => {
      // The predicate gets a copy, so it cannot alter what is written back.
      const keep = entries.filter((e) => !predicate({ ...e }));
      const removed = entries.length - keep.length;
      entries.splice(0, entries.length, ...keep);
      return { result: removed, changed: removed > 0 };
    });
  }

  /**
   * Every write of ours renames a new inode into place; another program may rewrite the file in place,
   * with the same size and even the same mtime (`cp -p`): the identity includes ctime for that.
   */
  async version(): Promise<string> {
    return this.versionSync();
  }

  /**
   * version(), answered synchronously: one stat system call, where the promise API takes a round
   * trip through the thread pool that costs a busy daemon more than the stat itself.
   */
  versionSync(): string {
    try {
      // Synchronous, as the read below: one system call, and no fs/promises to load (lazy-fs.ts). Not
      // bigint (it builds Date objects eagerly): mtime and ctime as doubles still resolve microseconds.
      const st = statSync(this.file, { throwIfNoEntry: false });
      return st ? fileIdentity(st) : 'absent';
    } catch (e) {
      throw storeFsError(`cannot inspect the credential file ${this.file}`, e);
    }
  }

  private async read(): Promise<StoredEntry[]> {
    if (!(await ensurePrivateDir(this.dir, false))) return [];
    return this.load();
  }

  /** Fresh objects on every call: callers may mutate what they get. */
  private async load(): Promise<StoredEntry[]> {
    let raw: Buffer;
    try {
      // Synchronous: a helper resolving in process loads no fs/promises for it (lazy-fs.ts), and the
      // daemon reads the file only when its version changed.
      raw = readFileSync(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storeFsError(`cannot read the credential file ${this.file}`, e);
    }
    const parsed = parseStoreFile(raw);
    if (parsed.ok) return parsed.entries;
    if (!parsed.corrupt) {
      throw new CredmuxError(
        'store',
        `the credential file ${this.file} has format version ${parsed.version}, newer than this credmux understands (${FORMAT_VERSION}); credmux left it untouched. Upgrade credmux, or move the file away to start an empty store`,
      );
    }
    return this.refuseCorrupt(raw, parsed.problem);
  }

  private async refuseCorrupt(raw: Buffer, problem: string): Promise<never> {
    let saved: string;
    try {
      saved = `A copy was saved to ${await backupCorruptFile(this.file, raw)}`;
    } catch (e) {
      saved = `It could not be copied aside (${errnoMeaning(e)})`;
    }
    throw new CredmuxError(
      'store',
      `the credential file ${this.file} is corrupted (${problem}); credmux will neither use nor overwrite it and left it untouched. ${saved}. ` +
        `To recover: repair it by hand, or move it away (mv ${this.file} ${this.file}.bad) to start an empty store and log in again`,
    );
  }

  /** Read-modify-write inside the lock: the only way a write happens. */
  private mutate<T>(opts: WriteOptions, change: (entries: StoredEntry[]) => { result: T; changed: boolean }): Promise<T> {
    const run = async (): Promise<T> => {
      await ensurePrivateDir(this.dir, true);
      return withFileLock(this.lockPath, `the credential file ${this.file}`, async (assertHeld) => {
        const entries = await this.load();
        const { result, changed } = change(entries);
        if (!changed) return result;
        assertHeld();
        await this.removeLeftoverTemps();
        opts.guard?.(); // last, next to the rename: nothing awaited between the check and the write's start
        try {
          await writeFileAtomic(this.file, serializeStoreFile(entries), { mode: 0o600 });
        } catch (e) {
          throw storeFsError(`cannot write the credential file ${this.file}`, e, 'its previous contents are unchanged');
        }
        return result;
      });
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Temp files of a writer killed mid-write hold secrets; called under the lock. */
  private async removeLeftoverTemps(): Promise<void> {
    const prefix = tempPrefix(this.file);
    const names = await fsp()
      .readdir(this.dir)
      .catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const path = join(this.dir, name);
      const st = await fsp()
        .stat(path)
        .catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > LEFTOVER_TEMP_MS)
        await fsp()
          .unlink(path)
          .catch(() => {});
    }
  }
}
