// The daemon as users meet it: bundled, started by the first helper call, one per user, surviving
// SIGKILL, stale sockets and bad directories, and going away when idle.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/platform/paths.js';
import type { EngineRequest, EngineResult } from '../../src/model/types.js';
import { askDaemon } from '../../src/client/daemon-client.js';
import { daemonStatus, startDaemon, stopDaemon } from '../../src/client/daemon-control.js';
import { DaemonError } from '../../src/ipc/errors.js';
import { DAEMON_NODE_FLAGS } from '../../src/client/spawn.js';
import { daemonFiles } from '../../src/ipc/paths.js';
import { PROTOCOL_VERSION } from '../../src/ipc/codec.js';
import { expectedSecret, fakeEngine } from './fixtures/fake-engine.js';
import {
  buildFakeBundles,
  daemonPids,
  daemonWithPrelude,
  disposeBundles,
  exited,
  holderPid,
  readLog,
  runClient,
  runDaemonSync,
  testHome,
  waitUntil,
  type Bundles,
  type TestHome,
} from './helpers.js';

let bins: Bundles;
const homes: TestHome[] = [];

beforeAll(async () => {
  bins = await buildFakeBundles();
});

afterEach(() => {
  for (const h of homes.splice(0)) h.cleanup();
});

afterAll(() => {
  disposeBundles(bins?.dir); // belt and braces: nothing started from this bundle survives the file
});

function home(extra: Env = {}): TestHome {
  const h = testHome(bins.daemon, extra);
  homes.push(h);
  return h;
}

const get = (host: string): EngineRequest => ({ op: 'get', url: `https://${host}/path` });

/** What a helper does: the daemon's answer, else the same engine in process. */
async function resolve(req: EngineRequest, env: Env): Promise<{ via: 'daemon' | 'process'; result: EngineResult }> {
  // A generous start wait: under a loaded test machine a daemon may need more than the default 1.5 s.
  const r = await askDaemon(req, env, { startWaitMs: 15_000 });
  return r ? { via: 'daemon', result: r } : { via: 'process', result: await fakeEngine(env).handle(req) };
}

function secretOf(r: EngineResult): string | undefined {
  return r.op === 'get' ? r.credential?.secret : undefined;
}

async function runningStatus(env: Env) {
  const s = await daemonStatus(env);
  if (!s.running) throw new Error(`daemon not running: ${s.reason}`);
  return s;
}

describe('starting and serving', () => {
  it('the first call starts the daemon and answers; later calls are answered from its cache', async () => {
    const { env } = home();
    expect(await daemonStatus(env)).toMatchObject({ running: false });
    const first = await resolve(get('a.example'), env);
    expect(first.via).toBe('daemon');
    expect(secretOf(first.result)).toBe(expectedSecret('https://a.example'));
    for (let i = 0; i < 3; i++) {
      const r = await resolve(get('a.example'), env);
      expect(r.via).toBe('daemon');
      expect(secretOf(r.result)).toBe('pw-for-a.example');
    }
    const s = await runningStatus(env);
    expect(s.pid).toBe(holderPid(env));
    expect(s.requests).toMatchObject({ total: 4, get: 4 });
    expect(s.cache).toMatchObject({ hits: 3, misses: 1, fetches: 1 });
    expect(s.cache.entries).toEqual([expect.objectContaining({ cache: 'fake', key: 'fake:a.example', state: 'fresh' })]);
    expect(s).toMatchObject({ socket: daemonFiles(env).socket, protocol: PROTOCOL_VERSION, idleTimeoutSeconds: 60 });
    expect(JSON.stringify(s)).not.toContain('pw-for');
    expect(readFileSync(daemonFiles(env).pidFile, 'utf8').trim()).toBe(String(s.pid));
  });

  it('20 helper processes at the same instant with no daemon spawn exactly one daemon, and all get the right answer', async () => {
    const { env, root } = home();
    // The daemon, behind a wrapper that counts how many times it was started.
    const starts = join(root, 'daemon-starts');
    const bin = daemonWithPrelude(bins, 'counted-daemon', `require('fs').appendFileSync(${JSON.stringify(starts)}, 'x');`);
    env.CREDMUX_DAEMON_BIN = bin;
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => runClient(bins.client, get(`h${i % 3}.example`), env)));
    for (const [i, r] of runs.entries()) expect(r.result).toMatchObject({ credential: { secret: `pw-for-h${i % 3}.example` } });
    expect(runs.filter((r) => r.via === 'daemon').length).toBeGreaterThan(0);
    // The first helper took the lock before spawning: the others waited for its daemon instead of
    // each spawning one that would lose the race.
    expect(readFileSync(starts, 'utf8')).toBe('x');
    const pids = daemonPids(bin, env);
    expect(pids).toHaveLength(1);
    expect(pids[0]).toBe(holderPid(env));
    expect(readFileSync(daemonFiles(env).pidFile, 'utf8').trim()).toBe(String(pids[0]));
    // And everyone after that is served by that one daemon.
    const after = await Promise.all(Array.from({ length: 5 }, () => runClient(bins.client, get('h0.example'), env)));
    expect(after.every((r) => r.via === 'daemon')).toBe(true);
    expect((await runningStatus(env)).pid).toBe(pids[0]);
    process.kill(pids[0]!, 'SIGKILL'); // started from the wrapper, which the home's cleanup does not look for
  });

  it('20 daemons started at once: exactly one keeps the lock and serves, the others exit 75', async () => {
    const { env } = home();
    const codes: (number | null)[] = [];
    for (let i = 0; i < 20; i++) {
      const child = spawn(process.execPath, [bins.daemon], { env: env as NodeJS.ProcessEnv, stdio: 'ignore' });
      child.on('exit', (code) => codes.push(code));
    }
    await waitUntil(() => codes.length >= 19, 20_000, '19 daemons to give up');
    await new Promise((r) => setTimeout(r, 300)); // would a 20th exit too?
    expect(codes).toEqual(Array(19).fill(75));
    expect(daemonPids(bins.daemon, env)).toEqual([holderPid(env)]);
    expect((await resolve(get('x.example'), env)).via).toBe('daemon');
  });
});

describe('a daemon that dies', () => {
  it('SIGKILL in the middle of 50 concurrent requests: every request still gets the right answer, and a new daemon serves the next', async () => {
    const { env } = home({ FAKE_ENGINE_DELAY_MS: '1500' });
    await resolve(get('warm.example'), env);
    const first = (await runningStatus(env)).pid;
    const reqs = Array.from({ length: 50 }, (_, i) => get(`k${i}.example`)); // all miss: each waits 1.5 s in the daemon
    const pending = Promise.all(reqs.map((r) => resolve(r, env)));
    await waitUntil(async () => (await daemonStatus(env)).running && (await runningStatus(env)).requests.total >= 40, 10_000, 'requests in flight');
    process.kill(first, 'SIGKILL');
    const results = await pending;
    for (const [i, r] of results.entries()) expect(secretOf(r.result)).toBe(`pw-for-k${i}.example`);
    expect(results.filter((r) => r.via === 'process').length).toBeGreaterThan(0); // they really lost the daemon
    const next = await resolve(get('after.example'), env);
    expect(next.via).toBe('daemon');
    expect(secretOf(next.result)).toBe('pw-for-after.example');
    const s = await runningStatus(env);
    expect(s.pid).not.toBe(first);
    expect(daemonPids(bins.daemon, env)).toEqual([s.pid]);
  });

  it('a stale socket and lock left by a SIGKILLed daemon are replaced by the next daemon', async () => {
    const { env } = home();
    await resolve(get('a.example'), env);
    const files = daemonFiles(env);
    const old = (await runningStatus(env)).pid;
    process.kill(old, 'SIGKILL');
    await waitUntil(() => exited(old), 10_000, 'daemon to die');
    // What it leaves: a socket file nobody answers, and a lock file naming a dead pid.
    expect(statSync(files.socket).isSocket()).toBe(true);
    const connectError = () =>
      new Promise<string>((r) =>
        createConnection(files.socket)
          .on('error', (e: NodeJS.ErrnoException) => r(e.code ?? ''))
          .on('connect', () => r('connected')),
      );
    // Right after the kill the kernel may still be tearing the listener down (ECONNRESET); then: refused.
    await waitUntil(async () => (await connectError()) === 'ECONNREFUSED', 5_000, 'connections to be refused');
    expect(readdirSync(files.dir)).toContain('daemon.lock.1');
    expect(holderPid(env)).toBeUndefined();

    const r = await resolve(get('a.example'), env);
    expect(r.via).toBe('daemon');
    const s = await runningStatus(env);
    expect(s.pid).not.toBe(old);
    expect(readdirSync(files.dir).filter((f) => f.startsWith('daemon.lock.'))).toEqual(['daemon.lock.2']);
  });
});

describe('refusing to start', () => {
  it('a socket directory others can enter is refused with the exact chmod fix, and helpers resolve in process without spawning', async () => {
    const { env } = home();
    const dir = daemonFiles(env).dir;
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const r = runDaemonSync(bins.daemon, env);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`chmod 700 ${dir}`);
    expect(readLog(env)).toContain(`chmod 700 ${dir}`);
    expect(await askDaemon(get('a.example'), env)).toBeUndefined();
    expect(daemonPids(bins.daemon, env)).toEqual([]);
    expect(existsSync(daemonFiles(env).socket)).toBe(false);
  });

  it('a new socket directory is created 0700 even under a permissive umask', async () => {
    const { env } = home();
    const old = process.umask(0o000);
    try {
      await resolve(get('a.example'), env);
    } finally {
      process.umask(old);
    }
    expect(statSync(daemonFiles(env).dir).mode & 0o777).toBe(0o700);
    expect(statSync(daemonFiles(env).socket).mode & 0o077).toBe(0);
  });

  it('a socket path too long for a Unix socket is refused clearly, and helpers resolve in process', async () => {
    const { env, root } = home();
    const deep = join(root, 'x'.repeat(60), 'y'.repeat(40));
    mkdirSync(deep, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = deep;
    const r = runDaemonSync(bins.daemon, env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/socket path .* bytes, more than the 107 a Unix socket allows; set XDG_RUNTIME_DIR/);
    expect(await askDaemon(get('a.example'), env)).toBeUndefined();
    expect(daemonPids(bins.daemon, env)).toEqual([]);
  });

  it('CREDMUX_DAEMON=0: no connection, no spawn, no directory', async () => {
    const { env } = home({ CREDMUX_DAEMON: '0' });
    expect(await askDaemon(get('a.example'), env)).toBeUndefined();
    expect(existsSync(daemonFiles(env).dir)).toBe(false);
    expect(daemonPids(bins.daemon, env)).toEqual([]);
  });
});

describe('lifecycle', () => {
  it('exits after CREDMUX_IDLE_TIMEOUT=1 without requests, removing socket and pid file and releasing the lock', async () => {
    const { env } = home({ CREDMUX_IDLE_TIMEOUT: '1' });
    await resolve(get('a.example'), env);
    const pid = (await runningStatus(env)).pid;
    await waitUntil(() => daemonPids(bins.daemon, env).length === 0, 10_000, 'idle exit');
    const files = daemonFiles(env);
    expect(existsSync(files.socket)).toBe(false);
    expect(existsSync(files.pidFile)).toBe(false);
    expect(JSON.parse(readFileSync(join(files.dir, 'daemon.lock.1'), 'utf8'))).toMatchObject({ pid, released: true });
    expect(readLog(env)).toMatch(/stopping reason="idle for 1 s"/);
  });

  it('requests keep it alive: no idle exit while it is being used', async () => {
    const { env } = home({ CREDMUX_IDLE_TIMEOUT: '2' });
    await resolve(get('a.example'), env);
    const pid = (await runningStatus(env)).pid;
    const t0 = Date.now();
    while (Date.now() - t0 < 4_500) {
      await new Promise((r) => setTimeout(r, 500));
      expect((await resolve(get('a.example'), env)).via).toBe('daemon');
    }
    expect((await runningStatus(env)).pid).toBe(pid);
  });

  it('SIGTERM: a clean shutdown that removes socket and pid file and releases the lock', async () => {
    const { env } = home();
    await resolve(get('a.example'), env);
    const pid = (await runningStatus(env)).pid;
    process.kill(pid, 'SIGTERM');
    await waitUntil(() => daemonPids(bins.daemon, env).length === 0, 10_000, 'exit on SIGTERM');
    const files = daemonFiles(env);
    expect(existsSync(files.socket)).toBe(false);
    expect(existsSync(files.pidFile)).toBe(false);
    expect(holderPid(env)).toBeUndefined();
    expect(readLog(env)).toMatch(/stopping reason="signal SIGTERM"[\s\S]*stopped total=1 get=1/);
  });

  it('startDaemon starts one detached daemon, or reports the running one; an unsafe directory throws the chmod fix', async () => {
    const { env } = home();
    const first = await startDaemon(env);
    expect(first).toMatchObject({ started: true, status: { pid: holderPid(env), requests: { total: 0 } } });
    expect(await startDaemon(env)).toMatchObject({ started: false, status: { pid: first.status.pid } });
    expect(daemonPids(bins.daemon, env)).toEqual([first.status.pid]);

    const bad = home().env;
    const dir = daemonFiles(bad).dir;
    mkdirSync(dir, { mode: 0o711 });
    chmodSync(dir, 0o711);
    const err = await startDaemon(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect(err).toMatchObject({ problem: 'insecure-dir', message: expect.stringContaining(`run: chmod 700 ${dir}`) });
  });

  it('stopDaemon asks it to leave; status then says none is running', async () => {
    const { env } = home();
    await resolve(get('a.example'), env);
    const pid = (await runningStatus(env)).pid;
    expect(await stopDaemon(env)).toEqual({ wasRunning: true, pid, how: 'request' });
    expect(daemonPids(bins.daemon, env)).toEqual([]);
    expect(await daemonStatus(env)).toMatchObject({ running: false, reason: expect.stringContaining('no daemon is running') });
    expect(await stopDaemon(env)).toEqual({ wasRunning: false });
  });

  it('stopDaemon sees the daemon gone once it exits, though nobody reaps it (a container whose PID 1 does not)', async () => {
    // The daemon's parent is `sleep`, which never waits for children: the daemon stays a zombie
    // after it exits, and a zombie's pid still answers kill(pid, 0). A stop that took that for a
    // live daemon waited out its patience, then signalled it ('SIGTERM').
    const { env } = home();
    const parent = spawn('sh', ['-c', `"$0" "$@" & exec sleep 120`, process.execPath, ...DAEMON_NODE_FLAGS, bins.daemon], { env, stdio: 'ignore' });
    try {
      await waitUntil(async () => (await daemonStatus(env)).running, 15_000, 'the daemon under sleep to answer');
      const pid = (await runningStatus(env)).pid;
      expect(await stopDaemon(env, 8_000)).toEqual({ wasRunning: true, pid, how: 'request' });
      expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/^\d+ \(.*\) Z /); // still there, unreaped
    } finally {
      parent.kill('SIGKILL'); // its zombie child goes to init, which reaps it
    }
  });

  it('stopDaemon signals a daemon that holds the lock but does not answer', async () => {
    const { env } = home();
    await resolve(get('a.example'), env);
    const pid = (await runningStatus(env)).pid;
    process.kill(pid, 'SIGSTOP'); // wedged: connects queue up, nothing answers
    try {
      const r = await stopDaemon(env, 500);
      expect(r).toMatchObject({ wasRunning: true, pid });
      expect(['SIGTERM', 'SIGKILL']).toContain(r.how);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // stopped already
      }
    }
    await waitUntil(() => daemonPids(bins.daemon, env).length === 0, 10_000, 'wedged daemon gone');
  });

  it('replacing the daemon executable (an upgrade) makes the running daemon exit, and the next call starts the new one', async () => {
    const { env, root } = home();
    const bin = join(root, 'credmux-daemon');
    copyFileSync(bins.daemon, bin);
    env.CREDMUX_DAEMON_BIN = bin;
    await resolve(get('a.example'), env);
    const old = (await runningStatus(env)).pid;
    writeFileSync(bin, readFileSync(bins.daemon, 'utf8') + '\n// v2\n');
    await new Promise((r) => setTimeout(r, 1_100)); // the daemon looks at most once a second
    expect((await resolve(get('a.example'), env)).via).toBe('daemon'); // answered, then it leaves
    await waitUntil(() => exited(old), 10_000, 'old daemon to exit');
    expect((await resolve(get('a.example'), env)).via).toBe('daemon');
    expect((await runningStatus(env)).pid).not.toBe(old);
    for (const pid of daemonPids(bin, env)) process.kill(pid, 'SIGKILL');
  });
});

describe('what passes through', () => {
  it('a client with another CREDMUX_* environment is not answered from this daemon (resolves in process)', async () => {
    const { env } = home();
    await resolve(get('a.example'), env);
    const other = { ...env, CREDMUX_STORE: 'file' };
    expect(await askDaemon(get('a.example'), other)).toBeUndefined();
    expect((await runningStatus(env)).requests.contextMismatch).toBe(1);
    // …and env that does not choose config or store (PATH, PWD, the idle timeout) does not matter.
    expect(await askDaemon(get('a.example'), { ...env, PWD: '/elsewhere', CREDMUX_IDLE_TIMEOUT: '5' })).toBeDefined();
  });

  it('the log is private, records starts and counts, and never a secret', async () => {
    const { env } = home();
    await resolve({ op: 'store', url: 'https://u:pw-in-url@a.example', credential: { kind: 'basic', username: 'u', secret: 'SECRET-STORED' } }, env);
    await resolve(get('a.example'), env);
    await resolve(get('error.example'), env);
    await stopDaemon(env);
    const files = daemonFiles(env);
    expect(statSync(files.logFile).mode & 0o777).toBe(0o600);
    expect(statSync(files.logDir).mode & 0o777).toBe(0o700);
    const log = readLog(env);
    expect(log).toMatch(/INFO started pid=\d+/);
    expect(log).toContain('WARN request failed op=get code=source message="fake source failed"');
    expect(log).toMatch(/stopped total=3 get=2 store=1 erase=0 list=0 errors=1/);
    expect(log).not.toMatch(/SECRET-STORED|pw-for|pw-in-url/);
  });
});
