// `credmux list | head`: a reader that leaves early must end the CLI quietly (issue 15, class 8), as
// git and coreutils end: no stack trace, exit 141 (what a shell shows for a process killed by SIGPIPE).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { distBin, requireBuilt } from '../helpers/dist.js';
import { isolatedEnv } from './run-bin.js';

/** A store far larger than a pipe's buffer (64 KiB; a socket pair, as spawn makes, holds a few hundred KiB), so the writer is still writing when the reader leaves. */
function bigStore(env: Record<string, string>): void {
  const dir = join(env.XDG_DATA_HOME!, 'credmux');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entries = Array.from({ length: 20_000 }, (_, i) => ({
    url: `https://host-${i}.example.com`,
    username: `user-${i}`,
    kind: 'basic',
    secret: `pw-${i}`,
  }));
  writeFileSync(join(dir, 'credentials.json'), JSON.stringify({ version: 1, entries }), { mode: 0o600 });
}

/** Runs `credmux args`, reads its first line of stdout, then closes the pipe as `head -1` does. */
function readOneLineThenClose(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; signal: string | null; first: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(distBin('credmux'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = '';
    let stderr = '';
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (first.includes('\n')) return;
      first += d;
      if (first.includes('\n')) p.stdout!.destroy(); // the reader leaves; the writer has more to say
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, first: first.split('\n')[0]!, stderr });
    });
  });
}

describe('a closed stdout ends the CLI quietly', () => {
  requireBuilt();
  for (const args of [['list'], ['list', '--json']]) {
    it(`credmux ${args.join(' ')} | head -1: no stack trace, exit 141`, async () => {
      const env = isolatedEnv();
      bigStore(env);
      const r = await readOneLineThenClose(args, env);
      expect(r.first).not.toBe('');
      expect(r.stderr).toBe('');
      expect(r.signal).toBeNull();
      expect(r.code).toBe(141);
    });
  }

  it('through a real shell pipe into head, the same', async () => {
    const env = isolatedEnv();
    bigStore(env);
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn('bash', ['-c', `"$0" list | head -1; echo "status=\${PIPESTATUS[0]}"`, distBin('credmux')], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      p.on('close', (code) => resolve({ code, out, err }));
    });
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^Store: .*\nstatus=141\n$/);
  });

  it('a stdout that is read to the end still exits 0', async () => {
    const env = isolatedEnv();
    bigStore(env);
    const r = await new Promise<{ code: number | null; bytes: number }>((resolve) => {
      const p = spawn(distBin('credmux'), ['list'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let bytes = 0;
      p.stdout!.on('data', (d: Buffer) => (bytes += d.length));
      p.on('close', (code) => resolve({ code, bytes }));
    });
    expect(r.code).toBe(0);
    expect(r.bytes).toBeGreaterThan(64 * 1024);
  });
});
