// Turns a Node file-system error into a store error a human can act on: what we were doing, which
// path, what the errno means, and the errno itself (for searching). Node's own messages are not
// reused: they are fine but inconsistent, and some libraries put file contents into theirs.
import { CredmuxError } from '../model/types.js';

const MEANINGS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large (file size limit reached)',
  EIO: 'input/output error',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EEXIST: 'already exists',
  EBUSY: 'resource busy',
};

const HINTS: Record<string, string> = {
  EACCES: 'check that you own it and can write to it',
  EPERM: 'check that you own it and can write to it',
  EROFS: 'the file system is mounted read-only',
  ENOSPC: 'free some disk space and retry',
  EDQUOT: 'free some space within your quota and retry',
  EFBIG: 'raise the file size limit (ulimit -f) and retry',
};

export function errnoMeaning(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (!code) return e instanceof Error ? e.message : String(e);
  return `${MEANINGS[code] ?? 'error'} (${code})`;
}

/** `doing` reads like "cannot write the credential file /x/credentials.json". */
export function storeFsError(doing: string, e: unknown, consequence = ''): CredmuxError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const hint = code ? HINTS[code] : undefined;
  const parts = [`${doing}: ${errnoMeaning(e)}`];
  if (consequence) parts.push(consequence);
  if (hint) parts.push(hint);
  return new CredmuxError('store', parts.join('; '));
}
