// The daemon's one full collection after a burst of token fetches (src/daemon/collect-after-bursts.ts).
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { BURST_FETCHES, collectAfterBursts } from '../../src/daemon/collect-after-bursts.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it('collects once, at the first quiet check after a burst, and not while fetches go on', () => {
  let fetches = 0;
  let collected = 0;
  const stop = collectAfterBursts(
    () => fetches,
    () => collected++,
    1000,
  );
  for (let s = 0; s < 5; s++) {
    fetches += 40; // 200 fetches over five seconds
    vi.advanceTimersByTime(1000);
    expect(collected).toBe(0);
  }
  vi.advanceTimersByTime(1000);
  expect(collected).toBe(1);
  vi.advanceTimersByTime(10_000); // quiet: nothing more to give back
  expect(collected).toBe(1);
  stop();
});

it('leaves a trickle below the burst size to V8, and counts caches replaced in between', () => {
  let fetches = 100;
  let collected = 0;
  const stop = collectAfterBursts(
    () => fetches,
    () => collected++,
    1000,
  );
  fetches += BURST_FETCHES - 1;
  vi.advanceTimersByTime(2000);
  expect(collected).toBe(0);
  fetches = 1; // a new engine's caches start at 0: only the new fetches count
  vi.advanceTimersByTime(2000);
  expect(collected).toBe(1); // 49 + 0 + 1 ≥ 50 once quiet
  stop();
  fetches += 500;
  vi.advanceTimersByTime(5000);
  expect(collected).toBe(1);
});
