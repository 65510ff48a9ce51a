// Is the process that left a lock still running? Shared by the daemon's lock and the store's write
// lock. Liveness is kill(pid, 0) plus, on Linux, the process start time, so a recycled pid is not
// taken for the process that recorded it; a zombie (exited, not yet reaped) counts as gone.
import { readFileSync } from 'node:fs';

/**
 * State (field 3), CPU time used (fields 14 + 15, user + system) and start time (field 22) of a
 * process, where /proc exists (Linux). Times are in clock ticks, which /proc counts at USER_HZ: 100
 * a second on every Linux architecture Node runs on.
 */
function procStat(pid: number): { state: string; cpuTicks: number; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', cpuTicks: Number(fields[11]) + Number(fields[12]), start: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

const MS_PER_TICK = 10;

/**
 * Time the process's main thread has spent runnable but waiting for a CPU, in ms: field 2 of
 * /proc/<pid>/schedstat (ns). Undefined where the kernel does not keep it (no CONFIG_SCHED_INFO) or
 * without /proc. What tells a daemon starved of CPU from one that had its chance and said nothing.
 */
function runQueueWaitMs(pid: number): number | undefined {
  try {
    const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

export interface ProcessProgress {
  /** CPU time used (user + system), ms, in 10 ms steps. */
  cpuMs: number;
  /** Stopped (SIGSTOP, a terminal's ^Z, a debugger) rather than running or waiting to run. */
  stopped: boolean;
  /** Runnable right now (running, or waiting for a CPU) rather than asleep. */
  runnable: boolean;
  /** Time spent waiting for a CPU so far (runQueueWaitMs), where the kernel says. */
  waitMs?: number;
}

/**
 * How far a live process has got (see ProcessProgress). Undefined without /proc or once it is gone.
 * `withWait`: also read its run-queue wait (one more /proc read, for the one caller that uses it).
 */
export function processProgress(pid: number, opts: { withWait?: boolean } = {}): ProcessProgress | undefined {
  const st = procStat(pid);
  if (st === undefined || st.state === 'Z' || !Number.isFinite(st.cpuTicks)) return undefined;
  const p: ProcessProgress = { cpuMs: st.cpuTicks * MS_PER_TICK, stopped: st.state === 'T' || st.state === 't', runnable: st.state === 'R' };
  const waitMs = opts.withWait ? runQueueWaitMs(pid) : undefined;
  if (waitMs !== undefined) p.waitMs = waitMs;
  return p;
}

export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: gone. EPERM: the pid now belongs to another user, so it cannot be one of ours.
    return false;
  }
}

/** `start` as processStartTime gave it when the process recorded itself; undefined: pid check only. */
export function processAlive(pid: number, start: string | undefined): boolean {
  if (!pidAlive(pid)) return false;
  const st = procStat(pid);
  if (st === undefined) return true; // no /proc: the pid check is all there is
  return st.state !== 'Z' && (start === undefined || st.start === start);
}
