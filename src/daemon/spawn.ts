// Starting a daemon from a client: detached (own session, no stdio), so it outlives the helper that
// started it and no terminal signal or closed pipe reaches it.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Env } from '../core/paths.js';

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

/** Spawns one detached daemon, or returns undefined when there is no daemon executable to run. */
export async function spawnDaemon(env: Env): Promise<ChildProcess | undefined> {
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
  // Loaded here, not at the top: child_process (with net's dgram and socket lists) costs every helper
  // start something, and only the call that finds no daemon spawns one. getBuiltinModule, not import():
  // a dynamic import starts Node's ESM loader, which costs a CJS bundle more than the module itself.
  const { spawn } = process.getBuiltinModule('node:child_process');
  const child = spawn(process.execPath, [bin], { detached: true, stdio: 'ignore', env: childEnv, cwd: '/' });
  child.on('error', () => {}); // e.g. EAGAIN: the caller resolves in process anyway
  child.unref();
  return child;
}
