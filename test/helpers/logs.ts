// Server request logs, scoped to one step of a test: servers are shared by a whole file, so a test
// looks only at what was logged after its own mark.
import type { AuthLogLine } from './servers.js';

export interface LoggingServer {
  requestLog(): Promise<AuthLogLine[]>;
  waitForLog(pred: (lines: AuthLogLine[]) => boolean, timeoutMs?: number): Promise<AuthLogLine[]>;
}

export interface LogMark {
  /**
   * The lines logged since the mark, once `pred` holds for them (servers write a line just after
   * answering, so a client can finish first). After the timeout, whatever is there.
   */
  lines(pred?: (lines: AuthLogLine[]) => boolean, timeoutMs?: number): Promise<AuthLogLine[]>;
}

export async function markLog(server: LoggingServer): Promise<LogMark> {
  const start = (await server.requestLog()).length;
  return {
    async lines(pred = (l) => l.length > 0, timeoutMs = 3000) {
      return (await server.waitForLog((l) => pred(l.slice(start)), timeoutMs)).slice(start);
    },
  };
}

/** `alice 200 GET /x` per line: readable in a failed assertion. */
export function summary(lines: AuthLogLine[]): string[] {
  return lines.map((l) => `${l.user || '-'} ${l.status} ${l.method} ${l.uri}`);
}
