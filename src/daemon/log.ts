// The daemon's log: $XDG_STATE_HOME/credmux/daemon.log, 0600 in a 0700 directory, capped by rotating
// to daemon.log.1. It records start, stop, errors and request counts — never a secret: callers log
// only their own words and counters, and every value passes through `clean` as a safety net.
//
// The directory is checked as the socket directory is (ours, closed to group and others, not a
// link): XDG_STATE_HOME may point somewhere another user can write, and whoever can plant
// `daemon.log` there as a link to a file of ours would have the daemon append to it and chmod it.
// So the file is opened with O_NOFOLLOW, and only a regular file of ours is written. A log that
// cannot be opened safely is not written at all; the daemon runs on without one.
import { closeSync, constants, fstatSync, fchmodSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { checkPrivateDir } from '../ipc/private-dir.js';

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  close(): void;
}

/** One line, no control characters, and no userinfo (`//user:secret@`) should a URL ever slip in. */
export function clean(s: string): string {
  return s
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\/\/[^/@\s]*@/g, '//***@')
    .slice(0, 500);
}

function format(level: string, msg: string, fields: LogFields | undefined): string {
  let line = `${new Date().toISOString()} ${level} ${clean(msg)}`;
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (v === undefined) continue;
    const s = clean(String(v));
    line += ` ${k}=${/[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s}`;
  }
  return `${line}\n`;
}

/**
 * Append, create 0600, never through a symbolic link, and never block on a FIFO planted in its place
 * (O_NONBLOCK: opening one with no reader fails at once; it changes nothing for a regular file).
 */
const LOG_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Opens the log, or says why it must not be: a directory others can write, or a file that is not ours. */
export function openLogFile(dir: string, file: string): { fd: number; size: number } | { problem: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const check = checkPrivateDir(dir, 'XDG_STATE_HOME');
  if (check.state !== 'ok') return { problem: check.state === 'missing' ? `${dir} vanished` : check.problem };
  const fd = openSync(file, LOG_FLAGS, 0o600);
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if (!st.isFile()) return fail(fd, `${file} is not a regular file; remove it`);
    if (uid !== undefined && st.uid !== uid) return fail(fd, `${file} belongs to uid ${st.uid}, not to you (uid ${uid}); remove it`);
    if ((st.mode & 0o777) !== 0o600) fchmodSync(fd, 0o600); // ours, and a pre-existing file keeps its mode on open
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function fail(fd: number, problem: string): { problem: string } {
  closeSync(fd);
  return { problem };
}

export function openLog(dir: string, file: string, maxBytes = 1 << 20): Logger {
  let fd: number | undefined;
  let size = 0;
  const open = () => {
    fd = undefined;
    try {
      const opened = openLogFile(dir, file);
      if ('fd' in opened) ({ fd, size } = opened);
    } catch {
      // a read-only home (or a link planted as the log: ELOOP) must not stop the daemon; it just logs nothing
    }
  };
  const write = (level: string, msg: string, fields?: LogFields) => {
    if (fd === undefined) return;
    const line = format(level, msg, fields);
    try {
      if (size + line.length > maxBytes) {
        closeSync(fd);
        renameSync(file, `${file}.1`);
        open();
        if (fd === undefined) return;
      }
      size += writeSync(fd, line);
    } catch {
      // Logging must never take the daemon down.
    }
  };
  open();
  return {
    info: (m, f) => write('INFO', m, f),
    warn: (m, f) => write('WARN', m, f),
    error: (m, f) => write('ERROR', m, f),
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

export const nullLogger: Logger = { info() {}, warn() {}, error() {}, close() {} };
