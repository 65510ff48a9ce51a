// askDaemon against daemons that misbehave: older and newer protocols, dying mid-request, silence,
// garbage. The rule throughout: the request never fails (undefined = resolve in process), and a
// daemon is only spawned when none is there (or an older one was asked to leave).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import { askDaemon, START_CPU_BUDGET_MS, START_WAIT_CAP_MS, startWait } from '../../src/client/daemon-client.js';
import { processProgress } from '../../src/platform/liveness.js';
import { PROTOCOL_VERSION } from '../../src/ipc/codec.js';
import { daemonFiles } from '../../src/ipc/paths.js';
import { ensurePrivateDir } from '../../src/ipc/private-dir.js';
import {
  buildFakeBundles,
  daemonPids,
  daemonWithPrelude,
  disposeBundles,
  lineServer,
  testHome,
  waitUntil,
  type Bundles,
  type TestHome,
} from './helpers.js';

let bins: Bundles;
const homes: TestHome[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  bins = await buildFakeBundles();
});
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const h of homes.splice(0)) h.cleanup();
});
afterAll(() => disposeBundles(bins?.dir));

const req = { op: 'get', url: 'https://a.example/x' } as const;

/** A test home whose CREDMUX_DAEMON_BIN only records that it was spawned (and exits `code`). */
function homeWithMarkerBin(code = 1): { env: Env; spawned: () => number } {
  const h = testHome(bins.daemon);
  homes.push(h);
  const marker = join(h.root, 'spawned');
  const bin = join(h.root, 'marker-daemon.cjs');
  writeFileSync(bin, `require('fs').appendFileSync(${JSON.stringify(marker)}, 'x'); process.exit(${code});\n`);
  h.env.CREDMUX_DAEMON_BIN = bin;
  return { env: h.env, spawned: () => (existsSync(marker) ? readFileSync(marker, 'utf8').length : 0) };
}

/** A test home whose daemon runs `prelude` first (daemonWithPrelude), then the fake-engine daemon. */
function homeWithDaemonPrelude(name: string, prelude: string) {
  const h = testHome(bins.daemon);
  homes.push(h);
  const bin = daemonWithPrelude(bins, name, prelude);
  h.env.CREDMUX_DAEMON_BIN = bin;
  return {
    env: h.env,
    bin,
    daemonPid: () => daemonPids(bin, h.env)[0],
    async askAndTime() {
      const t0 = Date.now();
      const answer = await askDaemon(req, h.env);
      return { answer, waited: Date.now() - t0 };
    },
  };
}

/** A fake daemon at the env's socket path: `onLine` decides what to do with each line received. */
async function fakeDaemon(env: Env, onLine: (line: string, socket: Socket) => void): Promise<{ lines: string[]; connections: () => number }> {
  const files = daemonFiles(env);
  ensurePrivateDir(files.dir);
  const lines: string[] = [];
  let connections = 0;
  const server = await lineServer(
    files.socket,
    (line, socket) => {
      lines.push(line);
      onLine(line, socket);
    },
    () => connections++,
  );
  servers.push(server);
  return { lines, connections: () => connections };
}

describe('askDaemon with a daemon that is not the one it expects', () => {
  it('an older daemon (protocol 0) is asked to shut down in its own version, and a daemon of ours answers', async () => {
    const h = testHome(bins.daemon);
    homes.push(h);
    const old = await fakeDaemon(h.env, (line, socket) => {
      const m = JSON.parse(line) as { v: unknown; id: number; ctl?: string };
      if (m.v === 0 && m.ctl === 'shutdown') {
        socket.end(`${JSON.stringify({ v: 0, id: m.id, bye: true })}\n`);
        servers[0]?.close(); // unlinks the socket, as a stopping daemon does
      } else {
        socket.write(`${JSON.stringify({ v: 0, id: null, error: { code: 'version', message: 'old', protocol: 0, version: '0.0.1' } })}\n`);
      }
    });
    const r = await askDaemon(req, h.env);
    expect(old.lines.map((l) => JSON.parse(l) as object)).toEqual([
      expect.objectContaining({ v: PROTOCOL_VERSION, req }),
      { v: 0, id: 0, ctl: 'shutdown' },
    ]);
    expect(r).toMatchObject({ op: 'get', credential: { secret: 'pw-for-a.example' } });
    expect(daemonPids(bins.daemon, h.env)).toHaveLength(1);
  });

  it('a newer daemon is left alone: resolve in process, no shutdown, no spawn', async () => {
    const { env, spawned } = homeWithMarkerBin();
    const newer = await fakeDaemon(env, (line, socket) => {
      const m = JSON.parse(line) as { id: number };
      socket.write(`${JSON.stringify({ v: 2, id: m.id, error: { code: 'version', message: 'speaks 2', protocol: 2, version: '9.0.0' } })}\n`);
    });
    expect(await askDaemon(req, env)).toBeUndefined();
    expect(newer.lines).toHaveLength(1);
    expect(spawned()).toBe(0);
  });

  it('a daemon that dies mid-request (connection dropped or ended without a reply): undefined, not an error', async () => {
    const { env, spawned } = homeWithMarkerBin();
    await fakeDaemon(env, (_line, socket) => socket.destroy());
    expect(await askDaemon(req, env)).toBeUndefined();
    await fakeDaemon({ ...env, XDG_RUNTIME_DIR: join(env.XDG_RUNTIME_DIR!, 'b') }, (_line, socket) => socket.end());
    expect(await askDaemon(req, { ...env, XDG_RUNTIME_DIR: join(env.XDG_RUNTIME_DIR!, 'b') })).toBeUndefined();
    expect(spawned()).toBe(0);
  });

  it('a silent daemon: undefined after the answer timeout', async () => {
    const { env } = homeWithMarkerBin();
    await fakeDaemon(env, () => {});
    const t0 = Date.now();
    expect(await askDaemon(req, env, { answerTimeoutMs: 200 })).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('garbage, a reply to another id, or a wire error: undefined', async () => {
    for (const reply of [
      'this is not json',
      JSON.stringify({ v: PROTOCOL_VERSION, id: 999999, res: { op: 'get', credential: null } }),
      JSON.stringify({ v: PROTOCOL_VERSION, id: null, error: { code: 'engine', message: 'x' } }),
    ]) {
      const { env } = homeWithMarkerBin();
      await fakeDaemon(env, (_l, socket) => socket.write(`${reply}\n`));
      expect(await askDaemon(req, env, { answerTimeoutMs: 300 })).toBeUndefined();
    }
  });

  it('the answer of a well-behaved daemon is returned as is', async () => {
    const { env } = homeWithMarkerBin();
    const res = { op: 'get', credential: { kind: 'bearer', username: '__token__', secret: 'tok', expiresAt: 1893456000 } };
    await fakeDaemon(env, (line, socket) =>
      socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: (JSON.parse(line) as { id: number }).id, res })}\n`),
    );
    expect(await askDaemon(req, env)).toEqual(res);
  });
});

describe('askDaemon when no daemon is there', () => {
  it('spawns exactly one daemon per call; if it cannot come up, the call returns undefined as soon as it exits', async () => {
    const { env, spawned } = homeWithMarkerBin(1);
    const t0 = Date.now();
    expect(await askDaemon(req, env)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(1_200); // not the whole 1.5 s start wait
    expect(spawned()).toBe(1);
    // A daemon that cannot start is not spawned again on every call: the next calls resolve in process at once.
    const t1 = Date.now();
    expect(await askDaemon(req, env)).toBeUndefined();
    expect(Date.now() - t1).toBeLessThan(100);
    expect(spawned()).toBe(1);
  });

  it('a daemon kept off the CPU for 2.5 s (as a burst of helpers keeps it) still serves the call that started it', { timeout: 20_000 }, async () => {
    // 2.5 s without CPU before it starts: well past the 1.5 s start wait.
    const d = homeWithDaemonPrelude('held-daemon', 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);');
    const { answer, waited } = await d.askAndTime();
    expect(answer, 'the call gave up on the daemon and would resolve in process').toBeDefined();
    expect(waited).toBeGreaterThanOrEqual(2_500);
    expect(daemonPids(d.bin, d.env)).toHaveLength(1);
    process.kill(d.daemonPid()!, 'SIGKILL');
  });

  it('a daemon that has had the CPU a start needs and still does not listen is given up on', { timeout: 20_000 }, async () => {
    const d = homeWithDaemonPrelude('spinning-daemon', 'for (;;) {}');
    const { answer, waited } = await d.askAndTime();
    expect(answer).toBeUndefined();
    const pid = d.daemonPid()!;
    expect(pid).toBeDefined();
    // It gave up on the budget, not the cap (unless the machine is so busy the spinner got no CPU).
    if (waited < START_WAIT_CAP_MS) expect(processProgress(pid)?.cpuMs).toBeGreaterThanOrEqual(START_CPU_BUDGET_MS);
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => processProgress(pid) === undefined, 5_000, 'the spinner to die');
  });

  it('a daemon stopped before it listens (^Z) is not waited for past the start wait', { timeout: 20_000 }, async () => {
    const d = homeWithDaemonPrelude('stopped-daemon', "process.kill(process.pid, 'SIGSTOP');");
    const { answer, waited } = await d.askAndTime();
    expect(answer).toBeUndefined();
    const pid = d.daemonPid()!;
    expect(processProgress(pid)).toMatchObject({ stopped: true });
    // The 1.5 s wait (stretched only by this process's own oversleeping on a busy machine), not the 10 s cap.
    expect(waited).toBeLessThan(START_WAIT_CAP_MS - 2_000);
    process.kill(pid, 'SIGKILL');
  });

  it('startWaitMs 0: never spawns', async () => {
    const { env, spawned } = homeWithMarkerBin(1);
    expect(await askDaemon(req, env, { startWaitMs: 0 })).toBeUndefined();
    expect(spawned()).toBe(0);
  });

  it('no daemon executable to run (source checkout without CREDMUX_DAEMON_BIN): undefined, quickly', async () => {
    const h = testHome(bins.daemon);
    homes.push(h);
    delete h.env.CREDMUX_DAEMON_BIN;
    const t0 = Date.now();
    expect(await askDaemon(req, h.env)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it('CREDMUX_DAEMON=0 never connects', async () => {
    const { env, spawned } = homeWithMarkerBin();
    const d = await fakeDaemon(env, () => {});
    expect(await askDaemon(req, { ...env, CREDMUX_DAEMON: '0' })).toBeUndefined();
    expect(d.connections()).toBe(0);
    expect(spawned()).toBe(0);
  });
});

describe('startWait: the wait for a starting daemon counts only time this process could run', () => {
  /** A clock whose every sleep of `ms` takes `takes(ms)`; counts how many sleeps the wait allowed. */
  function fakeClock(takes: (ms: number) => number) {
    let now = 0;
    return { now: () => now, sleep: async (ms: number) => void (now += takes(ms)) };
  }
  async function sleepsUntilOver(w: ReturnType<typeof startWait>, clock: { now(): number }) {
    while (!w.over()) await w.sleep(5);
    return clock.now();
  }

  it('an idle machine (sleeps on time, or a millisecond late): the plain wait', async () => {
    for (const late of [0, 1]) {
      const clock = fakeClock((ms) => ms + late);
      expect(await sleepsUntilOver(startWait(1_500, 10_000, clock), clock)).toBe(1_500);
    }
  });

  it('a starved machine: oversleeping moves the deadline, up to the cap', async () => {
    // Each 5 ms sleep takes 14 ms: 7 of them count (5 asked + 2 of slack), so 1.5 s of ours is ~3 s of wall time.
    const starved = fakeClock(() => 14);
    const waited = await sleepsUntilOver(startWait(1_500, 10_000, starved), starved);
    expect(waited).toBeGreaterThanOrEqual(3_000);
    expect(waited).toBeLessThan(3_000 + 14);
    // Starved harder, the cap decides.
    const frozen = fakeClock(() => 200);
    expect(await sleepsUntilOver(startWait(1_500, 10_000, frozen), frozen)).toBe(10_000);
  });

  it('past the deadline, a daemon still short of CPU is waited for until it has had it, up to the cap', async () => {
    let asked = 0;
    const clock = fakeClock((ms) => ms);
    // The daemon gets its CPU at 4 s: the wait ends then, not at 1.5 s.
    const w = startWait(1_500, 10_000, clock, () => (asked++, clock.now() < 4_000));
    expect(await sleepsUntilOver(w, clock)).toBe(4_000);
    expect(asked).toBe((4_000 - 1_500) / 5 + 1); // asked only once the deadline had passed: no /proc reads before
    // Never getting it: the cap.
    const never = fakeClock((ms) => ms);
    expect(
      await sleepsUntilOver(
        startWait(1_500, 10_000, never, () => true),
        never,
      ),
    ).toBe(10_000);
  });
});

describe('processProgress', () => {
  it("counts a live process's CPU time, and nothing for one that is gone", () => {
    const before = processProgress(process.pid)!;
    expect(before).toMatchObject({ stopped: false });
    expect(before.cpuMs).toBeGreaterThan(0);
    // Spin until the kernel has given us 100 ms more CPU by its own count (not 100 ms of wall time:
    // on a loaded machine that can be 20 ms of CPU), then read it back through /proc.
    const cpu0 = process.cpuUsage();
    const deadline = performance.now() + 20_000;
    for (;;) {
      const used = process.cpuUsage(cpu0);
      if ((used.user + used.system) / 1000 >= 100 || performance.now() > deadline) break;
    }
    const used = process.cpuUsage(cpu0);
    expect((used.user + used.system) / 1000).toBeGreaterThanOrEqual(100);
    expect(processProgress(process.pid)!.cpuMs - before.cpuMs).toBeGreaterThanOrEqual(50); // /proc counts in 10 ms ticks
    expect(processProgress(2 ** 22 + 1)).toBeUndefined(); // above pid_max
  });

  it(
    'counts the time a process waited for a CPU (Linux schedstat): spinners past the core count wait, a sleeper does not',
    { timeout: 60_000 },
    async () => {
      const { spawn } = await import('node:child_process');
      const { availableParallelism } = await import('node:os');
      const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
      const spinners: ReturnType<typeof spawn>[] = [];
      try {
        // Asleep first (started, exec'd, in nanosleep), so its count no longer moves.
        await waitUntil(() => processProgress(sleeper.pid!)?.runnable === false, 10_000, 'the sleeper to sleep');
        const asleep0 = processProgress(sleeper.pid!, { withWait: true })?.waitMs;
        expect(processProgress(sleeper.pid!)?.waitMs).toBeUndefined(); // read only when asked for
        for (let i = 0; i <= availableParallelism(); i++) spinners.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
        const waited = () => spinners.reduce((sum, c) => sum + (processProgress(c.pid!, { withWait: true })?.waitMs ?? NaN), 0);
        expect(asleep0).toEqual(expect.any(Number));
        const start = waited();
        expect(start).toEqual(expect.any(Number));
        // More runnable spinners than cores: together they wait for a CPU at least a second, in time.
        await waitUntil(() => waited() - start >= 1_000, 30_000, 'the spinners to wait for a CPU');
        // Asleep all along: next to nothing (the last of its start, at most).
        expect(processProgress(sleeper.pid!, { withWait: true })!.waitMs! - asleep0!).toBeLessThan(100);
      } finally {
        for (const c of [...spinners, sleeper]) c.kill('SIGKILL');
      }
    },
  );
});
