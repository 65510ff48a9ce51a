// A helper answered by the daemon exits as soon as its answer is written (src/client/run.ts, runEntry)
// — but only once it IS written. Here its stdout is a non-blocking pipe that is already full, as a
// parent that shares a non-blocking pipe and reads late can leave it: the blocking write finds EAGAIN,
// the rest goes to a stream, and the process must wait for that stream to drain. Exiting at once would
// lose the answer; git would see no credential. Linux only (/proc/<pid>/syscall), as CI runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltAndTools } from '../helpers/dist.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

const SECRET = 'full-pipe-S3cret-4471';

let sb: Sandbox;
beforeAll(async () => {
  requireBuiltAndTools(['python3']);
  sb = await createSandbox('full-stdout');
  await sb.login('https://fullpipe.example.com', 'alice', SECRET);
  await sb.credmux(['daemon', 'start']);
});
afterAll(async () => {
  await sb?.cleanup();
});

// Fills a non-blocking pipe, runs the helper with it as stdout, and reads nothing until the helper has
// either exited or gone idle: asleep in epoll with none of its own timers left (/proc/<pid>/syscall),
// which it is only once it has its answer and waits for stdout to drain. Then reads everything: the
// filler, then whatever the helper wrote. Prints the exit code, the filler's size, what followed it,
// and how the wait ended.
const script = `
import json, os, subprocess, sys, time
r, w = os.pipe()
os.set_blocking(w, False)
filler = 0
try:
    while True:
        filler += os.write(w, b"x" * 4096)
except BlockingIOError:
    pass
p = subprocess.Popen([sys.argv[1], "get"], stdin=subprocess.PIPE, stdout=w)
os.close(w)
p.stdin.write(sys.argv[2].encode())
p.stdin.close()
how = "bound"
end = time.monotonic() + 15
while time.monotonic() < end:
    if p.poll() is not None:
        how = "exited"
        break
    try:
        call = open(f"/proc/{p.pid}/syscall").read().split()
    except OSError:
        continue
    # epoll_wait / epoll_pwait (x86_64 232, 281; arm64 22): the fourth argument is the timeout (ms, an
    # int). Before its answer the helper never sleeps past 1 s (connect bound, then patience looks every
    # 50-100 ms); after it, with no timer of ours left: -1, or Node's own (Node 26 keeps one of ~30 s).
    timeout = int(call[4], 16) & 0xFFFFFFFF if call[0] in ("232", "281", "22") else 0
    if timeout == 0xFFFFFFFF or timeout >= 5000:
        how = "idle"
        break
    time.sleep(0.005)
data = b""
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    data += chunk
print(json.dumps({"code": p.wait(), "filler": filler, "tail": data[filler:].decode(), "how": how}))
`;

describe('an answer from the daemon, stdout a full non-blocking pipe', () => {
  it('is written whole before the helper exits', async () => {
    const before = await daemonGets();
    const r = await sb.run('python3', ['-c', script, sb.bin('git-credential-credmux'), 'protocol=https\nhost=fullpipe.example.com\n\n'], {
      timeoutMs: 20_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { code: number; filler: number; tail: string; how: string };
    expect(got.filler).toBeGreaterThan(0); // the pipe really was full when the helper wrote
    expect(got.how).toBe('idle'); // it waited for the pipe to drain rather than exit without its answer
    expect(got.code).toBe(0);
    expect(got.tail).toBe(`username=alice\npassword=${SECRET}\n`);
    expect(await daemonGets()).toBe(before + 1); // the daemon answered: the path that exits at once
  }, 30_000);
});

async function daemonGets(): Promise<number> {
  const r = await sb.credmux(['daemon', 'status', '--json']);
  return (JSON.parse(r.stdout) as { requests: { get: number } }).requests.get;
}
