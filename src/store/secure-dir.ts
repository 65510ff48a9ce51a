// The store directory must be ours and private (0700), or secrets in it may be readable or
// replaceable by others.
//
// An existing directory that group or others can enter is REFUSED, not tightened. Like the daemon's
// socket directory (docs/architecture.md "Files") and like ssh with ~/.ssh: a wider mode was chosen
// by someone, so the secrets in it may already have been exposed. Silently tightening would hide that
// and might break whatever needed the wider mode; the user fixes it with one command, which the
// message names.
import { statSync } from 'node:fs';
import { fsp } from '../platform/lazy-fs.js';
import { dirname } from 'node:path';
import { CredmuxError } from '../model/types.js';
import { storeFsError } from './fs-errors.js';

/** Windows has no POSIX owner/mode bits worth checking; its ACLs keep the profile private. */
const POSIX = process.platform !== 'win32';

/**
 * Checks `dir`, creating it (0700 at mkdir time) when `create` is set. Missing parents are created
 * 0700 too, as the XDG Base Directory spec asks; existing ones are left as they are.
 * Returns false when it does not exist and was not created.
 */
export async function ensurePrivateDir(dir: string, create: boolean): Promise<boolean> {
  let createdNow = false;
  if (create) {
    try {
      await fsp().mkdir(dirname(dir), { recursive: true, mode: 0o700 });
      await fsp().mkdir(dir, { mode: 0o700 });
      createdNow = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw storeFsError(`cannot create the credential store directory ${dir}`, e);
    }
  }
  let st;
  try {
    st = statSync(dir); // one system call; the read path loads no fs/promises (lazy-fs.ts)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw storeFsError(`cannot inspect the credential store directory ${dir}`, e);
  }
  if (!st.isDirectory()) throw new CredmuxError('store', `${dir} should be the credential store directory but is not a directory; move it away`);
  if (!POSIX) return true;

  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new CredmuxError(
      'store',
      `the credential store directory ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}); refusing to use it. Fix: move it away or chown it to yourself`,
    );
  }
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    throw new CredmuxError(
      'store',
      `the credential store directory ${dir} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}); refusing to use it. Fix: chmod 700 ${dir}`,
    );
  }
  // An odd umask (e.g. 0277) can strip our own bits from a directory we just made.
  if (createdNow && mode !== 0o700) {
    try {
      await fsp().chmod(dir, 0o700);
    } catch (e) {
      throw storeFsError(`cannot set mode 0700 on ${dir}`, e);
    }
  }
  return true;
}
