// `credmux daemon run|start|stop|status`: a thin human face over src/client/daemon-control.ts (and, for
// `run`, the server's own main, src/daemon/main.ts).
import type { Env } from '../platform/paths.js';
import { daemonStatus, startDaemon, stopDaemon, type DaemonStatusReport } from '../client/daemon-control.js';
import { runDaemon } from '../daemon/main.js';
import { DaemonError } from '../ipc/errors.js';
import { EXIT } from './exit-codes.js';
import { describeStore } from './daemon-store-sync.js';
import type { Io } from './credentials.js';

export async function runDaemonCommand(env: Env, io: Io, action: 'run' | 'start' | 'stop' | 'status', opts: { json: boolean }): Promise<number> {
  try {
    switch (action) {
      case 'run':
        // The engine may hold keep-alive sockets open: leave once the daemon has stopped.
        process.exit(await runDaemon(env));
      // eslint-disable-next-line no-fallthrough
      case 'start': {
        const { started, status } = await startDaemon(env);
        io.err(`${started ? 'Started' : 'Already running:'} credmux daemon ${status.version} (pid ${status.pid}) on ${status.socket}\n`);
        return EXIT.ok;
      }
      case 'stop': {
        const r = await stopDaemon(env);
        io.err(r.wasRunning ? `Stopped the credmux daemon (pid ${r.pid}, ${r.how})\n` : 'No credmux daemon was running\n');
        return EXIT.ok;
      }
      case 'status': {
        const s = await daemonStatus(env);
        io.out(opts.json ? JSON.stringify(s, null, 2) + '\n' : describeStatus(s));
        return s.running ? EXIT.ok : EXIT.notFound;
      }
    }
  } catch (e) {
    if (e instanceof DaemonError) {
      io.err(`credmux: ${e.message}\n`);
      return e.problem === 'busy' ? 75 : EXIT.internal;
    }
    throw e;
  }
}

function describeStatus(s: DaemonStatusReport): string {
  if (!s.running) return `credmux daemon: not running (${s.reason})\n  socket: ${s.socket}\n`;
  const c = s.cache;
  const lines = [
    `credmux daemon ${s.version} (protocol ${s.protocol}): running, pid ${s.pid}, up ${s.uptimeSeconds}s`,
    `  socket:   ${s.socket}`,
    `  store:    ${s.store ? describeStore(s.store) : 'not open yet'}`,
    `  log:      ${s.logFile}`,
    `  idle exit after ${s.idleTimeoutSeconds ? `${s.idleTimeoutSeconds}s` : 'never'}`,
    `  requests: ${s.requests.total} (get ${s.requests.get}, store ${s.requests.store}, erase ${s.requests.erase}, list ${s.requests.list}, errors ${s.requests.errors})`,
    `  cache:    ${c.size} token(s); hits ${c.hits}, misses ${c.misses}, fetches ${c.fetches}, failures ${c.failures}`,
  ];
  for (const e of c.entries) {
    const exp = e.expiresAt !== undefined ? `valid until ${new Date(e.expiresAt * 1000).toISOString()}` : 'no expiry known';
    lines.push(`    ${e.key}: ${e.state}, ${exp}, ${e.hits} hit(s)${e.failures ? `, ${e.failures} failure(s)` : ''}`);
  }
  return lines.join('\n') + '\n';
}
