// Opens the engine a process serves from: the store chosen by CREDMUX_STORE, and the config file,
// both re-checked on every request (one stat each) so a long-lived daemon picks up changes made by
// other processes without a restart.
import { compileRules, configStamp, loadConfig, type Rule } from './config.js';
import { engineFrom, type Engine, type EngineDeps } from './engine.js';
import type { Env } from './paths.js';
import type { StoredEntry } from './types.js';
import { openStore } from '../store/select.js';
import type { SecretStore } from '../store/types.js';

export interface OpenedEngine extends Engine {
  store: SecretStore;
  /** One line: which store and why (for doctor / --verbose). */
  storeReason: string;
}

export async function openEngine(env: Env, extra: Partial<Pick<EngineDeps, 'onChange' | 'now'>> = {}): Promise<OpenedEngine> {
  const { store, reason } = await openStore(env);
  const cached = cachingStore(store);
  const engine = engineFrom({
    store: cached,
    rules: reloadingRules(env),
    env,
    now: extra.now ?? (() => Math.floor(Date.now() / 1000)),
    onChange: extra.onChange,
  });
  return { ...engine, store, storeReason: reason };
}

/** Rules from the config file, recompiled only when the file changed (by inode, size and mtime). */
function reloadingRules(env: Env): () => Rule[] {
  let stamp: string | undefined;
  let rules: Rule[] = [];
  return () => {
    const now = configStamp(env);
    if (now !== stamp) {
      // Throws CredmuxError('config') for an invalid file, and keeps throwing on every request until fixed.
      const loaded = loadConfig(env);
      rules = compileRules(loaded.config, loaded.path);
      stamp = loaded.stamp;
    }
    return rules;
  };
}

/**
 * Keeps the last list() while store.version() is unchanged: a daemon answers from memory. Concurrent
 * callers share one read, so a burst arriving at a fresh daemon parses a large store once, not once each.
 */
function cachingStore(store: SecretStore): SecretStore {
  let cached: { version: string; entries: Promise<StoredEntry[]> } | undefined;
  const invalidate = () => {
    cached = undefined;
  };
  return {
    kind: store.kind,
    location: store.location,
    version: () => store.version(),
    get: (key) => store.get(key),
    put: async (entry) => {
      invalidate();
      await store.put(entry);
    },
    remove: async (pred) => {
      invalidate();
      return store.remove(pred);
    },
    async list() {
      const version = await store.version();
      if (cached?.version !== version) {
        const entries = store.list();
        cached = { version, entries };
        entries.catch(() => {
          if (cached?.entries === entries) invalidate(); // a failed read is retried, not remembered
        });
      }
      return cached.entries;
    },
  };
}
