// `credmux setup bazel|git|docker|podman|pip|uv|terraform|go|cargo|kubectl [--dry-run] [--undo]`: wires credmux into a tool's own
// configuration. Each tool module says WHAT to write; ./transaction.ts makes it idempotent and
// reversible; this module runs one and tells the person what happened and what is left for them to do.
import { existsSync } from 'node:fs';
import type { Env } from '../../platform/paths.js';
import { CredmuxError, type ProtocolName } from '../../model/types.js';
import { formatPattern } from '../../model/url.js';
import type { Io } from '../credentials.js';
import { EXIT } from '../exit-codes.js';
import { planBazel } from './bazel.js';
import { planCargo } from './cargo.js';
import { binDir, tilde } from './common.js';
import { planDocker } from './docker.js';
import { planGit } from './git.js';
import { planGo } from './go.js';
import { planKubectl } from './kubectl.js';
import { planPip } from './pip.js';
import { planPodman } from './podman.js';
import { collectTargets, targetsFor, targetsNotFor, TOOLS_OF } from './targets.js';
import { planTerraform } from './terraform.js';
import { applyFiles, BACKUP_SUFFIX, manifestPath, undoFiles, type Change, type Tool } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';
import { planUv } from './uv.js';

export const TOOLS = ['bazel', 'git', 'docker', 'podman', 'pip', 'uv', 'terraform', 'go', 'cargo', 'kubectl'] as const satisfies readonly Tool[];

/** The per-host tools, and the protocol whose stored credentials each is wired for. */
const HOSTED = { bazel: 'bazel', git: 'git', docker: 'docker' } as const satisfies Partial<Record<Tool, ProtocolName>>;

async function planFor(env: Env, tool: Tool, opts: SetupOptions): Promise<{ plan: ToolPlan; nothingToWire: boolean }> {
  // Undo needs no targets: it takes out whatever setup recorded, even with a broken config or store.
  const protocol = tool in HOSTED ? HOSTED[tool as keyof typeof HOSTED] : undefined;
  const all = protocol && !opts.undo ? await collectTargets(env) : null;
  const targets = all && protocol ? targetsFor(all, protocol) : null;
  const nothingToWire = protocol !== undefined && !opts.undo && targets!.length === 0 && !(tool === 'bazel' && opts.unscoped);
  let plan: ToolPlan;
  switch (tool) {
    case 'bazel':
      plan = planBazel(env, targets, opts);
      break;
    case 'git':
      plan = planGit(env, targets, opts);
      break;
    case 'docker':
      plan = planDocker(env, targets, opts);
      break;
    case 'podman':
      plan = planPodman(env, opts);
      break;
    case 'pip':
      plan = planPip(env, opts);
      break;
    case 'uv':
      plan = planUv(env, opts);
      break;
    case 'terraform':
      plan = planTerraform(env, opts);
      break;
    case 'go':
      plan = planGo(env, opts);
      break;
    case 'cargo':
      plan = planCargo(env, opts);
      break;
    case 'kubectl':
      plan = await planKubectl(env, opts);
      break;
  }
  if (all && protocol) {
    const others = targetsNotFor(all, protocol);
    if (others.length) {
      plan.notes.push(
        `Not wired into ${tool}: ${others.map((t) => `${formatPattern(t.pattern)} (for ${t.protocols!.map((p) => TOOLS_OF[p]).join(', ')})`).join(', ')}. ` +
          `A stored credential is wired into the tools it was stored for; to add ${tool}: credmux login URL --for ${tool},… again.`,
      );
    }
  }
  return { plan, nothingToWire };
}

export async function runSetup(env: Env, io: Io, tool: Tool, opts: SetupOptions): Promise<number> {
  if (tool !== 'bazel' && (opts.workspace !== undefined || opts.unscoped)) {
    throw new CredmuxError('bad-request', '--workspace and --unscoped apply to credmux setup bazel only');
  }
  if (tool !== 'kubectl' && opts.context !== undefined) throw new CredmuxError('bad-request', '--context applies to credmux setup kubectl only');
  const { plan, nothingToWire } = await planFor(env, tool, opts);
  const run = opts.undo && !plan.undoByApplying ? undoFiles : applyFiles;
  const changes = await run(env, tool, plan.files, plan.links, { dryRun: opts.dryRun });
  const code = nothingToWire ? EXIT.notFound : EXIT.ok;
  if (opts.json) {
    // The diffs are redacted like the text (src/formats/diff.ts); shown, as in the text, only for --dry-run.
    const shown = changes.map((c) => ({
      path: c.path,
      kind: c.kind,
      ...(c.note ? { note: c.note } : {}),
      ...(opts.dryRun && c.diff ? { diff: c.diff } : {}),
    }));
    io.out(
      `${JSON.stringify({ tool, dryRun: opts.dryRun, undo: opts.undo, binDir: binDir(env), changes: shown, notes: plan.notes, warnings: plan.warnings }, null, 2)}\n`,
    );
    return code;
  }
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
  return code;
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

/** After `credmux login`: which setups would wire the new credential in, and which tools already ask credmux. */
export interface LoginWiring {
  /** `credmux setup <tool>` would change that tool's files now (or was named with --for and never run). */
  run: Tool[];
  /** Set up already, nothing to change: pip/uv ask for every host; a per-host tool is up to date. */
  upToDate: Tool[];
  /** No tool is set up at all (and none was named). */
  noneSetUp: boolean;
}

export async function wiringAfterLogin(env: Env, named: readonly string[] | undefined): Promise<LoginWiring> {
  const out: LoginWiring = { run: [], upToDate: [], noneSetUp: false };
  let anySetUp = false;
  for (const tool of TOOLS) {
    const setUp = existsSync(manifestPath(env, tool));
    anySetUp ||= setUp;
    if (named && !named.includes(tool)) continue;
    if (!setUp) {
      if (named) out.run.push(tool);
      continue;
    }
    if (!(tool in HOSTED)) {
      out.upToDate.push(tool);
      continue;
    }
    try {
      const opts: SetupOptions = { dryRun: true, undo: false };
      const { plan } = await planFor(env, tool, opts);
      const changes = await applyFiles(env, tool, plan.files, plan.links, { dryRun: true });
      (changes.some((c) => c.kind !== 'unchanged') ? out.run : out.upToDate).push(tool);
    } catch {
      out.run.push(tool); // a setup that cannot even plan says why when run
    }
  }
  out.noneSetUp = !anySetUp && !named;
  return out;
}
