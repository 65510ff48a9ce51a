// A daemon found silent by helper after helper for REPLACE_AFTER_MS — its event loop blocked or
// spinning — will not recover by itself, and each helper pays a moment (FIRST_LOOK_MS) and a
// resolution in process for it. Such a daemon is replaced: killed (SIGKILL: a blocked event loop
// runs no SIGTERM handler), and a new one started through the lock (spawn.ts spawnLockedDaemon), which
// frees only once the old holder is dead — so two daemons never serve one user. A daemon that is
// stopped (SIGSTOP, ^Z, a debugger) is left alone: someone stopped it and may resume it, and helpers
// skip it at no more cost than a look at /proc.
import { currentHolder } from '../ipc/lock.js';
import { clearStuckMarker } from '../ipc/stuck-marker.js';
import { processAlive, processProgress } from '../platform/liveness.js';
import { sleep } from '../platform/sleep.js';
import type { Judgement } from './patience.js';

/** How long a daemon must have stayed silent, across helpers (the marker's `since`), to be replaced. */
export const REPLACE_AFTER_MS = 30_000;

/** Kills the daemon the judgement names if it has been silent long enough and still is; then `start` brings up another. */
export async function replaceIfLongStuck(dir: string, j: Judgement, start: () => Promise<unknown>, now: number = Date.now()): Promise<boolean> {
  if ((j.why !== 'silent' && j.why !== 'marked') || !j.holder || !j.marker || now - j.marker.since < REPLACE_AFTER_MS) return false;
  const { pid, start: started } = j.holder;
  // Still that very process, holding the lock, and not merely stopped.
  const holder = safe(() => currentHolder(dir));
  if (!holder || holder.pid !== pid || holder.start !== started || processProgress(pid)?.stopped) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  for (let i = 0; i < 50 && processAlive(pid, started); i++) await sleep(10);
  clearStuckMarker(dir, { pid, start: started });
  await start();
  return true;
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
