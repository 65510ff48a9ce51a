// Replace a file atomically: a fresh temp file in the same directory (O_EXCL | O_NOFOLLOW, mode 0600
// from creation, so it is never wider even for an instant and never follows a planted link), every
// byte written, the mode set to exactly what the caller asked (the umask can only narrow open()'s),
// optionally fsync, rename over the target, optionally fsync the directory so the rename itself
// survives a crash. A failure anywhere removes the temp file. Every writer in src/ that replaces a file
// goes through here: the stores, setup's transaction, the daemon's lock records, pid file and
// env-names file.
//
// Not write-file-atomic: it issues a single write(2) and ignores a short count, so when the disk
// fills (or a file size limit is hit) mid-write it renames a truncated file over the good one — we
// reproduced that with `ulimit -f`. It also opens its temp file without O_EXCL and does not sync the
// directory. FileHandle.writeFile and writeFileSync(fd) loop until every byte is written or an errno
// is raised.
import { closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsp } from './lazy-fs.js';

export interface AtomicWriteOptions {
  /** The file's mode, exactly (default 0600). */
  mode?: number;
  /** What is fsynced before and after the rename (default both: the file, then its directory). */
  durable?: 'none' | 'file' | 'file-and-dir';
  /** The temp file's path, in the target's directory (default `<target>.tmp-<pid>-<random>`). */
  tmp?: string;
}

/** Temp files are named `<target>.tmp-<pid>-<random>`, so leftovers of a killed writer can be found. */
export function tempPrefix(target: string): string {
  return `${basename(target)}.tmp-`;
}

/** A fresh name beside the target (the caller's own must be beside it too: rename() is atomic only there). */
function defaultTemp(target: string): string {
  return join(dirname(target), `${tempPrefix(target)}${process.pid}-${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`);
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

export async function writeFileAtomic(target: string, data: string | Buffer, opts: AtomicWriteOptions = {}): Promise<void> {
  const { mode = 0o600, durable = 'file-and-dir', tmp = defaultTemp(target) } = opts;
  const fh = await fsp().open(tmp, CREATE, 0o600);
  try {
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      if (durable !== 'none') await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp().rename(tmp, target);
  } catch (e) {
    await fsp()
      .unlink(tmp)
      .catch(() => {});
    throw e;
  }
  if (durable === 'file-and-dir') await syncDir(dirname(target));
}

/**
 * The same, synchronously: for the daemon's small state files, its lock records and setup's
 * transaction, none of which needs the directory synced (the helpers carry this one; it stays small).
 */
export function writeFileAtomicSync(target: string, data: string | Buffer, opts: AtomicWriteOptions & { durable?: 'none' | 'file' } = {}): void {
  const { mode = 0o600, durable = 'file', tmp = defaultTemp(target) } = opts;
  const fd = openSync(tmp, CREATE, 0o600);
  try {
    try {
      fchmodSync(fd, mode);
      writeFileSync(fd, data);
      if (durable !== 'none') fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Not every platform can open a directory (Windows cannot); there the rename is as durable as it gets. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await fsp().open(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
  } catch {
    return;
  }
  try {
    await fh.sync().catch(() => {});
  } finally {
    await fh.close();
  }
}
