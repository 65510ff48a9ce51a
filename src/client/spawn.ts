// Starting a daemon from a client: detached (own session, no stdio), so it outlives the helper that
// started it and no terminal signal or closed pipe reaches it.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Env } from '../platform/paths.js';
import { acquireLock, ownRecord } from '../ipc/lock.js';

/**
 * The daemon's bundle: CREDMUX_DAEMON_BIN, else dist/lib/credmux-daemon.cjs next to the running
 * bundle (every bundle lives in dist/lib). Running from source (vitest), only CREDMUX_DAEMON_BIN is
 * used: `import.meta` cannot appear here, as the CJS bundles would lose it.
 */
export function daemonBinPath(env: Env): string | undefined {
  if (env.CREDMUX_DAEMON_BIN) return env.CREDMUX_DAEMON_BIN;
  if (typeof __CREDMUX_BUNDLED__ === 'undefined' || typeof __dirname !== 'string') return undefined;
  // Every bundle lives in dist/lib beside the daemon's (scripts/build.mjs).
  const bundle = join(__dirname, 'credmux-daemon.cjs');
  return existsSync(bundle) ? bundle : undefined;
}

/**
 * Node flags the daemon starts with. --single-threaded: V8 runs garbage collection and optimizing
 * compilation on the main thread instead of a pool of background threads. On a 2-core machine the
 * daemon shares with the clients it serves, those threads only steal CPU from them, and their stacks
 * and allocator arenas stay resident: measured with `npm run bench` (10,000 rules, 64 connections),
 * -4 MB RSS and as many lookups a second or more. A V8 flag that cannot be set once V8 runs (setting
 * it from inside the daemon crashed it under load), so it is an argument; the flags V8 accepts later
 * are set in src/bin/credmux-daemon.ts. --expose-gc: the one full collection the daemon asks for after a
 * burst of token fetches (daemon/collect-after-bursts.ts).
 */
export const DAEMON_NODE_FLAGS = ['--single-threaded', '--expose-gc'];

/**
 * glibc's malloc, for the daemon: blocks of 64 KB and more come from mmap and go back to the kernel
 * when freed. By default the threshold rises to the largest block freed so far, and such blocks (V8's
 * compiler zones, big buffers) are then carved from the C heap, which keeps the pages between the
 * blocks still in use: 8 MB of C heap under the bench load against 5 with this (npm run bench).
 * Read by glibc when the process starts, so it is set here; the daemon takes it out of its own
 * environment at once (src/bin/credmux-daemon.ts), so the commands it runs do not inherit it.
 */
export const DAEMON_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '65536' } as const;

/** A daemon this process started: its exit is reported (a lost lock race exits EXIT_BUSY). */
export interface SpawnedDaemon {
  /** Undefined when the spawn failed (the exit is reported then too). */
  pid: number | undefined;
  onExit(cb: (code: number | null) => void): void;
}

/** Spawns one detached daemon, or returns undefined when there is no daemon executable to run. */
export function spawnDaemon(env: Env): SpawnedDaemon | undefined {
  const bin = daemonBinPath(env);
  if (!bin || !existsSync(bin)) return undefined;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  // The daemon runs in / (it must not keep a workspace busy), so a relative config path is resolved here.
  if (childEnv.CREDMUX_CONFIG) childEnv.CREDMUX_CONFIG = resolve(childEnv.CREDMUX_CONFIG);
  // The launcher set NODE_EXTRA_CA_CERTS aside to start fast (scripts/build.mjs); the daemon makes TLS
  // connections for token sources and must trust those CAs again.
  if (childEnv.CREDMUX_EXTRA_CA_CERTS && !childEnv.NODE_EXTRA_CA_CERTS) childEnv.NODE_EXTRA_CA_CERTS = childEnv.CREDMUX_EXTRA_CA_CERTS;
  delete childEnv.CREDMUX_EXTRA_CA_CERTS;
  // Not when the user tunes malloc themselves.
  if (childEnv.MALLOC_MMAP_THRESHOLD_ === undefined) Object.assign(childEnv, DAEMON_MALLOC_ENV);
  return spawnWithChildProcess(bin, childEnv);
}

/**
 * Spawns a daemon with the lock already held for it: this process takes the lock in `dir`, spawns,
 * and hands the lock to the daemon's pid (lock.ts says why). 'busy': another live process holds the
 * lock (a daemon is running or starting: wait for it); undefined: nothing to run, or the spawn failed.
 */
export function spawnLockedDaemon(env: Env, dir: string): SpawnedDaemon | 'busy' | undefined {
  const got = acquireLock(dir, ownRecord());
  if (!got.ok) return 'busy';
  const child = spawnDaemon(env);
  if (child?.pid === undefined) {
    got.lock.release();
    return child;
  }
  got.lock.handOver(child.pid);
  return child;
}

/**
 * With child_process, the public API. (libuv's process handle, through Node's private bindings, saved the one
 * call that starts a daemon a few ms, but Node 24 changed its argument shape and the mismatch is a C++
 * assertion that aborts the helper: no fallback can catch it. A few ms once per daemon life is cheap.)
 */
function spawnWithChildProcess(bin: string, env: Record<string, string>): SpawnedDaemon {
  // getBuiltinModule, not import(): a dynamic import starts Node's ESM loader, which costs a CJS
  // bundle more than the module itself.
  const { spawn } = process.getBuiltinModule('node:child_process');
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, bin], { detached: true, stdio: 'ignore', env, cwd: '/' });
  child.on('error', () => {}); // e.g. EAGAIN: the caller resolves in process anyway
  child.unref();
  return {
    pid: child.pid,
    onExit(cb) {
      if (child.exitCode !== null || child.signalCode !== null) cb(child.exitCode);
      else child.once('exit', (code) => cb(code));
    },
  };
}
