// Saying, once, why a helper answers without the daemon (src/ipc/trust.ts decided it must). "Once":
// a helper is one process per request, and git runs two or three per operation, so once per process
// would still print the line on every fetch. So a notice is printed at most once per process, and
// then not again for NOTICE_QUIET_MS for the same problem: the last one is remembered in the user's
// own state directory, and only when that directory is private (ours, 0700, not a link; the file is
// opened without following links). A marker in the runtime directory would be worthless: that is the
// directory another user may control. When the state directory cannot be trusted, every process says
// it. `credmux daemon status` and `credmux doctor` say it every time.
import { closeSync, constants, fstatSync, ftruncateSync, futimesSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir, type Env } from '../platform/paths.js';
import { checkPrivateDir } from '../ipc/private-dir.js';
import { writeAnswer } from './output.js';

export const NOTICE_QUIET_MS = 60 * 60 * 1000;

let saidInThisProcess = false;

export function untrustedDaemonNotice(problem: string): string {
  return `credmux: not using the daemon: ${problem}; answering without it\n`;
}

/** Prints the notice unless this process or, recently, another one already did. */
export function sayUntrustedOnce(problem: string, env: Env, now = Date.now()): void {
  if (saidInThisProcess) return;
  saidInThisProcess = true;
  if (!noticeDue(problem, env, now)) return;
  writeAnswer(2, untrustedDaemonNotice(problem));
}

/**
 * False when the same problem was said less than NOTICE_QUIET_MS ago (by any process of this user);
 * otherwise true, and it is recorded as said now.
 */
export function noticeDue(problem: string, env: Env, now = Date.now()): boolean {
  return !rememberedRecently(problem, env, now);
}

function rememberedRecently(problem: string, env: Env, now: number): boolean {
  const dir = stateDir(env);
  let fd: number | undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (checkPrivateDir(dir, 'XDG_STATE_HOME').state !== 'ok') return false;
    fd = openSync(
      join(dir, 'untrusted-daemon-dir.notice'),
      constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      0o600,
    );
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.()) return false;
    const buf = Buffer.alloc(Math.min(st.size, 4096));
    const seen = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    if (seen === problem && now - st.mtimeMs < NOTICE_QUIET_MS && st.mtimeMs <= now) return true;
    ftruncateSync(fd, 0);
    writeSync(fd, problem, 0);
    futimesSync(fd, now / 1000, now / 1000);
    return false;
  } catch {
    return false; // cannot remember: say it
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
