// The socket directory is the daemon's only access control (Node cannot check a peer's uid), so, as
// git's credential-cache does, it must be ours and closed to group and others: created 0700 at mkdir
// time, and an existing one that others can enter is refused with the exact fix.
import { chmodSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { DaemonError } from './errors.js';

export type DirCheck = { state: 'ok' } | { state: 'missing' } | { state: 'unsafe'; problem: string };

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function problemWith(dir: string, st: Stats): string | undefined {
  if (st.isSymbolicLink()) return `${dir} is a symbolic link; remove it (rm ${shellQuote(dir)}) so credmux can create a private directory`;
  if (!st.isDirectory()) return `${dir} is not a directory; remove it (rm ${shellQuote(dir)})`;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    return `${dir} belongs to uid ${st.uid}, not to you (uid ${uid}); remove it or point XDG_RUNTIME_DIR at a directory of yours`;
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    return `${dir} is accessible to group or others (mode ${mode}); run: chmod 700 ${shellQuote(dir)}`;
  }
  return undefined;
}

/** Inspects without creating anything (the client's cheap pre-check before it spawns a daemon). */
export function checkPrivateDir(dir: string): DirCheck {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'unsafe', problem: `cannot inspect ${dir}: ${(e as Error).message}` };
  }
  const problem = problemWith(dir, st);
  return problem ? { state: 'unsafe', problem } : { state: 'ok' };
}

/** Creates the directory 0700 (parents too) or verifies the existing one; throws DaemonError otherwise. */
export function ensurePrivateDir(dir: string): void {
  // The mode applies at creation, so there is no moment when the directory is open to others.
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) {
    // A umask can only remove bits; one that removed the owner's own (e.g. 0o700) would lock us out.
    const st = lstatSync(dir);
    if ((st.mode & 0o700) !== 0o700) chmodSync(dir, 0o700);
  }
  const check = checkPrivateDir(dir);
  if (check.state !== 'ok')
    throw new DaemonError('insecure-dir', `credmux daemon: refusing to start: ${check.state === 'missing' ? `${dir} vanished` : check.problem}`);
}
