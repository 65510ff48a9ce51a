// What tells a running daemon to stop besides idling and signals: its executable replaced (an
// upgrade: the next client then starts the new version), its socket removed or replaced (another
// daemon took the path over), its lock lost. Checked on a maintenance tick, and for the executable
// also on requests, at most once a second.
import { lstatSync, statSync, watch } from 'node:fs';
import { fileIdentity } from '../platform/file-identity.js';
import { basename, dirname } from 'node:path';
import { liveCaches } from '../cache/registry.js';
import type { RequestCounters } from './dispatch.js';
import type { Logger } from './log.js';

function statId(path: string): string | undefined {
  try {
    return fileIdentity(statSync(path));
  } catch {
    return undefined;
  }
}

/** Reports a replaced executable; nothing to watch without a path, or when it could not be read at start. */
export class ExecutableWatch {
  private readonly id: string | undefined;
  private checkedAt = 0;

  constructor(
    private readonly path: string | undefined,
    private readonly onChanged: () => void,
  ) {
    this.id = path ? statId(path) : undefined;
  }

  check(): void {
    if (!this.path || this.id === undefined) return;
    if (statId(this.path) !== this.id) this.onChanged();
  }

  /** On activity at `now` (performance.now()): one stat at most a second, so an upgrade takes effect on the next request. */
  onActivity(now: number): void {
    if (now - this.checkedAt > 1000) {
      this.checkedAt = now;
      this.check();
    }
  }
}

/** The socket this daemon created, by device and inode: removed or replaced, it is no longer ours. */
export function socketOwnership(path: string): () => boolean {
  const idOf = (): string | undefined => {
    try {
      const st = lstatSync(path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
  };
  const id = idOf();
  return () => id !== undefined && idOf() === id;
}

/**
 * Calls `onLost` as soon as the socket at `path` is removed or replaced (someone deleted it, or another
 * daemon bound the path): an inotify watch on its directory, each event about that name checked with
 * `isOurs`. A daemon nobody can reach must not linger until it idles out, holding the lock that a
 * reachable daemon needs. Where the directory cannot be watched, the maintenance tick still notices.
 */
export function watchSocketPath(path: string, isOurs: () => boolean, onLost: () => void): () => void {
  const name = basename(path);
  try {
    const watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return; // the lock, env-names.json, pid file: not the socket
      if (!isOurs()) onLost();
    });
    watcher.on('error', () => watcher.close()); // e.g. the directory itself removed: the tick takes over
    return () => watcher.close();
  } catch {
    return () => {};
  }
}

export interface MaintenanceDeps {
  intervalMs: number;
  socketIsOurs: () => boolean;
  lockHeld: () => boolean;
  executable: ExecutableWatch;
  counters: RequestCounters;
  log: Pick<Logger, 'info'>;
  stop: (why: string) => void;
  /** Drops expired tokens from the caches (default: every live cache prunes). */
  prune?: () => void;
  /** Anything else a running daemon does now and then (removing a marker that calls it stuck). */
  eachTick?: () => void;
}

/** Every log summary of the request counters is at least this far apart, and only after requests. */
export const SUMMARY_EVERY_MS = 600_000;

/** The maintenance tick: the stop conditions above, cache pruning, a periodic request summary. Returns a cancel function. */
export function startMaintenance(d: MaintenanceDeps): () => void {
  const prune =
    d.prune ??
    (() => {
      for (const c of liveCaches()) c.prune();
    });
  let summarized = 0;
  let sinceSummary = 0;
  const timer = setInterval(() => {
    if (!d.socketIsOurs()) return d.stop('the socket was removed or replaced');
    if (!d.lockHeld()) return d.stop('the lock is no longer ours');
    d.executable.check();
    prune();
    d.eachTick?.();
    sinceSummary += d.intervalMs;
    if (d.counters.total !== summarized && sinceSummary >= SUMMARY_EVERY_MS) {
      summarized = d.counters.total;
      sinceSummary = 0;
      d.log.info('requests', { ...d.counters });
    }
  }, d.intervalMs);
  return () => clearInterval(timer);
}

/** While the daemon owns its process: signals stop it, a crash stops it with 70. Returns the uninstaller. */
export function installProcessHooks(log: Pick<Logger, 'error'>, stop: (why: string, code?: number) => void): () => void {
  const onSignal = (sig: NodeJS.Signals) => stop(`signal ${sig}`);
  const onCrash = (e: unknown) => {
    log.error('crashed', {
      error: e instanceof Error ? e.name : String(typeof e),
      where: e instanceof Error ? (e.stack ?? '').split('\n')[1]?.trim() : undefined,
    });
    stop('crash', 70);
  };
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  return () => {
    for (const s of signals) process.off(s, onSignal);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  };
}
