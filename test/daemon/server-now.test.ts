// The daemon answering without a promise: dispatchLine returns the reply itself when the engine has
// the answer in memory (Engine.handleNow), with the same reply, counters and env-names refresh as the
// awaited path; the connection server sends such replies at once and still counts them as in flight.
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './helpers.js';
import type { CredmuxError, EngineRequest, EngineResult } from '../../src/model/types.js';
import { monotonicMs, untilPassed } from '../../src/ipc/deadline.js';
import type { DaemonMessage } from '../../src/ipc/codec.js';
import { dispatchLine, newCounters, type DispatchDeps, type EngineLike } from '../../src/daemon/dispatch.js';
import { nullLogger } from '../../src/daemon/log.js';
import { createConnectionServer } from '../../src/daemon/server.js';
import { PROGRESS_EVERY_MS } from '../../src/daemon/progress.js';

const tmp = tempDirs('cmx-now-');

const GOT: EngineResult = {
  op: 'get',
  credential: { kind: 'basic', username: 'u', secret: 'pw-0123456789' },
  rule: { id: 'stored:https://a.example#u', match: 'https://a.example', source: 'stored' },
};

/** An engine whose handleNow answers `now(req)` (undefined: it declines) and whose handle answers GOT. */
function engine(now: (req: EngineRequest) => EngineResult | undefined): EngineLike & { used: number } {
  const e = {
    used: 0,
    handleNow: now,
    handle: async () => GOT,
    envNames: () => {
      e.used++;
      return [];
    },
  };
  return e;
}

function deps(e: EngineLike | undefined): DispatchDeps {
  return {
    version: '0.0.0',
    context: 'ctx',
    engine: async () => e ?? engine(() => undefined),
    openEngine: () => e,
    counters: newCounters(),
    pong: () => ({ pid: 1, version: '0.0.0', protocol: 1 }),
    status: () => {
      throw new Error('not asked');
    },
    isStopping: () => false,
    requestShutdown: () => {},
    onEngineUsed: (x) => x.envNames?.(),
    onActivity: () => {},
    log: nullLogger,
  };
}

const line = (id: number) => JSON.stringify({ v: 2, id, req: { op: 'get', url: 'https://a.example/x' }, env: { A: 'x' } });

describe('dispatchLine', () => {
  it('returns the reply itself when the engine answers from memory, as the awaited path would', async () => {
    const e = engine(() => GOT);
    const d = deps(e);
    const now = dispatchLine(line(1), d);
    expect(now).not.toBeInstanceOf(Promise);
    expect(now).toEqual({ v: 2, id: 1, res: GOT });
    expect(e.used).toBe(1); // env-names.json is refreshed after it too
    const later = await dispatchLine(line(2), deps(engine(() => undefined)));
    expect(later).toEqual({ v: 2, id: 2, res: GOT });
    expect(d.counters).toMatchObject({ total: 1, get: 1, errors: 0 });
  });

  it('awaits the engine when it declines, or before it is open', async () => {
    const declines = dispatchLine(line(3), deps(engine(() => undefined)));
    expect(declines).toBeInstanceOf(Promise);
    expect(await declines).toEqual({ v: 2, id: 3, res: GOT });
    const notOpen = dispatchLine(line(4), deps(undefined));
    expect(notOpen).toBeInstanceOf(Promise);
    expect(await notOpen).toEqual({ v: 2, id: 4, res: GOT });
  });

  it('maps a stale caller environment and a throwing engine as the awaited path does', () => {
    const stale = deps(engine(() => ({ op: 'error', error: { code: 'caller-env', message: 'the request did not carry $B' } })));
    expect(dispatchLine(line(5), stale)).toEqual({ v: 2, id: 5, error: { code: 'env', message: 'the request did not carry $B' } });
    expect(stale.counters).toMatchObject({ total: 0, get: 0, contextMismatch: 1 });
    const broken = deps(
      engine(() => {
        throw new TypeError('bug');
      }),
    );
    expect(dispatchLine(line(6), broken)).toMatchObject({ v: 2, id: 6, error: { code: 'engine' } });
    expect(broken.counters).toMatchObject({ errors: 1 });
  });
});

describe('dispatchLine and deadlines', () => {
  const write = (id: number, deadline: number) => JSON.stringify({ v: 2, id, req: { op: 'erase', url: 'https://a.example' }, deadline });

  it('refuses a request read after its deadline before the engine sees it, and counts it', () => {
    let handled = 0;
    const d = deps({ handle: async () => (handled++, GOT) });
    expect(dispatchLine(write(1, monotonicMs() - 1), d)).toMatchObject({ v: 2, id: 1, error: { code: 'expired' } });
    expect(handled).toBe(0);
    expect(d.counters).toMatchObject({ total: 0, erase: 0, expired: 1 });
  });

  it("hands the engine a guard that throws once the deadline passes, and turns the engine's expired result into the wire error", async () => {
    let guard: (() => void) | undefined;
    const d = deps({
      handle: async (_req, _env, opts) => {
        guard = opts?.guard;
        await untilPassed(deadline); // the write waits (a lock, a slow keychain) past its deadline
        try {
          guard!();
          return { op: 'erase', removed: 1 };
        } catch (e) {
          return { op: 'error', error: (e as CredmuxError).toData() };
        }
      },
    });
    const deadline = monotonicMs() + 50;
    const reply = dispatchLine(write(2, deadline), d);
    expect(reply).toBeInstanceOf(Promise);
    expect(await reply).toMatchObject({ v: 2, id: 2, error: { code: 'expired' } });
    expect(guard).toBeDefined();
    expect(d.counters).toMatchObject({ total: 0, erase: 0, expired: 1 });
  });

  it('a get carries no guard; a write within its deadline is carried out', async () => {
    const seen: unknown[] = [];
    const d = deps({ handle: async (req, _env, opts) => (seen.push(opts?.guard), req.op === 'get' ? GOT : { op: 'erase', removed: 1 }) });
    expect(await dispatchLine(line(3), d)).toMatchObject({ res: GOT });
    expect(await dispatchLine(write(4, monotonicMs() + 10_000), d)).toMatchObject({ res: { op: 'erase', removed: 1 } });
    expect(seen[0]).toBeUndefined();
    expect(typeof seen[1]).toBe('function');
    expect(d.counters).toMatchObject({ erase: 1, expired: 0 });
  });
});

describe('the connection server with immediate replies', () => {
  it('answers lines sent together, the immediate ones at once and the awaited ones as they complete', async () => {
    const sock = join(tmp(), 's.sock');
    const conns = createConnectionServer({
      connectionIdleMs: 60_000,
      answer: (text): DaemonMessage | Promise<DaemonMessage> => {
        const { id } = JSON.parse(text) as { id: number };
        const reply: DaemonMessage = { v: 1, id, res: { op: 'list', entries: [] } };
        return id % 2 === 0 ? reply : new Promise((r) => setTimeout(() => r(reply), 30));
      },
    });
    await conns.listen(sock);
    const ids = await new Promise<number[]>((resolve) => {
      let data = '';
      const c = createConnection(sock, () => {
        c.end([1, 2, 3, 4].map((id) => `{"id":${id}}\n`).join('')); // one write, then half-close
      });
      c.on('data', (d) => (data += d.toString()));
      c.on('close', () =>
        resolve(
          data
            .split('\n')
            .filter(Boolean)
            .map((l) => (JSON.parse(l) as { id: number }).id),
        ),
      );
    });
    expect(ids.slice(0, 2)).toEqual([2, 4]);
    expect(ids.slice(2).sort()).toEqual([1, 3]);
    expect(conns.inflight()).toBe(0);
    await conns.drain(100);
  });

  it('a reply still being worked out gets progress lines for its id until it comes; immediate replies get none', async () => {
    const sock = join(tmp(), 's.sock');
    let ticks = 0;
    const conns = createConnectionServer({
      connectionIdleMs: 60_000,
      onProgressTick: () => ticks++, // the daemon takes back a stuck marker naming it here

      answer: (text) => {
        const { id } = JSON.parse(text) as { id: number };
        const reply: DaemonMessage = { v: 2, id, res: { op: 'list', entries: [] } };
        if (id === 1) return reply;
        const later = Object.assign(new Promise<DaemonMessage>((r) => setTimeout(() => r(reply), 6 * PROGRESS_EVERY_MS)), { requestId: id });
        return later;
      },
    });
    await conns.listen(sock);
    const lines = await new Promise<{ id: number; progress?: true; res?: unknown }[]>((resolve) => {
      let data = '';
      const c = createConnection(sock, () => c.end('{"id":1}\n{"id":2}\n'));
      c.on('data', (d) => (data += d.toString()));
      c.on('close', () =>
        resolve(
          data
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { id: number }),
        ),
      );
    });
    expect(lines[0]).toMatchObject({ id: 1, res: {} });
    const progress = lines.filter((l) => l.progress);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.every((l) => l.id === 2)).toBe(true);
    expect(ticks).toBeGreaterThanOrEqual(progress.length);
    expect(lines[lines.length - 1]).toMatchObject({ id: 2, res: {} }); // the answer last, then nothing more
    await conns.drain(100);
  });

  it('an immediate reply still leaves when answering it starts the drain (an upgrade noticed mid-request)', async () => {
    const sock = join(tmp(), 's.sock');
    let drained: Promise<void> | undefined;
    const conns = createConnectionServer({
      connectionIdleMs: 60_000,
      answer: (text) => {
        drained = conns.drain(1_000);
        return { v: 1, id: (JSON.parse(text) as { id: number }).id, res: { op: 'list', entries: [] } };
      },
    });
    await conns.listen(sock);
    const data = await new Promise<string>((resolve) => {
      let got = '';
      const c = createConnection(sock, () => c.write('{"id":7}\n'));
      c.on('data', (d) => (got += d.toString()));
      c.on('close', () => resolve(got));
    });
    expect(data).toBe('{"v":1,"id":7,"res":{"op":"list","entries":[]}}\n');
    await drained;
  });
});
