// A damaged credential file is copied aside once, so the user has a pristine copy whatever they (or
// a later credmux) do next. "Once": every refused operation would otherwise add another copy, so an
// existing `<file>.corrupt-*` with the same bytes is reused. The original is never touched.
import { fsp } from '../platform/lazy-fs.js';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../platform/atomic-write.js';

export async function backupCorruptFile(file: string, raw: Buffer): Promise<string> {
  const dir = dirname(file);
  const prefix = `${basename(file)}.corrupt-`;
  for (const name of (await fsp().readdir(dir)).filter((n) => n.startsWith(prefix)).sort()) {
    const path = join(dir, name);
    const st = await fsp()
      .stat(path)
      .catch(() => undefined);
    if (!st?.isFile() || st.size !== raw.length) continue;
    const existing = await fsp()
      .readFile(path)
      .catch(() => undefined);
    if (existing?.equals(raw)) return path;
  }
  // ISO time without ':' (not allowed in file names on some systems); unique to the millisecond.
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const names = new Set(await fsp().readdir(dir));
  let name = `${prefix}${stamp}`;
  for (let n = 1; names.has(name); n++) name = `${prefix}${stamp}-${n}`;
  const path = join(dir, name);
  // Written atomically with mode 0600: it holds the same secrets as the original.
  await writeFileAtomic(path, raw);
  return path;
}
