// listener.ts serves the daemon's socket (node:net): errors as errno codes, half-close, flushing before
// close, and a closed listener accepting no one.
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './helpers.js';
import { createListener, type ServedConnection } from '../../src/daemon/listener.js';

const tmp = tempDirs('cmx-listen-');
const sockPath = () => join(tmp(), 's.sock');

/** Sends `text`, half-closes, and collects everything until the server closes. */
function exchange(path: string, text: string): Promise<{ data: string; error?: string }> {
  return new Promise((resolve) => {
    let data = '';
    const c = createConnection(path, () => c.end(text));
    c.on('data', (d) => (data += d.toString()));
    c.on('error', (e: NodeJS.ErrnoException) => resolve({ data, error: e.code }));
    c.on('close', () => resolve({ data }));
  });
}

describe('the listener', () => {
  it('hands over data, half-close and close; a big answer written before end() arrives whole', async () => {
    const path = sockPath();
    const seen: string[] = [];
    const big = 'x'.repeat(300_000);
    const listener = createListener((conn: ServedConnection) => {
      let got = '';
      return {
        data: (chunk) => void (got += chunk.toString()),
        end: () => {
          seen.push(`end:${got}`);
          conn.write(`${got.toUpperCase()}|`);
          conn.write(big);
          conn.end();
        },
        close: () => seen.push('close'),
      };
    });
    await listener.listen(path);
    const r = await exchange(path, 'hello');
    expect(r.error).toBeUndefined();
    expect(r.data.length).toBe('HELLO|'.length + big.length);
    expect(r.data.startsWith('HELLO|xxx')).toBe(true);
    await new Promise((res) => setTimeout(res, 20));
    expect(seen).toEqual(['end:hello', 'close']);
    listener.close();
  });

  it('connections sending at once, in pieces larger than a read, each receive exactly their own bytes', async () => {
    // Nothing of one connection may show up in another's.
    const path = sockPath();
    const listener = createListener((conn: ServedConnection) => {
      let got = '';
      return {
        data: (chunk) => void (got += chunk.toString('latin1')),
        end: () => {
          conn.write(got);
          conn.end();
        },
        close: () => {},
      };
    });
    await listener.listen(path);
    const payload = (i: number) => String.fromCharCode(65 + i).repeat(150_000);
    const sendInPieces = (i: number) =>
      new Promise<string>((resolve, reject) => {
        let data = '';
        const c = createConnection(path, async () => {
          const text = payload(i);
          for (let at = 0; at < text.length; at += 40_000) {
            c.write(text.slice(at, at + 40_000));
            await new Promise((r) => setImmediate(r));
          }
          c.end();
        });
        c.on('data', (d) => (data += d.toString('latin1')));
        c.on('error', reject);
        c.on('close', () => resolve(data));
      });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => sendInPieces(i)));
    answers.forEach((a, i) => expect(a === payload(i), `connection ${i}`).toBe(true));
    listener.close();
  });

  it('reports a taken path and a missing directory by errno code, and a closed listener accepts no one', async () => {
    const path = sockPath();
    const first = createListener(() => ({ data() {}, end() {}, close() {} }));
    await first.listen(path);
    const second = createListener(() => ({ data() {}, end() {}, close() {} }));
    await expect(second.listen(path)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await expect(second.listen(join(path, 'no-such-dir', 's.sock'))).rejects.toMatchObject({ code: expect.stringMatching(/^(ENOENT|ENOTDIR)$/) });
    first.close();
    await new Promise((res) => setTimeout(res, 20));
    const r = await exchange(path, 'x');
    expect(r.error).toMatch(/^(ENOENT|ECONNREFUSED)$/);
  });

  it('holds on to nothing once the client has read what was written (10,000 answers on one connection)', async () => {
    const path = sockPath();
    let served: ServedConnection | undefined;
    const listener = createListener((conn) => {
      served = conn;
      return {
        data: (chunk) => {
          for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) conn.write('{"v":1,"id":1,"res":{"op":"list","entries":[]}}\n');
        },
        end: () => conn.end(),
        close() {},
      };
    });
    await listener.listen(path);
    const answers = await new Promise<number>((resolve) => {
      let n = 0;
      let sent = 0;
      const c = createConnection(path, () => c.write('{}\n'));
      c.on('data', (d) => {
        for (let i = 0; i < d.length; i++) if (d[i] === 0x0a) n++;
        // One request per answer, as a client waiting for each answer sends them.
        while (sent < n && sent < 9_999) {
          sent++;
          c.write('{}\n');
        }
        if (n === 10_000) {
          expect(served!.unsent()).toBe(0);
          c.end();
        }
      });
      c.on('close', () => resolve(n));
    });
    expect(answers).toBe(10_000);
    listener.close();
  });

  it('a connection destroyed while the client writes is closed once, and the listener keeps serving', async () => {
    const path = sockPath();
    let closes = 0;
    const listener = createListener((conn) => ({
      data: () => conn.destroy(),
      end: () => conn.end(),
      close: () => void closes++,
    }));
    await listener.listen(path);
    const r = await exchange(path, 'bye');
    expect(r.data).toBe('');
    await new Promise((res) => setTimeout(res, 20));
    expect(closes).toBe(1);
    listener.close();
  });
});
