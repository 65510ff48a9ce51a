// The helper's one exchange with the daemon (node:net). The outcomes: an answer, nobody there, a peer
// that hangs up or stays silent, replies in pieces.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encode, PROTOCOL_VERSION, type ClientMessage } from '../../src/ipc/codec.js';
import { ask, canConnect } from '../../src/client/connection.js';
import { lineServer } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'credmux-pipe-'));
let n = 0;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A server on a fresh socket path; `onLine` sees each complete line and the socket it came on. */
async function serve(onLine: (line: string, socket: Socket) => void): Promise<string> {
  const path = join(dir, `s${n++}.sock`);
  servers.push(await lineServer(path, onLine));
  return path;
}

const msg = (id: number, url = 'https://a.example/x'): ClientMessage => ({ v: PROTOCOL_VERSION, id, req: { op: 'get', url } });
const answer = (id: number) => encode({ v: PROTOCOL_VERSION, id, res: { op: 'get', credential: null } });
const t = { connectMs: 1_000, answerMs: 1_000 };

describe('asking the daemon over its socket', () => {
  it('sends the message as one line and returns the reply with its id', async () => {
    const seen: string[] = [];
    const path = await serve((line, s) => {
      seen.push(line);
      s.write(answer(JSON.parse(line).id));
    });
    const out = await ask(path, msg(7), t);
    expect(out).toEqual({ kind: 'reply', msg: { v: PROTOCOL_VERSION, id: 7, res: { op: 'get', credential: null } } });
    expect(seen).toEqual([JSON.stringify(msg(7))]);
  });

  it('a reply that arrives byte by byte, after a reply to another id, is still read whole', async () => {
    const path = await serve((line, s) => {
      const bytes = answer(99) + answer(JSON.parse(line).id);
      let i = 0;
      const drip = () => {
        if (i >= bytes.length || s.destroyed) return;
        s.write(bytes[i++]!);
        setTimeout(drip, 0);
      };
      drip();
    });
    const out = await ask(path, msg(3), t);
    expect(out.kind === 'reply' && out.msg.id).toBe(3);
  });

  it('a large request (300 KB) reaches the server whole', async () => {
    let got = 0;
    const path = await serve((line, s) => {
      got = line.length;
      s.write(answer(JSON.parse(line).id));
    });
    const big = msg(1, `https://a.example/${'x'.repeat(300_000)}`);
    const out = await ask(path, big, t);
    expect(out.kind).toBe('reply');
    expect(got).toBe(JSON.stringify(big).length);
  });

  it('no socket file is "absent"; a path that is not a socket is "absent" too (ECONNREFUSED)', async () => {
    expect(await ask(join(dir, 'none.sock'), msg(1), t)).toEqual({ kind: 'absent' });
    const notSocket = join(dir, `plain${n++}`);
    writeFileSync(notSocket, '');
    expect(await ask(notSocket, msg(1), t)).toEqual({ kind: 'absent' });
  });

  it('a server that hangs up before answering is "lost"', async () => {
    const path = await serve((_line, s) => s.destroy());
    expect((await ask(path, msg(1), t)).kind).toBe('lost');
  });

  it('a server that never answers is "lost" after answerMs', async () => {
    const path = await serve(() => {});
    const t0 = Date.now();
    expect(await ask(path, msg(1), { connectMs: 1_000, answerMs: 150 })).toEqual({ kind: 'lost', why: 'no answer in time' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('a reply that is not the protocol is "lost", never half-read', async () => {
    const path = await serve((_line, s) => s.write('HTTP/1.1 400 Bad Request\n'));
    expect(await ask(path, msg(1), t)).toEqual({ kind: 'lost', why: 'unreadable reply' });
  });

  it('a caller that goes on closes its connection after the answer; one about to exit (leaveOpen) leaves it to the kernel', async () => {
    // Both asked on one server; the exiting one is answered first. Had it been closed too, the server
    // would have seen its end before the other's.
    const ended = new Map<number, boolean>();
    const sockets: Socket[] = [];
    let otherEndedNow = () => {};
    const otherEnded = new Promise<void>((r) => (otherEndedNow = r));
    const path = await serve((line, s) => {
      const { id } = JSON.parse(line) as { id: number };
      ended.set(id, false);
      sockets.push(s);
      s.on('end', () => {
        ended.set(id, true);
        if (id === 2) otherEndedNow();
      });
      // id 2 waits until id 1 has its answer.
      if (id === 1) s.write(answer(1));
      else void exiting.then(() => s.write(answer(2)));
    });
    const exiting = ask(path, msg(1), { ...t, leaveOpen: true });
    const other = ask(path, msg(2), t);
    expect((await exiting).kind).toBe('reply');
    expect((await other).kind).toBe('reply');
    await otherEnded;
    expect(ended.get(1)).toBe(false);
    for (const s of sockets) s.destroy(); // the server closes only once every connection has
  });

  it('a look that falls due while this process was not running comes after what arrived meanwhile: progress waiting in the socket is read first', async () => {
    let looks = 0;
    const patience = {
      firstLookMs: 20,
      look: () => (looks++, 'silent'), // would give up at once
      alive: () => 60_000,
    };
    const path = await serve((line, s) => {
      const { id } = JSON.parse(line) as { id: number };
      s.write(encode({ v: PROTOCOL_VERSION, id, progress: true }));
      // This process (client and server alike) does not run for a while: the look falls due meanwhile.
      const until = performance.now() + 200;
      while (performance.now() < until);
      setTimeout(() => s.write(answer(id)), 50);
    });
    const out = await ask(path, msg(9), { ...t, patience });
    expect(out.kind).toBe('reply');
    expect(looks).toBe(0);
  });

  it('canConnect: true for a listener, false for nothing there', async () => {
    const path = await serve(() => {});
    expect(await canConnect(path, 500)).toBe(true);
    expect(await canConnect(join(dir, 'nobody.sock'), 500)).toBe(false);
  });
});
