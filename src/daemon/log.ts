// The daemon's log: $XDG_STATE_HOME/credmux/daemon.log, 0600 in a 0700 directory, capped by rotating
// to daemon.log.1. It records start, stop, errors and request counts — never a secret: callers log
// only their own words and counters, and every value passes through `clean` as a safety net.
import { closeSync, fstatSync, fchmodSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';

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

export function openLog(dir: string, file: string, maxBytes = 1 << 20): Logger {
  let fd: number | undefined;
  let size = 0;
  const open = () => {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(file, 'a', 0o600);
      fchmodSync(fd, 0o600); // a pre-existing file keeps its mode on open
      size = fstatSync(fd).size;
    } catch {
      fd = undefined; // a read-only home must not stop the daemon; it just logs nothing
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
