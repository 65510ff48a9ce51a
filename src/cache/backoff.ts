// Exponential backoff with jitter: after the n-th consecutive failure, wait about initial·factor^(n-1),
// capped, spread by ±jitter so many keys that failed together (a network blip) don't retry together.
export interface BackoffPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** 0..1: the delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, factor: 2, maxMs: 30_000, jitter: 0.2 };

/** Delay before the next attempt after `failures` (≥ 1) consecutive failures. Never above maxMs. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, failures);
  // Exponent capped so factor^n cannot overflow to Infinity·0 = NaN for absurd failure counts.
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.min(n - 1, 64));
  const spread = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(policy.maxMs, Math.round(base * spread)));
}
