// What says a file's content may have changed, from one stat: device, inode, size, modification time
// and status-change time. The inode alone misses an in-place rewrite, and size plus mtime miss one of
// the same size whose mtime was carried over (`cp -p`, `touch -r`, rsync -t): the kernel sets ctime on
// every write and on every change of times, and nothing can set it back. Used for the config file, the
// file store, the keychain's generation file, netrc and the daemon's own executable.
import type { Stats } from 'node:fs';

export function fileIdentity(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}
