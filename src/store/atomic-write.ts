// Replace a file atomically and durably: a fresh temp file in the same directory (O_EXCL, mode 0600
// from creation, so it is never wider even for an instant), every byte written, fsync, rename over the
// target, then fsync the directory so the rename itself survives a crash.
//
// Not write-file-atomic: it issues a single write(2) and ignores a short count, so when the disk
// fills (or a file size limit is hit) mid-write it renames a truncated file over the good one — we
// reproduced that with `ulimit -f`. It also opens its temp file without O_EXCL and does not sync the
// directory. FileHandle.writeFile loops until every byte is written or an errno is raised.
import { constants } from 'node:fs';
import { fsp } from '../core/lazy-fs.js';
import { basename, dirname, join } from 'node:path';

/** Temp files are named `<target>.tmp-<pid>-<random>`, so leftovers of a killed writer can be found. */
export function tempPrefix(target: string): string {
  return `${basename(target)}.tmp-`;
}

export async function writeFileAtomic(target: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const dir = dirname(target);
  const tmp = join(dir, `${tempPrefix(target)}${process.pid}-${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
  const fh = await fsp().open(tmp, flags, mode);
  try {
    try {
      // The umask can only narrow the creation mode; this makes it exactly `mode` (e.g. keeps it
      // readable by us under an odd umask like 0277).
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp().rename(tmp, target);
  } catch (e) {
    await fsp().unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
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
