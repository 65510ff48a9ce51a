// One full garbage collection once a burst of token fetches has ended.
//
// Minting thousands of tokens at once (a daemon's first minutes on a CI runner with thousands of
// token rules) leaves megabytes of HTTP and JSON garbage in V8's old generation, and V8 collects it
// only when the old generation has grown by another 8 MB or the process goes idle; a daemon that
// keeps serving keeps it resident. Measured under the bench load (5,000 tokens minted, then 64
// connections of lookups): 6-7 MB of the daemon's RSS at the end of the load was such garbage, there
// or not depending on when V8 last collected. One compacting collection after the burst (tens of
// milliseconds for ~25 MB live) gives it back; none runs while fetches go on, and a trickle of
// refreshes below BURST_FETCHES is left to V8.

export const BURST_FETCHES = 50;

/**
 * Every `checkEveryMs`, reads the fetch count; after at least BURST_FETCHES new fetches, calls `collect`
 * at the first check that finds no new one. Returns a function that stops the checks.
 */
export function collectAfterBursts(fetches: () => number, collect: () => void, checkEveryMs = 1_000): () => void {
  let seen = fetches();
  let since = 0;
  const timer = setInterval(() => {
    const now = fetches();
    if (now !== seen) {
      since += now > seen ? now - seen : now; // a count that went down: new caches, counting from 0
      seen = now;
      return;
    }
    if (since >= BURST_FETCHES) {
      since = 0;
      collect();
    }
  }, checkEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
