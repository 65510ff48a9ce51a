// Deadlines a helper gives the daemon for its writes, so that a write the helper stopped waiting for
// (and then did itself) is never carried out later by a daemon that was stopped or stuck meanwhile:
// the daemon refuses a request read after its deadline, and checks it again inside the store's write
// lock just before the write commits (docs/architecture.md, "Deadlines").
//
// The clock is the system's monotonic clock (CLOCK_MONOTONIC on Linux, what process.hrtime reads): one
// clock for every process of a boot, which the wall clock is not once NTP or a person sets it back.
// It costs no system call (vDSO) and no module. Imported by the helper hot path.

/** Milliseconds on the monotonic clock, the same instant in every process on this machine. */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + Math.floor(ns / 1e6);
}

/**
 * A deadline further ahead than this cannot come from a helper on this clock (they give a second or
 * two): a daemon in another time namespace, or a bug. Treated as passed: the helper then does the
 * write itself, which is always safe; honouring it could replay a write long after its caller left.
 */
export const MAX_DEADLINE_AHEAD_MS = 60_000;

export function deadlinePassed(deadline: number, now: number = monotonicMs()): boolean {
  return now > deadline || deadline - now > MAX_DEADLINE_AHEAD_MS;
}

/** Resolves once the monotonic clock is past `deadline`. */
export async function untilPassed(deadline: number): Promise<void> {
  for (;;) {
    const left = deadline - monotonicMs();
    if (left < 0) return;
    await new Promise((r) => setTimeout(r, left + 1));
  }
}
