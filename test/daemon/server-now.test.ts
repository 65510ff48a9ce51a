// The daemon answering without a promise: dispatchLine returns the reply itself when the engine has
// the answer in memory (Engine.handleNow), with the same reply, counters and env-names refresh as the
// awaited path; the connection server sends such replies at once and still counts them as in flight.
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './helpers.js';
import type { EngineRequest, EngineResult } from '../../src/model/types.js';
import type { DaemonMessage } from '../../src/ipc/codec.js';
import { dispatchLine, newCounters, type DispatchDeps, type EngineLike } from '../../src/daemon/dispatch.js';
import { nullLogger } from '../../src/daemon/log.js';
import { createConnectionServer } from '../../src/daemon/server.js';

const tmp = tempDirs('cmx-now-');

const GOT: EngineResult = { op: 'get', credential: { kind: 'basic', username: 'u', secret: 'pw-0123456789' }, rule: { id: 'stored:https://a.example#u', match: 'https://a.example', source: 'stored' } };

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
      c.on('close', () => resolve(data.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: number }).id)));
    });
    expect(ids.slice(0, 2)).toEqual([2, 4]);
    expect(ids.slice(2).sort()).toEqual([1, 3]);
    expect(conns.inflight()).toBe(0);
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
