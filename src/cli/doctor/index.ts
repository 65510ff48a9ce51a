// `credmux doctor [--json]`: is credmux healthy, and is every tool wired to THIS credmux? Each check
// says what it found and, for every problem, the exact command that fixes it. Exit 6 when something is
// broken (an error), 0 otherwise: a tool that is simply not wired is information, not a failure.
import type { Env } from '../../platform/paths.js';
import { VERSION } from '../../platform/version.js';
import { COMMIT, VERSION_AND_COMMIT } from '../version.js';
import type { Io } from '../credentials.js';
import { EXIT } from '../exit-codes.js';
import { binDir, EXIT_PROBLEMS } from '../setup/common.js';
import { targetsFrom } from '../setup/targets.js';
import type { Check } from './check.js';
import { checkConfig, checkStore } from './core.js';
import { checkDaemon } from './daemon.js';
import { checkOtherStore } from './other-store.js';
import { checkTokens } from './tokens.js';
import { checkTools } from './tools.js';

export async function runDoctor(env: Env, io: Io, opts: { json: boolean }): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const config = checkConfig(env);
  const store = await checkStore(env);
  const daemon = await checkDaemon(env, store.store);
  const elsewhere = store.store ? await checkOtherStore(env, store.store, store.entries) : [];
  const targets = targetsFrom(config.rules, store.entries);
  const tools = await checkTools(env, targets);
  const tokens = await checkTokens(env, { rules: config.rules, entries: store.entries, daemon: daemon.status, now });
  const checks: Check[] = [config.check, store.check, ...elsewhere, daemon.check, ...tools, ...tokens];
  const broken = checks.filter((c) => c.status === 'error');
  if (opts.json) {
    io.out(`${JSON.stringify({ ok: broken.length === 0, version: VERSION, commit: COMMIT ?? null, binDir: binDir(env), checks }, null, 2)}\n`);
  } else {
    io.out(render(env, checks, useColor(env)));
  }
  return broken.length ? EXIT_PROBLEMS : EXIT.ok;
}

const MARK: Record<Check['status'], string> = { ok: 'ok  ', info: 'info', warn: 'WARN', error: 'FAIL' };
/** SGR colours per status: green, cyan, yellow, red. */
const COLOR: Record<Check['status'], string> = { ok: '32', info: '36', warn: '33', error: '31' };

/**
 * Colour on a terminal, never in a pipe or a file. NO_COLOR (set and not empty, no-color.org) turns it
 * off everywhere; FORCE_COLOR (not "0") turns it on without a terminal.
 */
export function useColor(env: Env, isTTY = !!process.stdout.isTTY): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return isTTY;
}

function render(env: Env, checks: Check[], color: boolean): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const out = [`credmux ${VERSION_AND_COMMIT} (${binDir(env)})`, ''];
  let section = '';
  for (const c of checks) {
    if (c.section !== section) {
      section = c.section;
      out.push(paint('1', `${section}:`));
    }
    out.push(`  [${paint(COLOR[c.status], MARK[c.status])}] ${c.area}: ${c.summary}`);
    for (const d of c.details ?? []) out.push(`           ${d}`);
    // "fix" under a problem; under a plain finding (not wired) it is only a suggestion.
    const label = c.status === 'info' || c.status === 'ok' ? 'hint: ' : 'fix:  ';
    if (c.fix) out.push(...c.fix.split('\n').map((l, i) => `           ${i === 0 ? label : '      '}${l}`));
  }
  const errors = checks.filter((c) => c.status === 'error').length;
  const warnings = checks.filter((c) => c.status === 'warn').length;
  out.push('');
  if (errors)
    out.push(
      `${errors} problem${errors === 1 ? '' : 's'} found${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}: run the fix under each FAIL, then credmux doctor again.`,
    );
  else if (warnings) out.push(`No problems; ${warnings} warning${warnings === 1 ? '' : 's'} (see WARN above).`);
  else out.push('All good.');
  return `${out.join('\n')}\n`;
}
