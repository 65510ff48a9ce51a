// doctor: the daemon, through what src/client/daemon-control.ts reports (pid, version, socket; never a secret).
import type { Env } from '../../platform/paths.js';
import { daemonStatus, type DaemonStatusReport } from '../../client/daemon-control.js';
import { withTimeout, type Check } from './check.js';
import { contextFingerprint } from '../../ipc/context.js';
import { processProgress } from '../../platform/liveness.js';
import { describeStore, type StoreName } from '../daemon-store-sync.js';

/** `session`: the store this session uses (doctor's own choice), to compare with the daemon's. */
export async function checkDaemon(env: Env, session?: StoreName): Promise<{ check: Check; status: DaemonStatusReport | undefined }> {
  let status: DaemonStatusReport;
  try {
    status = await withTimeout(daemonStatus(env), 5_000, 'the daemon');
  } catch (e) {
    return {
      check: {
        section: 'credmux',
        area: 'daemon',
        status: 'error',
        summary: (e as Error).message,
        fix: 'credmux daemon stop   (the next request starts a fresh one)',
      },
      status: undefined,
    };
  }
  if (status.running) {
    const running = `running (pid ${status.pid}, credmux ${status.version}, socket ${status.socket})`;
    // Helpers of this environment are not answered by a daemon of another one: they resolve in process.
    if (status.context !== contextFingerprint(env)) {
      return {
        check: {
          section: 'credmux',
          area: 'daemon',
          status: 'warn',
          summary: `${running}, but started from another environment (HOME, XDG_CONFIG_HOME, XDG_DATA_HOME, CREDMUX_* or the D-Bus session bus differ): helpers here are not answered by it and resolve in process (slower, never wrong)`,
          details: status.store ? [`it serves the ${describeStore(status.store)}`] : undefined,
          fix: 'credmux daemon stop   (the next helper starts one for this environment)',
        },
        status,
      };
    }
    if (session && status.store && (status.store.kind !== session.kind || status.store.location !== session.location)) {
      return {
        check: {
          section: 'credmux',
          area: 'daemon',
          status: 'error',
          summary: `${running} serves the ${describeStore(status.store)}, but this session's store is the ${describeStore(session)}: helpers get answers from the wrong store until it notices`,
          fix: "credmux daemon stop   (the next helper starts one on this session's store)",
        },
        status,
      };
    }
    return {
      check: {
        section: 'credmux',
        area: 'daemon',
        status: 'ok',
        summary: `running (pid ${status.pid}, credmux ${status.version}, up ${status.uptimeSeconds} s, socket ${status.socket})`,
        details: [...(status.store ? [`store: ${describeStore(status.store)}`] : []), `log: ${status.logFile}`],
      },
      status,
    };
  }
  // Wedged (holds the lock, does not answer) or another protocol version: helpers fall back to in-process
  // resolution, so nothing fails, but every request pays for it.
  if (status.pid !== undefined || status.protocol !== undefined) {
    const stopped = status.pid !== undefined && processProgress(status.pid)?.stopped;
    return {
      check: {
        section: 'credmux',
        area: 'daemon',
        status: 'warn',
        summary: `${status.reason}${stopped ? ': it is stopped (SIGSTOP, ^Z or a debugger)' : ''}; helpers resolve in process meanwhile (slower, never wrong)`,
        fix: stopped
          ? `kill -CONT ${status.pid}   (resume it), or: credmux daemon stop`
          : 'credmux daemon stop   (the next request starts a fresh one)',
      },
      status,
    };
  }
  return { check: { section: 'credmux', area: 'daemon', status: 'info', summary: status.reason }, status };
}
