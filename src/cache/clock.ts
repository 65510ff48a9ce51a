// Two clocks, because each lies in its own way: the wall clock (Date.now) jumps when NTP or a human
// sets it, and the monotonic clock (performance.now) does not advance while a laptop sleeps. Token
// expiry is given in wall time by the issuer; the cache trusts whichever clock says *less* time remains.
export interface Clock {
  /** Milliseconds since the Unix epoch (may jump either way). */
  wallMs(): number;
  /** Milliseconds from an arbitrary origin; never goes back (may pause during suspend). */
  monoMs(): number;
}

export const systemClock: Clock = {
  wallMs: () => Date.now(),
  monoMs: () => performance.now(),
};
