// An in-process store for tests and the conformance runner. Same contract as the others, including
// copies in and out, so a test cannot pass by sharing objects with the store.
import type { EntryKey, StoredEntry } from '../model/types.js';
import { copyEntry, entryForPut, keyId } from './entry.js';
import type { SecretStore, WriteOptions } from './types.js';

export class MemoryStore implements SecretStore {
  readonly kind = 'memory' as const;
  readonly location = 'memory';
  private readonly entries = new Map<string, StoredEntry>();
  private generation = 0;

  constructor(initial: StoredEntry[] = []) {
    for (const e of initial) this.entries.set(keyId(e), entryForPut(e));
  }

  async list(): Promise<StoredEntry[]> {
    return [...this.entries.values()].map(copyEntry);
  }

  async get(key: EntryKey): Promise<StoredEntry | undefined> {
    const e = this.entries.get(keyId(key));
    return e && copyEntry(e);
  }

  async put(entry: StoredEntry, opts: WriteOptions = {}): Promise<void> {
    const e = entryForPut(entry);
    opts.guard?.();
    this.entries.set(keyId(e), e);
    this.generation++;
  }

  async remove(predicate: (entry: StoredEntry) => boolean, opts: WriteOptions = {}): Promise<number> {
    const doomed = [...this.entries].filter(([, e]) => predicate(copyEntry(e)));
    if (doomed.length) opts.guard?.();
    for (const [id] of doomed) this.entries.delete(id);
    const removed = doomed.length;
    if (removed) this.generation++;
    return removed;
  }

  async version(): Promise<string> {
    return this.versionSync();
  }

  versionSync(): string {
    return String(this.generation);
  }
}
