// For suites that run token sources through a REAL daemon and the built helpers: one private
// environment per test, stopped after the file, and `credmux-bazel get` as Bazel runs it.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { stopDaemon } from '../../src/client/daemon-control.js';
import { daemonFiles } from '../../src/ipc/paths.js';
import { distBin, REPO_ROOT } from './dist.js';

const started: Record<string, string>[] = [];
afterAll(async () => {
  for (const env of started.splice(0)) {
    try {
      await stopDaemon(env);
    } catch {
      // fall back to the pid file the daemon writes under the runtime dir
      try {
        process.kill(Number(readFileSync(daemonFiles(env).pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // not running
      }
    }
  }
});

/**
 * Its own home and runtime dir (short temp paths: the socket path must fit in sun_path), the file
 * store, the built daemon, `rules` as the config, loopback exempt from proxies, and `extra` on top.
 * Its daemon is stopped after the file; the idle timeout is the backstop should that fail.
 */
export function daemonTestEnv(rules: unknown[], extra: Record<string, string> = {}): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'cmx-h-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), 'cmx-r-')),
    CREDMUX_STORE: 'file',
    CREDMUX_DAEMON_BIN: join(REPO_ROOT, 'dist', 'lib', 'credmux-daemon.cjs'),
    CREDMUX_IDLE_TIMEOUT: '120',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...extra,
  };
  mkdirSync(join(home, '.config', 'credmux'), { recursive: true });
  writeFileSync(join(home, '.config', 'credmux', 'config.json'), JSON.stringify({ rules }));
  started.push(env);
  return env;
}

export interface BazelAnswer {
  code: number | null;
  /** The first Authorization header, when the answer had one. */
  authorization?: string;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

/** `credmux-bazel get` through its launcher, as Bazel runs it, for `uri`. */
export function bazelGet(env: Record<string, string>, uri: string): Promise<BazelAnswer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(distBin('credmux-bazel'), ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let authorization: string | undefined;
      try {
        authorization = (JSON.parse(stdout) as { headers: { Authorization: string[] } }).headers.Authorization[0];
      } catch {
        // shown through code and stderr
      }
      resolve({ code, authorization, stdout, stderr, ms: Math.round(performance.now() - t0) });
    });
    child.stdin.end(JSON.stringify({ uri }));
  });
}
