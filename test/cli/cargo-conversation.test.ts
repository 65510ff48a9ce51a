// The built cargo-credential-credmux held to cargo's side of the conversation (rust-lang/cargo
// src/util/credential/process.rs): read the hello, write one request line, read the answer while
// stdin is STILL OPEN, then close stdin and expect exit 0. An entry that waited for EOF before
// answering would hang cargo; these tests would time out. Once over a blocking pipe (as cargo's
// std::process gives it), once over a non-blocking one (the stream fallback of src/client/stdin-lines.ts).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distBin, requireBuiltAndTools } from '../helpers/dist.js';
import { WAIT_UNTIL_WATCHING_STDIN_PY } from '../helpers/nonblocking-stdin.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

const SECRET = 'conv-S3cret-81kq';
const request = (kind: string, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ v: 1, registry: { 'index-url': 'sparse+https://conv.example.com/index/', name: 'corp' }, kind, ...extra })}\n`;

let sb: Sandbox;
beforeAll(async () => {
  requireBuiltAndTools(['python3']);
  sb = await createSandbox('cargo-conv');
  await sb.login('https://conv.example.com', 'alice', SECRET);
});
afterAll(async () => {
  await sb?.cleanup();
});

/** Resolves with the first `n` lines the process prints, without closing its stdin. */
function linesFrom(stream: NodeJS.ReadableStream, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const lines = buf.split('\n');
      if (lines.length > n) {
        stream.off('data', onData);
        resolve(lines.slice(0, n));
      }
    };
    stream.on('data', onData);
    stream.on('error', reject);
    stream.on('end', () => reject(new Error(`stdout ended after ${JSON.stringify(buf)}`)));
  });
}

describe('cargo-credential-credmux as cargo drives it', () => {
  it('answers each request while stdin stays open, and exits 0 once cargo closes it', async () => {
    const p = spawn(distBin('cargo-credential-credmux'), ['--cargo-plugin'], { env: sb.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    const expected = Buffer.from(`alice:${SECRET}`).toString('base64');
    const [hello] = await linesFrom(p.stdout, 1);
    expect(hello).toBe('{"v":[1]}');
    const answers = linesFrom(p.stdout, 2);
    p.stdin.write(request('get', { operation: 'read' }));
    p.stdin.write(request('get', { operation: 'publish', name: 'dep', vers: '0.1.0', cksum: 'ab' }));
    const [first, second] = await answers;
    for (const answer of [first, second]) {
      expect(JSON.parse(answer!)).toEqual({ Ok: { kind: 'get', token: `Basic ${expected}`, cache: 'session', operation_independent: true } });
    }
    p.stdin.end();
    expect(await exited).toBe(0);
  }, 30_000);

  it('over a non-blocking pipe too: the request arrives after the hello, the answer before EOF', async () => {
    // python3 hands the entry a pipe set O_NONBLOCK, writes the request only after reading the hello
    // and once the entry waits on its stdin in its event loop (so its first read surely found nothing:
    // EAGAIN; test/helpers/nonblocking-stdin.ts), reads the answer, then closes stdin.
    const script = `${WAIT_UNTIL_WATCHING_STDIN_PY}
import subprocess
r, w = os.pipe()
os.set_blocking(r, False)
p = subprocess.Popen([sys.argv[1], "--cargo-plugin"], stdin=r, stdout=subprocess.PIPE)
os.close(r)
hello = p.stdout.readline()
wait_until_watching_stdin(p)
os.write(w, sys.argv[2].encode())
answer = p.stdout.readline()
os.close(w)
sys.stdout.write(hello.decode() + answer.decode())
sys.exit(p.wait())
`;
    const r = await sb.run('python3', ['-c', script, distBin('cargo-credential-credmux'), request('get', { operation: 'read' })], {
      timeoutMs: 20_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const [hello, answer] = r.stdout.split('\n');
    expect(hello).toBe('{"v":[1]}');
    expect(JSON.parse(answer!)).toMatchObject({ Ok: { kind: 'get', token: expect.stringMatching(/^Basic /) } });
  }, 30_000);
});
