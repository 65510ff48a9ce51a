// `daemon.stuck` in the daemon directory: what a helper that gave up on a silent daemon leaves for
// the helpers after it, so they do not each wait out the same silence (src/client/patience.ts).
//
// It names one daemon — the lock holder by pid and process start time, or, when nobody holds the lock
// (a stray process answering on the socket path), the socket by device and inode — so a daemon started
// after it is never taken for the stuck one. It is trusted only briefly (MARK_TTL_MS after it was last
// confirmed), only from the private 0700 directory, only as a regular 0600 file of ours, and only by a
// helper whose daemon has already failed to answer for a moment: a healthy daemon answers first and
// never has it read. The daemon removes a marker naming it when it runs again (SIGCONT, its
// maintenance tick). Never a secret: pids, an inode and times.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { checkPrivateDir } from './private-dir.js';

export interface StuckMarker {
  /** The lock holder that stayed silent; absent when nobody held the lock. */
  pid?: number;
  start?: string;
  /** Without a holder: the socket (`dev:ino`) that accepted and never answered. */
  socket?: string;
  /** Wall-clock ms: first seen silent (kept while the same daemon stays silent), and last confirmed. */
  since: number;
  at: number;
}

/** A marker confirmed longer ago than this is not trusted: the next helper looks for itself. */
export const MARK_TTL_MS = 10_000;

const MAX_BYTES = 4096;

export function stuckMarkerPath(dir: string): string {
  return join(dir, 'daemon.stuck');
}

/** The daemon a marker may name: the lock holder, or else the socket file. */
export type DaemonIdentity = { pid: number; start?: string } | { socket: string };

export function socketIdentity(socketPath: string): string | undefined {
  try {
    const st = lstatSync(socketPath);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export function names(m: StuckMarker, who: DaemonIdentity): boolean {
  if ('pid' in who) return m.pid === who.pid && m.start === who.start;
  return m.pid === undefined && m.socket === who.socket;
}

export function isFresh(m: StuckMarker, now: number = Date.now()): boolean {
  // A time ahead of ours is a clock set back since, or not a marker we wrote: not trusted.
  return m.at <= now + 1_000 && now - m.at < MARK_TTL_MS;
}

/** The marker, if there is one we can trust to be ours: undefined for anything else. */
export function readStuckMarker(dir: string): StuckMarker | undefined {
  if (checkPrivateDir(dir).state !== 'ok') return undefined;
  let fd: number;
  try {
    fd = openSync(stuckMarkerPath(dir), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0 || st.size > MAX_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, st.size, 0);
    return parse(buf.toString('utf8', 0, n));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function parse(text: string): StuckMarker | undefined {
  const m = JSON.parse(text) as Partial<StuckMarker>;
  if (typeof m !== 'object' || m === null || !Number.isFinite(m.since) || !Number.isFinite(m.at)) return undefined;
  const out: StuckMarker = { since: m.since!, at: m.at! };
  if (Number.isSafeInteger(m.pid) && m.pid! > 0) out.pid = m.pid;
  if (typeof m.start === 'string') out.start = m.start;
  if (typeof m.socket === 'string') out.socket = m.socket;
  if (out.pid === undefined && out.socket === undefined) return undefined;
  return out;
}

/**
 * Records that `who` was found silent now; keeps `since` when the marker already named it, so how long
 * a daemon has been stuck adds up across helpers. Best effort (a helper that cannot write it just
 * leaves the next one to look for itself). Returns the marker written.
 */
export function markStuck(dir: string, who: DaemonIdentity, now: number = Date.now()): StuckMarker {
  const had = readStuckMarker(dir);
  const since = had && names(had, who) && had.since <= now ? had.since : now;
  const m: StuckMarker = { ...who, since, at: now };
  try {
    const tmp = join(dir, `.daemon.stuck.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
    writeFileAtomicSync(stuckMarkerPath(dir), `${JSON.stringify(m)}\n`, { durable: 'none', tmp });
  } catch {
    // best effort
  }
  return m;
}

/** Removes the marker if it names `who` (a helper that heard from the daemon after all, or the daemon itself). */
export function clearStuckMarker(dir: string, who: DaemonIdentity): void {
  const m = readStuckMarker(dir);
  if (!m || !names(m, who)) return;
  try {
    unlinkSync(stuckMarkerPath(dir));
  } catch {
    // already gone
  }
}
