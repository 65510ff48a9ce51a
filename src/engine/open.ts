// Opens the engine a process serves from: the store chosen by CREDMUX_STORE, and the config file,
// both re-checked for every request (one stat each) so a long-lived daemon picks up changes made by
// other processes without a restart, and the very next request sees them. The daemon's immediate
// answers (Engine.handleNow) share those stats among the requests read in one event-loop turn.
import { compileRules, configStamp, loadConfig } from './config.js';
import type { Rule } from '../model/rule.js';
import { engineFrom, type Engine, type EngineDeps } from './engine.js';
import { configFile, type Env } from '../platform/paths.js';
import type { StoredEntry } from '../model/types.js';
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
  const rules = reloadingRules(env);
  const engine = engineFrom({
    store: cached,
    storedNow: cached.listNow,
    rules,
    rulesNow: oncePerTurn(rules),
    env,
    now: extra.now ?? (() => Math.floor(Date.now() / 1000)),
    onChange: extra.onChange,
  });
  return { ...engine, store, storeReason: reason };
}

/**
 * `look()` at most once per event-loop turn: its answer is kept until the turn's check phase (an
 * undefined answer or a throw is not kept). For handleNow, which the daemon calls as it handles socket
 * reads. A request read in a turn reached the socket before that turn's poll returned — a client asks
 * on a fresh connection, first read in a later turn than its accept, or on a kept one once its
 * previous answer arrived — so a file changed before the request was sent is seen by the turn's first
 * look. (A client that sends its next request before the previous answer, with a change in between,
 * could get one answer from the old file.) A busy daemon reads many requests per turn: they share it.
 */
function oncePerTurn<T>(look: () => T | undefined): { (): T | undefined; reset(): void } {
  let value: T | undefined;
  const reset = () => {
    value = undefined;
  };
  const get = () => {
    if (value === undefined) {
      value = look();
      if (value !== undefined) setImmediate(reset);
    }
    return value;
  };
  return Object.assign(get, { reset });
}

/** Rules from the config file, recompiled only when the file changed (its identity: platform/file-identity.ts). */
function reloadingRules(env: Env): () => Rule[] {
  let stamp: string | undefined;
  let rules: Rule[] = [];
  const path = configFile(env); // the environment an engine serves is fixed when it opens
  return () => {
    const now = configStamp(env, path);
    if (now !== stamp) {
      // Throws CredmuxError('config') for an invalid file, and keeps throwing on every request until fixed.
      const loaded = loadConfig(env);
      rules = compileRules(loaded.config, loaded.path);
      stamp = loaded.stamp;
    }
    return rules;
  };
}

/** A store that can say its version without a promise (the file and memory stores). */
interface SyncVersioned {
  versionSync(): string;
}

function hasSyncVersion(store: SecretStore): store is SecretStore & SyncVersioned {
  return typeof (store as Partial<SyncVersioned>).versionSync === 'function';
}

/**
 * Keeps the last list() while store.version() is unchanged: a daemon answers from memory. Concurrent
 * callers share one read, so a burst arriving at a fresh daemon parses a large store once, not once each.
 * The version is asked synchronously where the store can (one stat, no thread-pool round trip).
 */
function cachingStore(store: SecretStore): SecretStore & { listNow: () => StoredEntry[] | undefined } {
  /** `value` once `entries` has resolved, for listNow(). */
  let cached: { version: string; entries: Promise<StoredEntry[]>; value?: StoredEntry[] } | undefined;
  const invalidate = () => {
    cached = undefined;
    listNow.reset();
  };
  const entriesAt = (version: string): Promise<StoredEntry[]> => {
    if (cached?.version !== version) {
      const entries = store.list();
      const at: NonNullable<typeof cached> = { version, entries };
      cached = at;
      listNow.reset();
      entries.then(
        (value) => void (at.value = value),
        () => {
          if (cached === at) invalidate(); // a failed read is retried, not remembered
        },
      );
    }
    return cached.entries;
  };
  const versionSync = hasSyncVersion(store) ? () => store.versionSync() : undefined;
  /** The cached list when it is read and still current, looked at once per turn; undefined when list() has to wait (or would fail). */
  const listNow = oncePerTurn(() => {
    try {
      return versionSync && cached?.value && cached.version === versionSync() ? cached.value : undefined;
    } catch {
      return undefined;
    }
  });
  return {
    kind: store.kind,
    location: store.location,
    version: () => store.version(),
    get: (key) => store.get(key),
    put: async (entry, opts) => {
      invalidate();
      await store.put(entry, opts);
    },
    remove: async (pred, opts) => {
      invalidate();
      return store.remove(pred, opts);
    },
    list() {
      if (!versionSync) return store.version().then(entriesAt);
      try {
        return entriesAt(versionSync());
      } catch (e) {
        return Promise.reject(e);
      }
    },
    listNow,
  };
}
