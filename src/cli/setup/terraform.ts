// `credmux setup terraform` (Terraform and OpenTofu): a `credentials_helper "credmux" {}` block in the
// CLI config, and terraform-credentials-credmux linked into ~/.terraform.d/plugins, the one place both
// look for it: neither searches PATH (docs/protocols.md §8.2). One helper serves every host, so unlike
// git or Docker nothing is wired per host.
//
// Which CLI config file (hashicorp/terraform internal/command/cliconfig/cliconfig.go, config_unix.go;
// opentofu/opentofu the same files): TF_CLI_CONFIG_FILE (else TERRAFORM_CONFIG) replaces everything for
// both tools; without it Terraform reads ~/.terraformrc, and OpenTofu ~/.tofurc when that exists, else
// ~/.terraformrc. Both also merge ~/.terraform.d/*.tfrc, and refuse a merged config with two
// credentials_helper blocks, so a helper configured there (or in the file) stops setup.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { home, type Env } from '../../platform/paths.js';
import { CredmuxError } from '../../model/types.js';
import { isJsonSyntax, topLevelBlocks } from '../../formats/hcl.js';
import { helperPath } from './common.js';
import type { FileSpec, LinkSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

/** The credentials_helper block's label: Terraform runs `terraform-credentials-<label>`. */
export const HELPER_TYPE = 'credmux';
export const TERRAFORM_HELPER = `terraform-credentials-${HELPER_TYPE}`;

const MARK = '# Added by `credmux setup terraform`; `credmux setup terraform --undo` takes it out again.';
const BLOCK = `${MARK}\ncredentials_helper "${HELPER_TYPE}" {\n  args = []\n}\n`;

/** TF_CLI_CONFIG_FILE, else TERRAFORM_CONFIG (its old name): when set, the only CLI config either tool reads. */
export function terraformConfigOverride(env: Env): string | undefined {
  const v = env.TF_CLI_CONFIG_FILE || env.TERRAFORM_CONFIG;
  return v ? resolve(v) : undefined;
}

/** ~/.terraform.d: the config directory whose *.tfrc both tools merge, and whose plugins/ holds the helper. */
export function terraformDir(env: Env): string {
  return join(home(env), '.terraform.d');
}

/** Where the helper must be for Terraform and OpenTofu to find it. */
export function terraformHelperLink(env: Env): string {
  return join(terraformDir(env), 'plugins', TERRAFORM_HELPER);
}

/**
 * The CLI config files setup writes the block into, as the tools will read them once setup has run
 * (it creates ~/.terraformrc, which OpenTofu then reads unless ~/.tofurc exists).
 */
export function terraformConfigFiles(env: Env): string[] {
  const override = terraformConfigOverride(env);
  if (override) return [override];
  const files = [join(home(env), '.terraformrc')];
  const tofurc = join(home(env), '.tofurc');
  if (existsSync(tofurc)) files.push(tofurc);
  return files;
}

/** The files of the config directory both tools merge (only without an override). */
export function terraformDirConfigs(env: Env): string[] {
  if (terraformConfigOverride(env)) return [];
  try {
    return readdirSync(terraformDir(env))
      .filter((f) => f.endsWith('.tfrc') || f.endsWith('.tfrc.json'))
      .sort()
      .map((f) => join(terraformDir(env), f));
  } catch {
    return [];
  }
}

/** The credentials_helper labels a CLI config text configures (HCL or its JSON form). */
export function credentialsHelpers(text: string): string[] {
  if (isJsonSyntax(text)) {
    try {
      const v = (JSON.parse(text) as { credentials_helper?: unknown }).credentials_helper;
      return v && typeof v === 'object' ? Object.keys(v) : [];
    } catch {
      return [];
    }
  }
  return topLevelBlocks(text, 'credentials_helper').map((b) => b.label ?? '');
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function conflict(path: string, label: string): CredmuxError {
  return new CredmuxError(
    'bad-request',
    `${path} already configures credentials_helper ${JSON.stringify(label)}, and Terraform allows only one: ` +
      `remove that block to let credmux answer instead, then run credmux setup terraform again`,
  );
}

/** What setup added to a file, so that --undo after the person edited it takes out only that. */
type Owned = { added: string } | { json: true } | null;

function configSpec(path: string): FileSpec<Owned> {
  return {
    path,
    newMode: 0o644,
    async apply(base) {
      const text = base ?? '';
      const other = credentialsHelpers(text).find((l) => l !== HELPER_TYPE);
      if (other !== undefined) throw conflict(path, other);
      if (credentialsHelpers(text).includes(HELPER_TYPE)) return { content: base, owned: null }; // there already
      if (base !== null && isJsonSyntax(text)) return { content: addToJson(path, text), owned: { json: true } };
      const sep = text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
      return { content: `${text}${sep}${BLOCK}`, owned: { added: `${sep}${BLOCK}` } };
    },
    async revert(current, owned) {
      if (current === null || owned === null) return current;
      if ('json' in owned) return removeFromJson(current);
      if (current.includes(owned.added)) return current.replace(owned.added, '');
      // Edited around our block: take out the block itself (and our comment line), whatever its spacing.
      const block = topLevelBlocks(current, 'credentials_helper').find((b) => b.label === HELPER_TYPE);
      if (!block) return current;
      const before = current.slice(0, block.start).replace(`${MARK}\n`, '');
      return `${before}${current.slice(block.end).replace(/^\n/, '')}`;
    },
  };
}

function addToJson(path: string, text: string): string {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CredmuxError(
      'bad-request',
      `${path} looks like JSON but does not parse as JSON; fix it (or write it in HCL), then run credmux setup terraform again`,
    );
  }
  const helpers = (doc.credentials_helper ?? {}) as Record<string, unknown>;
  return `${JSON.stringify({ ...doc, credentials_helper: { ...helpers, [HELPER_TYPE]: { args: [] } } }, null, 2)}\n`;
}

function removeFromJson(text: string): string {
  try {
    const doc = JSON.parse(text) as Record<string, unknown>;
    const helpers = { ...((doc.credentials_helper ?? {}) as Record<string, unknown>) };
    delete helpers[HELPER_TYPE];
    const { credentials_helper: _drop, ...rest } = doc;
    return `${JSON.stringify(Object.keys(helpers).length ? { ...rest, credentials_helper: helpers } : rest, null, 2)}\n`;
  } catch {
    return text; // no longer JSON: nothing we can take out safely
  }
}

export function planTerraform(env: Env, opts: SetupOptions): ToolPlan {
  const files = terraformConfigFiles(env);
  const link: LinkSpec = { path: terraformHelperLink(env), target: helperPath(env, TERRAFORM_HELPER), dirMode: 0o755 };
  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    // The directory's *.tfrc are merged with the file: a second helper there breaks every terraform command.
    for (const f of terraformDirConfigs(env)) {
      const other = credentialsHelpers(readOrNull(f) ?? '').find((l) => l !== HELPER_TYPE);
      if (other !== undefined) throw conflict(f, other);
    }
    notes.push(
      `Terraform and OpenTofu now ask credmux for every host they need a token for (credentials_helper "${HELPER_TYPE}" in ${files.join(' and ')}; ` +
        `the helper is ${link.path}).`,
      'A TF_TOKEN_<host> variable or a credentials "<host>" block (credentials.tfrc.json, from terraform login before this) still wins for its host; credmux doctor lists them.',
    );
    const xdg = env.XDG_CONFIG_HOME;
    const tofuXdg = xdg ? join(xdg, 'opentofu', 'tofurc') : undefined;
    if (
      !terraformConfigOverride(env) &&
      tofuXdg &&
      existsSync(tofuXdg) &&
      !existsSync(join(home(env), '.terraformrc')) &&
      !existsSync(join(home(env), '.tofurc'))
    ) {
      warnings.push(
        `OpenTofu reads ${tofuXdg} only while neither ~/.tofurc nor ~/.terraformrc exists; setup creates ~/.terraformrc, so move the settings of ${tofuXdg} into ~/.tofurc ` +
          `and run credmux setup terraform again (or undo: credmux setup terraform --undo).`,
      );
    }
  }
  return { files: files.map(configSpec), links: [link], notes, warnings };
}
