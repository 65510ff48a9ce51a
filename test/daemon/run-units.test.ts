// serveDaemon's units (src/daemon/run.ts composes them): the engine holder, the executable and socket
// watches, the maintenance tick and the process hooks.
import { StoreWatch } from '../../src/daemon/store-watch.js';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newCounters, type EngineLike } from '../../src/daemon/dispatch.js';
import { EngineHolder } from '../../src/daemon/engine-holder.js';
import { ExecutableWatch, installProcessHooks, socketOwnership, startMaintenance, SUMMARY_EVERY_MS } from '../../src/daemon/watchers.js';

const quietLog = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
const engineWith = (names: () => string[]): EngineLike => ({ handle: async () => ({ op: 'list', entries: [] }), envNames: names });

describe('EngineHolder', () => {
  it('opens once, and again after a failed open', async () => {
    const e = engineWith(() => []);
    const open = vi.fn<() => Promise<EngineLike>>().mockRejectedValueOnce(new Error('store busy')).mockResolvedValue(e);
    const h = new EngineHolder(open, () => {}, quietLog);
    await expect(h.get()).rejects.toThrow('store busy');
    expect(h.opened()).toBeUndefined();
    expect(await h.get()).toBe(e);
    expect(await h.get()).toBe(e);
    expect(open).toHaveBeenCalledTimes(2);
    expect(h.opened()).toBe(e);
  });

  it('publishes the env names when the engine hands back a new list, and survives a failing publish', () => {
    let names = ['A'];
    const publish = vi.fn();
    const h = new EngineHolder(async () => engineWith(() => names), publish, quietLog);
    const e = engineWith(() => names);
    h.publishEnvNames(e);
    h.publishEnvNames(e);
    expect(publish).toHaveBeenCalledTimes(1);
    names = ['A', 'B'];
    h.publishEnvNames(e);
    expect(publish).toHaveBeenLastCalledWith(['A', 'B']);
    const failing = new EngineHolder(
      async () => e,
      () => {
        throw new Error('EROFS');
      },
      quietLog,
    );
    expect(() => failing.publishEnvNames(engineWith(() => ['C']))).not.toThrow();
    expect(quietLog.warn).toHaveBeenCalledWith('cannot publish env-names.json', { error: 'Error' });
  });
});

describe('ExecutableWatch', () => {
  it('reports a replaced executable, and stats at most once a second on activity', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmx-exe-'));
    const exe = join(dir, 'credmux-daemon');
    writeFileSync(exe, 'v1');
    const changed = vi.fn();
    const w = new ExecutableWatch(exe, changed);
    w.check();
    expect(changed).not.toHaveBeenCalled();
    writeFileSync(join(dir, 'new'), 'version 2');
    renameSync(join(dir, 'new'), exe);
    w.onActivity(5_000);
    expect(changed).toHaveBeenCalledTimes(1);
    w.onActivity(5_500); // within a second of the last look
    expect(changed).toHaveBeenCalledTimes(1);
    w.onActivity(6_100);
    expect(changed).toHaveBeenCalledTimes(2);
  });

  it('watches nothing without a path or when the file was unreadable at start', () => {
    const changed = vi.fn();
    new ExecutableWatch(undefined, changed).check();
    new ExecutableWatch('/nonexistent/credmux-daemon', changed).check();
    expect(changed).not.toHaveBeenCalled();
  });
});

describe('socketOwnership', () => {
  it('is ours until the socket is removed or another takes the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmx-sock-'));
    const path = join(dir, 's');
    const listen = () =>
      new Promise<ReturnType<typeof createServer>>((resolve) => {
        const s = createServer();
        s.listen(path, () => resolve(s));
      });
    const first = await listen();
    const ours = socketOwnership(path);
    expect(ours()).toBe(true);
    rmSync(path);
    expect(ours()).toBe(false);
    const second = await listen();
    expect(ours()).toBe(false);
    first.close();
    second.close();
  });
});

describe('startMaintenance', () => {
  afterEach(() => vi.useRealTimers());

  const deps = (over: Partial<Parameters<typeof startMaintenance>[0]> = {}) => ({
    intervalMs: 1_000,
    socketIsOurs: () => true,
    lockHeld: () => true,
    executable: new ExecutableWatch(undefined, () => {}),
    counters: newCounters(),
    log: { info: vi.fn() },
    stop: vi.fn(),
    prune: vi.fn(),
    ...over,
  });

  it('stops the daemon when the socket or the lock is no longer ours', () => {
    vi.useFakeTimers();
    let socket = true;
    const d = deps({ socketIsOurs: () => socket });
    const cancel = startMaintenance(d);
    vi.advanceTimersByTime(1_000);
    expect(d.stop).not.toHaveBeenCalled();
    expect(d.prune).toHaveBeenCalledTimes(1);
    socket = false;
    vi.advanceTimersByTime(1_000);
    expect(d.stop).toHaveBeenCalledWith('the socket was removed or replaced');
    cancel();
    const l = deps({ lockHeld: () => false });
    const cancelL = startMaintenance(l);
    vi.advanceTimersByTime(1_000);
    expect(l.stop).toHaveBeenCalledWith('the lock is no longer ours');
    cancelL();
  });

  it('logs a request summary every ten minutes, and only when there were requests', () => {
    vi.useFakeTimers();
    const d = deps();
    const cancel = startMaintenance(d);
    vi.advanceTimersByTime(SUMMARY_EVERY_MS);
    expect(d.log.info).not.toHaveBeenCalled();
    d.counters.total = 3;
    vi.advanceTimersByTime(1_000);
    expect(d.log.info).toHaveBeenCalledWith('requests', expect.objectContaining({ total: 3 }));
    vi.advanceTimersByTime(SUMMARY_EVERY_MS - 2_000);
    expect(d.log.info).toHaveBeenCalledTimes(1);
    cancel();
  });
});

describe('installProcessHooks', () => {
  it('stops on a signal and on a crash (code 70), and takes its listeners off again', () => {
    const before = process.listenerCount('SIGHUP');
    const stop = vi.fn();
    const log = { error: vi.fn() };
    const uninstall = installProcessHooks(log, stop);
    process.emit('SIGHUP', 'SIGHUP');
    expect(stop).toHaveBeenCalledWith('signal SIGHUP');
    process.emit('unhandledRejection', new TypeError('x'), Promise.resolve());
    expect(stop).toHaveBeenCalledWith('crash', 70);
    expect(log.error).toHaveBeenCalledWith('crashed', expect.objectContaining({ error: 'TypeError' }));
    uninstall();
    expect(process.listenerCount('SIGHUP')).toBe(before);
  });
});

describe('StoreWatch', () => {
  const file = { kind: 'file', location: '/h/credentials.json' };
  const keychain = { kind: 'keychain', location: 'Secret Service on unix:path=/run/bus, service "credmux"' };

  it('lets requests through without a look until one is due; a look that finds the same store lets them on', async () => {
    let t = 0;
    let looks = 0;
    const w = new StoreWatch({ current: () => file, choose: async () => (looks++, file), onChanged: () => {}, everyMs: 1_000, now: () => t });
    expect(w.gate()).toBeUndefined();
    t = 999;
    expect(w.gate()).toBeUndefined();
    t = 1_000;
    const g = w.gate();
    expect(w.gate()).toBe(g); // requests meanwhile wait for the same look
    expect(await g).toBe(true);
    expect(looks).toBe(1);
    expect(w.gate()).toBeUndefined(); // the next look is due a second later
  });

  it('a changed store declines every request from then on and reports the change once', async () => {
    const changes: string[] = [];
    let session = file;
    const w = new StoreWatch({
      current: () => file,
      choose: async () => session,
      onChanged: (from, to) => changes.push(`${from.kind}->${to.kind}`),
      everyMs: 60_000,
    });
    expect(await w.check()).toBe(true); // a signal, nothing changed
    session = keychain;
    expect(await w.check()).toBe(false);
    expect(await w.gate()).toBe(false);
    expect(await w.gate()).toBe(false);
    expect(changes).toEqual(['file->keychain']);
  });

  it('before the engine is open, or when choosing fails, nothing is declined', async () => {
    expect(await new StoreWatch({ current: () => undefined, choose: async () => keychain, onChanged: () => {} }).check()).toBe(true);
    const failing = new StoreWatch({ current: () => file, choose: () => Promise.reject(new Error('CREDMUX_STORE=bogus')), onChanged: () => {} });
    expect(await failing.check()).toBe(true);
  });
});
