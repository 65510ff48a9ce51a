// A whole-request entry whose parent hands it a NON-BLOCKING pipe as stdin and writes the request
// late: its blocking read finds EAGAIN, and the rest must come through process.stdin (the fallback of
// src/client/stdin.ts). The request is written only once the helper watches fd 0 in its event loop
// (test/helpers/nonblocking-stdin.ts), so the first read surely found the pipe empty: no sleep
// decides it. A helper that gave up on EAGAIN, or read the pipe as empty, answers nothing here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distBin, requireBuiltAndTools, type Entry } from '../helpers/dist.js';
import { WAIT_UNTIL_WATCHING_STDIN_PY } from '../helpers/nonblocking-stdin.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

const SECRET = 'nb-S3cret-4410';

/** argv: helper, its argument; the request on its own stdin. Prints the helper's stdout, exits with its code. */
const PARENT = `${WAIT_UNTIL_WATCHING_STDIN_PY}
import subprocess
data = sys.stdin.buffer.read()
r, w = os.pipe()
os.set_blocking(r, False)
p = subprocess.Popen([sys.argv[1], sys.argv[2]], stdin=r, stdout=subprocess.PIPE)
os.close(r)
wait_until_watching_stdin(p)
try:
    while data:
        data = data[os.write(w, data):]
except BrokenPipeError:
    pass
os.close(w)
sys.stdout.write(p.stdout.read().decode())
sys.exit(p.wait())
`;

let sb: Sandbox;
beforeAll(async () => {
  requireBuiltAndTools(['python3']);
  sb = await createSandbox('nonblocking-stdin');
  await sb.login('https://nb.example.com', 'alice', SECRET);
});
afterAll(async () => {
  await sb?.cleanup();
});

const viaNonBlockingPipe = (entry: Entry, arg: string, request: string) =>
  sb.run('python3', ['-c', PARENT, distBin(entry), arg], { input: request, timeoutMs: 30_000 });

describe('stdin a non-blocking pipe, the request written after the first read', () => {
  it('git get: the whole request is read through the stream and answered', async () => {
    const r = await viaNonBlockingPipe('git-credential-credmux', 'get', 'protocol=https\nhost=nb.example.com\n\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`password=${SECRET}\n`);
    expect(r.stderr).toBe('');
  }, 40_000);

  it('docker get, a request in several pipe-fulls over the 1 MiB cap: refused in the protocol shape', async () => {
    const r = await viaNonBlockingPipe('docker-credential-credmux', 'get', 'x'.repeat(1024 * 1024 + 1));
    expect(r.stdout).toBe('input larger than 1 MiB refused\n');
    expect(r.code).toBe(1);
  }, 40_000);

  it('git get, a request of several pipe-fulls: read to its last line (the host comes last)', async () => {
    const request = `path=${'p/'.repeat(100 * 1024)}\nprotocol=https\nhost=nb.example.com\n\n`;
    const r = await viaNonBlockingPipe('git-credential-credmux', 'get', request);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`password=${SECRET}\n`);
  }, 40_000);
});
