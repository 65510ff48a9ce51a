// doctor: is pnpm wired to THIS credmux? Reads the user .npmrc as pnpm does (the last `//key/:tokenHelper`
// wins), and follows each of credmux's wrappers to the `credmux-pnpm` it runs: a wrapper that is gone,
// not executable, writable by others, or runs another credmux would fail (or betray) every pnpm command.
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { blockLineNumbers } from '../../formats/marked-block.js';
import { checkPrivateDir } from '../../ipc/private-dir.js';
import { formatPattern } from '../../model/url.js';
import type { Env } from '../../platform/paths.js';
import { helperPath } from '../setup/common.js';
import { isExecutableFile, sameFile } from '../setup/exec.js';
import { npmrcPath, PNPM_BEGIN, PNPM_END, registryOf, tokenHelpers, wrapperDir, wrapperTarget } from '../setup/pnpm.js';
import type { Target } from '../setup/targets.js';
import type { Check } from './check.js';

const check = (status: Check['status'], summary: string, extra: Partial<Check> = {}): Check => ({
  section: 'tools',
  area: 'pnpm',
  status,
  summary,
  ...extra,
});

function readText(path: string): { text: string | null; error?: string } {
  try {
    return { text: readFileSync(path, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { text: null };
    return { text: null, error: (e as Error).message };
  }
}

/** Why pnpm could not run this wrapper, or could be made to run someone else's code through it. */
function wrapperProblem(path: string, ours: string): { problem?: string; foreign?: string } {
  if (!isExecutableFile(path)) return { problem: `${path} does not exist or is not executable (pnpm fails: TOKEN_HELPER_ERROR_STATUS)` };
  const st = statSync(path);
  const uid = process.getuid?.();
  if ((uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return { problem: `${path} is not yours alone to change; remove it` };
  const target = wrapperTarget(readText(path).text ?? '');
  if (target === undefined) return { foreign: `${path} does not run credmux-pnpm` };
  if (!sameFile(target, ours)) return { foreign: `${path} runs ${target}, not this credmux (${ours})` };
  return {};
}

export function checkPnpm(env: Env, targets: Target[]): Check {
  const file = npmrcPath(env);
  const dir = wrapperDir(env);
  const ours = helperPath(env, 'credmux-pnpm');
  const { text, error } = readText(file);
  if (error) return check('error', `cannot read ${file}: ${error}`);
  // Later lines override earlier ones for the same key (ini): the last one is what pnpm runs.
  const helpers = new Map<string, { path: string; line: number }>();
  for (const h of tokenHelpers(text ?? '')) helpers.set(h.key, h);
  const credmux = [...helpers.entries()].filter(([, h]) => dirname(h.path) === dir);
  if (credmux.length === 0) return check('info', `not wired (no credmux tokenHelper in ${file})`, { fix: 'credmux setup pnpm' });

  const dirCheck = checkPrivateDir(dir, 'XDG_DATA_HOME');
  if (dirCheck.state === 'unsafe')
    return check('error', 'the pnpm wrapper directory is not private: another user could run code as you through pnpm', {
      details: [dirCheck.problem],
      fix: `rm -r ${dir} && credmux setup pnpm`,
    });
  const broken: string[] = [];
  const foreign: string[] = [];
  for (const [key, h] of credmux) {
    const r = wrapperProblem(h.path, ours);
    if (r.problem) broken.push(`${file}:${h.line} (${key}): ${r.problem}`);
    if (r.foreign) foreign.push(`${file}:${h.line} (${key}): ${r.foreign}`);
  }
  const inBlock = blockLineNumbers(text ?? '', PNPM_BEGIN, PNPM_END);
  const outside = credmux.filter(([, h]) => !inBlock.has(h.line)).map(([, h]) => h.line);
  const fix = outside.length
    ? `delete line${outside.length === 1 ? '' : 's'} ${outside.join(', ')} of ${file} (not written by credmux setup), then: credmux setup pnpm`
    : 'credmux setup pnpm   (rewrites the wrappers with this credmux)';
  if (broken.length) return check('error', 'wired to a pnpm tokenHelper that cannot run safely: every pnpm command fails', { details: broken, fix });
  if (foreign.length) return check('warn', 'wired to another credmux installation', { details: foreign, fix });

  const missing = targets.filter((t) => !t.pattern.wildcard && !helpers.has(registryOf(t.pattern).key)).map((t) => formatPattern(t.pattern));
  if (missing.length) return check('warn', `wired in ${file}, but not for: ${[...new Set(missing)].join(', ')}`, { fix: 'credmux setup pnpm' });
  return check(
    'ok',
    `wired in ${file} for ${credmux.length} registr${credmux.length === 1 ? 'y' : 'ies'}, through wrappers in ${dir} that run ${ours}`,
  );
}
