// The patience of a helper with a daemon that has its request and says nothing (src/client/patience.ts),
// on a fake clock and a fake /proc: what it gives up on and when, counted in looks, not timed.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AFTER_PROGRESS_LOOK_MS,
  daemonPatience,
  FIRST_LOOK_MS,
  LOOK_EVERY_MS,
  MAX_LOOK_EVERY_MS,
  QUIET_LIMIT_MS,
} from '../../src/client/patience.js';
import { monotonicMs } from '../../src/ipc/deadline.js';
import { PROGRESS_EVERY_MS } from '../../src/daemon/progress.js';
import type { Holder } from '../../src/ipc/lock.js';
import { isFresh, MARK_TTL_MS, markStuck, readStuckMarker, stuckMarkerPath } from '../../src/ipc/stuck-marker.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function runDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'cmx-patience-'));
  dirs.push(root);
  const dir = join(root, 'run');
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

const HOLDER: Holder = { pid: 4242, start: '777', version: 'x', protocol: 2, gen: 1 };

interface Proc {
  cpuMs: number;
  stopped: boolean;
  runnable: boolean;
  alive: boolean;
  /** Run-queue wait so far (/proc/<pid>/schedstat); undefined: a kernel that does not keep it. */
  waitMs?: number;
}

/** A patience on a fake clock; `proc` is what /proc says of the holder at each look. */
function setup(opts: { holder?: Holder; proc?: Partial<Proc>; until?: number; capMs?: number; dir?: string } = {}) {
  let t = 0;
  const proc: Proc = { cpuMs: 0, stopped: false, runnable: false, alive: true, ...opts.proc };
  const dir = opts.dir ?? runDir();
  const p = daemonPatience({
    dir,
    socket: join(dir, 'daemon.sock'),
    capMs: opts.capMs ?? 10_000,
    until: opts.until,
    now: () => t,
    holder: () => ('holder' in opts ? opts.holder : HOLDER),
    progress: () => (proc.alive ? { cpuMs: proc.cpuMs, stopped: proc.stopped, runnable: proc.runnable, waitMs: proc.waitMs } : undefined),
    alive: () => proc.alive,
  });
  /** Runs looks as ask() would (each when the previous asked, on time) until it gives up or `maxMs` passes. */
  const runUntilGiveUp = (maxMs: number, eachLook: () => void = () => {}): { why: string | undefined; at: number; looks: number } => {
    let next = p.firstLookMs;
    let looks = 0;
    while (t + next <= maxMs) {
      t += next;
      eachLook();
      looks++;
      const r = p.look();
      if (typeof r === 'string') return { why: r, at: t, looks };
      next = r;
    }
    return { why: undefined, at: t, looks };
  };
  return { p, proc, dir, runUntilGiveUp, advance: (ms: number) => (t += ms), time: () => t };
}

describe('patience with a silent daemon', () => {
  it('a stopped daemon is given up on at the first look, and no marker is left (the next helper sees /proc too)', () => {
    const s = setup({ proc: { stopped: true } });
    expect(s.runUntilGiveUp(5_000)).toMatchObject({ why: 'stopped', at: FIRST_LOOK_MS, looks: 1 });
    expect(readStuckMarker(s.dir)).toBeUndefined();
  });

  it('a daemon that exits while we wait is given up on at once', () => {
    const s = setup();
    s.proc.alive = false;
    expect(s.runUntilGiveUp(5_000)).toMatchObject({ why: 'gone', looks: 1 });
  });

  it('a blocked daemon (asleep, no CPU) is given up on after the quiet limit, and a marker names it', () => {
    const s = setup({ proc: { runnable: false } });
    const r = s.runUntilGiveUp(5_000);
    expect(r.why).toBe('silent');
    expect(r.at).toBeGreaterThanOrEqual(QUIET_LIMIT_MS);
    expect(r.at).toBeLessThan(QUIET_LIMIT_MS + LOOK_EVERY_MS + FIRST_LOOK_MS);
    expect(readStuckMarker(s.dir)).toMatchObject({ pid: HOLDER.pid, start: HOLDER.start });
    expect(s.p.judgement).toMatchObject({ why: 'silent', holder: HOLDER });
  });

  it('a spinning daemon (runnable, a whole CPU) is given up on after the quiet limit too', () => {
    const s = setup({ proc: { runnable: true } });
    const r = s.runUntilGiveUp(5_000, () => (s.proc.cpuMs = s.time())); // one CPU-ms per ms
    expect(r.why).toBe('silent');
    expect(r.at).toBeLessThan(QUIET_LIMIT_MS + LOOK_EVERY_MS + FIRST_LOOK_MS);
  });

  it('a starved daemon (runnable, hardly any CPU) is waited for past the quiet limit, up to the cap, and not marked then', () => {
    const s = setup({ proc: { runnable: true }, capMs: 3_000 });
    const r = s.runUntilGiveUp(10_000, () => (s.proc.cpuMs += 1)); // ~1% of a CPU
    expect(r.why).toBe('silent');
    expect(r.at).toBeGreaterThanOrEqual(3_000);
    expect(readStuckMarker(s.dir)).toBeUndefined(); // starved is not stuck: nobody should skip it
  });

  it('a starved daemon caught asleep at one look is still waited for: its starved intervals are not silence (no schedstat)', () => {
    // As seen in CI: runnable on a few % of a CPU for seconds, then asleep for a moment at one look.
    const s = setup({ proc: { runnable: true } });
    const r = s.runUntilGiveUp(2_500, () => (s.proc.cpuMs += 5));
    expect(r.why).toBeUndefined();
    s.proc.runnable = false; // the look catches it between two slices
    s.advance(LOOK_EVERY_MS);
    expect(s.p.look()).toEqual(expect.any(Number));
    expect(readStuckMarker(s.dir)).toBeUndefined();
    // Truly asleep from here on: given up on once the quiet limit has passed since.
    const after = s.time();
    const last = s.runUntilGiveUp(10_000);
    expect(last.why).toBe('silent');
    expect(last.at - after).toBeLessThan(QUIET_LIMIT_MS + LOOK_EVERY_MS);
  });

  it("the daemon's run-queue wait (schedstat) is not silence; the time it could run is", () => {
    // Runnable and waiting for a CPU 95% of the time, asleep at some looks: waited for, up to the cap.
    const starved = setup({ proc: { runnable: true, waitMs: 0 }, capMs: 3_000 });
    let n = 0;
    const r = starved.runUntilGiveUp(10_000, () => {
      starved.proc.waitMs = starved.time() * 0.95;
      starved.proc.runnable = n++ % 3 !== 0;
    });
    expect(r.why).toBe('silent');
    expect(r.at).toBeGreaterThanOrEqual(3_000);
    expect(readStuckMarker(starved.dir)).toBeUndefined();
    // Blocked (no wait, asleep) or spinning (no wait, runnable, a whole CPU): the quiet limit.
    for (const runnable of [false, true]) {
      const s = setup({ proc: { runnable, waitMs: 0 } });
      const q = s.runUntilGiveUp(5_000, () => (s.proc.cpuMs = runnable ? s.time() : 0));
      expect(q.why).toBe('silent');
      expect(q.at).toBeLessThan(QUIET_LIMIT_MS + LOOK_EVERY_MS + FIRST_LOOK_MS);
      expect(readStuckMarker(s.dir)).toMatchObject({ pid: HOLDER.pid });
    }
    // Spinning on half a CPU (the other half waiting): twice the quiet limit, and marked.
    const half = setup({ proc: { runnable: true, waitMs: 0 } });
    const h = half.runUntilGiveUp(5_000, () => {
      half.proc.waitMs = half.time() / 2;
      half.proc.cpuMs = half.time() / 2;
    });
    expect(h.why).toBe('silent');
    expect(h.at).toBeGreaterThanOrEqual(2 * QUIET_LIMIT_MS - LOOK_EVERY_MS);
    expect(h.at).toBeLessThan(2 * QUIET_LIMIT_MS + 2 * LOOK_EVERY_MS);
    expect(readStuckMarker(half.dir)).toMatchObject({ pid: HOLDER.pid });
  });

  it("our own lateness and the daemon's wait for a CPU, at different times, both are excused", () => {
    // This process ran 700 ms late to its first look (it was starved connecting), then the daemon
    // waited for a CPU for 800 ms: neither is silence, though each alone is under the quiet limit.
    const s = setup({ proc: { runnable: true, waitMs: 0 } });
    s.advance(FIRST_LOOK_MS + 700);
    let next = s.p.look();
    expect(next).toEqual(expect.any(Number));
    for (let waited = 0; waited < 800; waited += next as number) {
      s.advance(next as number);
      s.proc.waitMs! += next as number;
      next = s.p.look();
      expect(next, `at ${s.time()} ms`).toEqual(expect.any(Number));
    }
    // Then the daemon runs and says nothing: given up on a quiet limit later.
    s.proc.runnable = false;
    const from = s.time();
    const r = s.runUntilGiveUp(10_000);
    expect(r.why).toBe('silent');
    expect(r.at - from).toBeGreaterThanOrEqual(QUIET_LIMIT_MS - LOOK_EVERY_MS);
  });

  it('looks back off while the daemon waits for a CPU; one stuck after that is still found soon after', () => {
    const s = setup({ proc: { runnable: true }, capMs: 20_000 });
    const starved = s.runUntilGiveUp(5_000, () => (s.proc.cpuMs += 1));
    expect(starved.why).toBeUndefined();
    expect(starved.looks).toBeLessThan(15); // not 50: every 100 ms would be
    s.proc.runnable = false;
    const from = s.time();
    const r = s.runUntilGiveUp(20_000);
    expect(r.why).toBe('silent');
    expect(r.at - from).toBeLessThan(MAX_LOOK_EVERY_MS + QUIET_LIMIT_MS + 2 * LOOK_EVERY_MS);
  });

  it('after progress the next look is due only once the next progress is late', () => {
    const s = setup({ proc: { runnable: false } });
    expect(s.p.alive()).toBe(AFTER_PROGRESS_LOOK_MS);
    expect(AFTER_PROGRESS_LOOK_MS).toBeGreaterThan(2 * PROGRESS_EVERY_MS);
    expect(AFTER_PROGRESS_LOOK_MS).toBeLessThan(QUIET_LIMIT_MS);
  });

  it('progress keeps it waiting as long as it comes; silence after it counts from the last one', () => {
    const s = setup({ proc: { runnable: false } });
    let looks = 0;
    // 3 s of progress every 100 ms: never given up on.
    for (let at = 0; at < 3_000; at += 100) {
      s.advance(100);
      s.p.alive();
    }
    const r = s.runUntilGiveUp(10_000, () => looks++);
    expect(r.why).toBe('silent');
    expect(r.at - 3_000).toBeGreaterThanOrEqual(QUIET_LIMIT_MS);
    expect(looks).toBeGreaterThan(1);
  });

  it('progress for longer than the cap (a slow exchange) is waited for: the cap bounds silence, not the whole answer', () => {
    const s = setup({ proc: { runnable: false }, capMs: 3_000 });
    // 10 s of progress every 100 ms, a look 50 ms after each as ask() runs them: never given up on.
    for (let at = 0; at < 10_000; at += 100) {
      s.advance(s.p.firstLookMs);
      expect(s.p.look()).toEqual(expect.any(Number));
      s.advance(100 - s.p.firstLookMs);
      s.p.alive();
    }
    expect(s.p.judgement).toBeUndefined();
    expect(readStuckMarker(s.dir)).toBeUndefined();
    // Then starved silence: waited for up to the cap from the last progress, and not marked.
    s.proc.runnable = true;
    const r = s.runUntilGiveUp(30_000, () => (s.proc.cpuMs += 1));
    expect(r.why).toBe('silent');
    expect(r.at - 10_000).toBeGreaterThanOrEqual(3_000);
    expect(r.at - 10_000).toBeLessThan(3_000 + LOOK_EVERY_MS + FIRST_LOOK_MS);
    expect(readStuckMarker(s.dir)).toBeUndefined();
  });

  it("time this process was not run (its own timers late) does not count as the daemon's silence", () => {
    const s = setup({ proc: { runnable: false } });
    // Every look fires 200 ms late: only the scheduled 100 ms of each interval count.
    let next = s.p.firstLookMs;
    let counted = 0;
    let why: string | undefined;
    while (why === undefined && s.time() < 20_000) {
      s.advance(next + 200);
      counted += next;
      const r = s.p.look();
      if (typeof r === 'string') why = r;
      else next = r;
    }
    expect(why).toBe('silent');
    expect(counted).toBeGreaterThanOrEqual(QUIET_LIMIT_MS);
    expect(counted).toBeLessThan(QUIET_LIMIT_MS + 2 * LOOK_EVERY_MS);
  });

  it('a write is waited for no longer than its deadline', () => {
    const s = setup({ proc: { runnable: true }, until: monotonicMs() - 1 }); // already past
    expect(s.runUntilGiveUp(5_000, () => (s.proc.cpuMs += 1))).toMatchObject({ why: 'deadline', looks: 1 });
  });

  it('nobody holding the lock (a stray process on the socket path): given up on after the quiet limit, marked by the socket', () => {
    const dir = runDir();
    writeFileSync(join(dir, 'daemon.sock'), ''); // stands in for the socket: the marker names it by inode
    const s = setup({ holder: undefined, dir });
    expect(s.runUntilGiveUp(5_000).why).toBe('silent');
    const st = statSync(join(dir, 'daemon.sock'));
    expect(readStuckMarker(dir)).toMatchObject({ socket: `${st.dev}:${st.ino}` });
    expect(readStuckMarker(dir)?.pid).toBeUndefined();
  });
});

describe('later helpers learn from the first', () => {
  it('a fresh marker naming this daemon: given up on at the first look', () => {
    const s = setup({ proc: { runnable: false } });
    markStuck(s.dir, { pid: HOLDER.pid, start: HOLDER.start });
    expect(s.runUntilGiveUp(5_000)).toMatchObject({ why: 'marked', looks: 1 });
  });

  it('a marker naming another daemon (another pid, or the same pid started at another time) is ignored', () => {
    for (const other of [
      { pid: HOLDER.pid + 1, start: HOLDER.start },
      { pid: HOLDER.pid, start: '778' },
    ]) {
      const s = setup({ proc: { runnable: false } });
      markStuck(s.dir, other);
      const r = s.runUntilGiveUp(5_000);
      expect(r.why).toBe('silent');
      expect(r.looks).toBeGreaterThan(1);
    }
  });

  it('a marker older than its time to live is ignored, and writing it again keeps when the silence began', () => {
    const s = setup({ proc: { runnable: false } });
    const old = Date.now() - MARK_TTL_MS - 1_000;
    markStuck(s.dir, { pid: HOLDER.pid, start: HOLDER.start }, old);
    expect(isFresh(readStuckMarker(s.dir)!)).toBe(false);
    const r = s.runUntilGiveUp(5_000);
    expect(r.why).toBe('silent');
    expect(r.looks).toBeGreaterThan(1);
    const m = readStuckMarker(s.dir)!;
    expect(m.since).toBe(old);
    expect(isFresh(m)).toBe(true);
  });

  it('a marker is trusted only as a private regular file of ours in a private directory', () => {
    const s = setup();
    markStuck(s.dir, { pid: HOLDER.pid, start: HOLDER.start });
    expect(readStuckMarker(s.dir)).toBeDefined();
    chmodSync(stuckMarkerPath(s.dir), 0o644);
    expect(readStuckMarker(s.dir)).toBeUndefined();
    chmodSync(stuckMarkerPath(s.dir), 0o600);
    chmodSync(s.dir, 0o755);
    expect(readStuckMarker(s.dir)).toBeUndefined();
    chmodSync(s.dir, 0o700);
    writeFileSync(stuckMarkerPath(s.dir), '{"pid":"x","since":1,"at":1}');
    expect(readStuckMarker(s.dir)).toBeUndefined();
  });
});
