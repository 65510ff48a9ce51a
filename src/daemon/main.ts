// The daemon process's main: what `credmux-daemon` (src/bin/credmux-daemon.ts) and `credmux daemon
// run` call. The server with the real engine behind it.
import type { Env } from '../platform/paths.js';
import { serveDaemon, type ServeOptions } from './run.js';

/**
 * Runs the daemon in this process until it stops (idle, signal, `stop`); resolves with the exit code
 * (0 stopped, 75 another daemon holds the lock, 1 refused to start, 70 crashed). The caller then
 * exits: an engine may leave sockets (keep-alive) open.
 */
export async function runDaemon(env: Env, opts: ServeOptions = {}): Promise<number> {
  return serveDaemon(
    env,
    async (e) => {
      // Loaded here, not at module top: `credmux daemon status` and the helpers' client never need it.
      const { openEngine } = await import('../engine/open.js');
      return openEngine(e);
    },
    {
      watchExecutable: process.argv[1],
      sessionStore: {
        choose: async (e) => (await import('../engine/session-store.js')).sessionStoreChoice(e),
        watch: async (e, onChange) => (await import('../engine/session-store.js')).watchSessionStore(e, onChange),
      },
      ...opts,
    },
  );
}
