// The patience of a helper with a daemon that has its request and says nothing (src/client/patience.ts),
// on a fake clock and a fake /proc: what it gives up on and when, counted in looks, not timed.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonPatience, FIRST_LOOK_MS, LOOK_EVERY_MS, QUIET_LIMIT_MS } from '../../src/client/patience.js';
import { monotonicMs } from '../../src/ipc/deadline.js';
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
    progress: () => (proc.alive ? { cpuMs: proc.cpuMs, stopped: proc.stopped, runnable: proc.runnable } : undefined),
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
