// Starting the daemon from a helper (child_process, detached).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnDaemon } from '../../src/client/spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'credmux-spawn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in daemon: records what it was started with, then exits with `code`. */
function fakeDaemon(name: string, code: number): { bin: string; report: string } {
  const report = join(dir, `${name}.json`);
  const bin = join(dir, `${name}.cjs`);
  writeFileSync(
    bin,
    `const fs = require('fs');
     const stat = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
     fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify({ cwd: process.cwd(), env: process.env, argv: process.argv.slice(1), execArgv: process.execArgv, pid: process.pid, sid: Number(stat[3]),
       stdin: fs.readlinkSync('/proc/self/fd/0'), stdout: fs.readlinkSync('/proc/self/fd/1') }));
     process.exit(${code});`,
  );
  return { bin, report };
}

describe('spawnDaemon', () => {
  it('starts the daemon detached in /, single-threaded, with no stdio, the CA bundle handed back and a relative config resolved; reports its exit code', async () => {
    const { bin, report } = fakeDaemon('d', 75);
    const child = spawnDaemon({
      PATH: process.env.PATH,
      HOME: dir,
      CREDMUX_DAEMON_BIN: bin,
      CREDMUX_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
      CREDMUX_CONFIG: 'rel/config.json',
      UNSET: undefined,
    });
    expect(child).toBeDefined();
    const code = await new Promise((r) => child!.onExit(r));
    expect(code).toBe(75);
    const seen = JSON.parse(readFileSync(report, 'utf8'));
    expect(child!.pid).toBe(seen.pid); // helpers read the starting daemon's CPU time by it
    expect(seen.cwd).toBe('/');
    expect(seen.argv).toEqual([bin]);
    expect(seen.execArgv).toEqual(['--single-threaded', '--expose-gc']); // DAEMON_NODE_FLAGS: why, in spawn.ts
    expect(seen.sid).toBe(seen.pid); // its own session: no terminal signal reaches it
    expect([seen.stdin, seen.stdout]).toEqual(['/dev/null', '/dev/null']);
    expect(seen.env.NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/certs/ca-certificates.crt');
    expect(seen.env.CREDMUX_EXTRA_CA_CERTS).toBeUndefined();
    expect(seen.env.CREDMUX_CONFIG).toBe(resolve('rel/config.json'));
    expect('UNSET' in seen.env).toBe(false);
    expect(seen.env.MALLOC_MMAP_THRESHOLD_).toBe('65536'); // DAEMON_MALLOC_ENV: why, in spawn.ts
    // A late listener still hears the exit.
    expect(await new Promise((r) => child!.onExit(r))).toBe(75);
  });

  it("leaves a user's own malloc setting alone", async () => {
    const { bin, report } = fakeDaemon('m', 0);
    const child = spawnDaemon({ PATH: process.env.PATH, HOME: dir, CREDMUX_DAEMON_BIN: bin, MALLOC_MMAP_THRESHOLD_: '131072' });
    await new Promise((r) => child!.onExit(r));
    expect(JSON.parse(readFileSync(report, 'utf8')).env.MALLOC_MMAP_THRESHOLD_).toBe('131072');
  });

  it('no daemon executable: nothing is spawned', () => {
    expect(spawnDaemon({ HOME: dir, CREDMUX_DAEMON_BIN: join(dir, 'missing.cjs') })).toBeUndefined();
  });
});
