// doctor: the daemon, through what src/client/daemon-control.ts reports (pid, version, socket; never a secret).
import type { Env } from '../../platform/paths.js';
import { daemonStatus, type DaemonStatusReport } from '../../client/daemon-control.js';
import { withTimeout, type Check } from './check.js';

export async function checkDaemon(env: Env): Promise<{ check: Check; status: DaemonStatusReport | undefined }> {
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
    return {
      check: {
        section: 'credmux',
        area: 'daemon',
        status: 'ok',
        summary: `running (pid ${status.pid}, credmux ${status.version}, up ${status.uptimeSeconds} s, socket ${status.socket})`,
        details: [`log: ${status.logFile}`],
      },
      status,
    };
  }
  // Wedged (holds the lock, does not answer) or another protocol version: helpers fall back to in-process
  // resolution, so nothing fails, but every request pays for it.
  if (status.pid !== undefined || status.protocol !== undefined) {
    return {
      check: {
        section: 'credmux',
        area: 'daemon',
        status: 'warn',
        summary: `${status.reason}; helpers resolve in process meanwhile (slower, never wrong)`,
        fix: 'credmux daemon stop   (the next request starts a fresh one)',
      },
      status,
    };
  }
  return { check: { section: 'credmux', area: 'daemon', status: 'info', summary: status.reason }, status };
}
