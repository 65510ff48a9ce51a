// `credmux setup bazel|git|docker|pip|uv [--dry-run] [--undo]`: wires credmux into a tool's own
// configuration. Each tool module says WHAT to write; ./transaction.ts makes it idempotent and
// reversible; this module runs one and tells the person what happened and what is left for them to do.
import type { Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import type { Io } from '../credentials.js';
import { EXIT } from '../exit-codes.js';
import { planBazel } from './bazel.js';
import { binDir, tilde } from './common.js';
import { planDocker } from './docker.js';
import { planGit } from './git.js';
import { planPip } from './pip.js';
import { collectTargets } from './targets.js';
import { applyFiles, BACKUP_SUFFIX, undoFiles, type Change, type Tool } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';
import { planUv } from './uv.js';

export const TOOLS = ['bazel', 'git', 'docker', 'pip', 'uv'] as const satisfies readonly Tool[];

async function planFor(env: Env, tool: Tool, opts: SetupOptions): Promise<{ plan: ToolPlan; nothingToWire: boolean }> {
  // Undo needs no targets: it takes out whatever setup recorded, even with a broken config or store.
  const hosted = tool === 'bazel' || tool === 'git' || tool === 'docker';
  const targets = hosted && !opts.undo ? await collectTargets(env) : null;
  const nothingToWire = hosted && !opts.undo && targets!.length === 0 && !(tool === 'bazel' && opts.unscoped);
  switch (tool) {
    case 'bazel':
      return { plan: planBazel(env, targets, opts), nothingToWire };
    case 'git':
      return { plan: planGit(env, targets, opts), nothingToWire };
    case 'docker':
      return { plan: planDocker(env, targets, opts), nothingToWire };
    case 'pip':
      return { plan: planPip(env, opts), nothingToWire };
    case 'uv':
      return { plan: planUv(env, opts), nothingToWire };
  }
}

export async function runSetup(env: Env, io: Io, tool: Tool, opts: SetupOptions): Promise<number> {
  if (tool !== 'bazel' && (opts.workspace !== undefined || opts.unscoped)) {
    throw new CredmuxError('bad-request', '--workspace and --unscoped apply to credmux setup bazel only');
  }
  const { plan, nothingToWire } = await planFor(env, tool, opts);
  const run = opts.undo ? undoFiles : applyFiles;
  const changes = await run(env, tool, plan.files, plan.links, { dryRun: opts.dryRun });
  const title = `credmux setup ${tool}${opts.undo ? ' --undo' : ''}`;
  const out: string[] = [];
  if (opts.dryRun) out.push(`${title} --dry-run: showing what would change; nothing is written.`, '');
  for (const c of changes) out.push(...describe(env, c, opts));
  if (!opts.undo) {
    if (plan.notes.length) out.push('', ...plan.notes);
    out.push(`Helpers are the executables in ${binDir(env)}; if credmux moves, run this command again.`);
  }
  if (plan.warnings.length) out.push('', ...plan.warnings.map((w) => `Action needed: ${w}`));
  io.out(`${out.join('\n')}\n`);
  return nothingToWire ? EXIT.notFound : EXIT.ok;
}

function describe(env: Env, c: Change, opts: SetupOptions): string[] {
  const shown = tilde(c.path, env);
  const note = c.note ? ` (${c.note})` : '';
  if (opts.dryRun) {
    if (c.kind === 'unchanged') return [`${shown}: no change${note}`];
    if (c.diff) return [c.diff.trimEnd()];
    return [`${shown}: would ${c.kind}${note}`];
  }
  switch (c.kind) {
    case 'unchanged':
      return [`${shown}: ${opts.undo ? (c.note ?? 'nothing to undo') : `already set up, no change${note}`}`];
    case 'create':
      return [`${shown}: created${note}`];
    case 'delete':
      return [`${shown}: removed${note}`];
    case 'update':
      return [
        `${shown}: ${opts.undo ? 'restored' : `updated (the previous version is kept as ${tilde(c.path, env)}${BACKUP_SUFFIX} until --undo)`}${note}`,
      ];
  }
}
