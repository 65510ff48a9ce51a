// doctor: would Terraform (and OpenTofu) run THIS credmux as its credentials helper, and does anything
// outrank it for a host credmux serves? Read the way Terraform reads them (src/cli/setup/terraform.ts
// says which files): a helper it cannot find is only logged, and terraform then runs unauthenticated,
// so every way of missing it is worth a line here.
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { matches } from '../../model/match.js';
import { parseRequest } from '../../model/url.js';
import { isJsonSyntax, topLevelBlocks } from '../../formats/hcl.js';
import { helperPath } from '../setup/common.js';
import { sameFile } from '../setup/exec.js';
import { targetsFor, type Target } from '../setup/targets.js';
import {
  credentialsHelpers,
  HELPER_TYPE,
  TERRAFORM_HELPER,
  terraformConfigFiles,
  terraformConfigOverride,
  terraformDir,
  terraformDirConfigs,
} from '../setup/terraform.js';
import type { Check } from './check.js';

const check = (status: Check['status'], summary: string, extra: Partial<Check> = {}): Check => ({
  section: 'tools',
  area: 'terraform',
  status,
  summary,
  ...extra,
});

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function checkTerraform(env: Env, allTargets: readonly Target[]): Check[] {
  const targets = targetsFor(allTargets, 'terraform');
  const override = terraformConfigOverride(env);
  // Terraform's own view: its main file, then the directory's *.tfrc (only without an override).
  const files = [terraformConfigFiles(env)[0]!, ...terraformDirConfigs(env)];
  const helpers = files.flatMap((f) => credentialsHelpers(read(f)).map((label) => ({ file: f, label })));
  const labels = [...new Set(helpers.map((h) => h.label))];
  const out: Check[] = [];
  if (labels.length === 0) {
    out.push(
      check('info', `not wired (no credentials_helper in ${files[0]}${override ? ', named by TF_CLI_CONFIG_FILE' : ''})`, {
        fix: 'credmux setup terraform',
      }),
    );
  } else if (labels.length > 1) {
    out.push(
      check(
        'error',
        `Terraform refuses to start: ${labels.length} credentials_helper blocks (${helpers.map((h) => `"${h.label}" in ${h.file}`).join(', ')})`,
        {
          fix: 'remove all but one credentials_helper block',
        },
      ),
    );
  } else if (labels[0] !== HELPER_TYPE) {
    out.push(
      check('info', `Terraform asks credentials helper "${labels[0]}" (${helpers[0]!.file}), not credmux`, {
        fix: `remove that block, then: credmux setup terraform`,
      }),
    );
  } else {
    out.push(pluginCheck(env));
    const tofurc = join(env.HOME ?? '', '.tofurc');
    if (!override && terraformConfigFiles(env).includes(tofurc) && !credentialsHelpers(read(tofurc)).includes(HELPER_TYPE)) {
      out.push(check('warn', `OpenTofu reads ${tofurc}, which has no credentials_helper "${HELPER_TYPE}"`, { fix: 'credmux setup terraform' }));
    }
  }
  out.push(...outranked(env, targets, files));
  return out;
}

/** Terraform's plugin lookup (hashicorp/terraform internal/plugin/discovery/find.go): which file it would run. */
function pluginCheck(env: Env): Check {
  const goArch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  const dirs = [join(terraformDir(env), 'plugins'), join(terraformDir(env), 'plugins', `${process.platform}_${goArch}`)];
  const found = dirs.flatMap((d) => {
    try {
      return readdirSync(d)
        .filter(
          (n) =>
            n.toLowerCase().startsWith(`${TERRAFORM_HELPER}`) &&
            (n.length === TERRAFORM_HELPER.length || n.slice(TERRAFORM_HELPER.length).startsWith('_v')),
        )
        .map((n) => join(d, n));
    } catch {
      return [];
    }
  });
  const ours = helperPath(env, TERRAFORM_HELPER);
  if (found.length === 0) {
    return check(
      'error',
      `credentials_helper "${HELPER_TYPE}" is configured, but ${TERRAFORM_HELPER} is not in ${dirs[0]}: Terraform only logs that and runs without credentials`,
      {
        fix: 'credmux setup terraform',
      },
    );
  }
  // A versioned name (`_vX`) beats the plain one, whatever it runs: only ours may be there.
  const foreign = found.filter((f) => !sameFile(f, ours));
  if (foreign.length) {
    return check(
      'error',
      `${foreign.join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not this credmux's helper (${ours}), and Terraform may run ${foreign.length === 1 ? 'it' : 'them'}`,
      {
        fix: `rm ${foreign.join(' ')} && credmux setup terraform`,
      },
    );
  }
  try {
    accessSync(found[0]!, constants.X_OK);
  } catch {
    return check('error', `${found[0]} is not executable`, { fix: 'credmux setup terraform' });
  }
  return check('ok', `credentials_helper "${HELPER_TYPE}"; Terraform runs ${found[0]} (→ ${ours})`);
}

/** TF_TOKEN_<host> variables and `credentials "<host>"` blocks win over any helper for their host. */
function outranked(env: Env, targets: readonly Target[], files: readonly string[]): Check[] {
  const served = (host: string) => {
    try {
      const t = parseRequest(`https://${host}`);
      return targets.some((x) => matches(x.pattern, t));
    } catch {
      return false;
    }
  };
  const hosts: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('TF_TOKEN_')) continue;
    // Terraform's decoding (internal/command/cliconfig/credentials.go): `__` → `-`, then `_` → `.`.
    const host = name.slice('TF_TOKEN_'.length).replaceAll('__', '-').replaceAll('_', '.').toLowerCase();
    if (served(host)) hosts.push(`${name} (for ${host})`);
  }
  for (const f of [...files, join(terraformDir(env), 'credentials.tfrc.json')]) {
    const text = read(f);
    const blockHosts = isJsonSyntax(text) ? jsonCredentialHosts(text) : topLevelBlocks(text, 'credentials').map((b) => b.label ?? '');
    for (const host of blockHosts) if (served(host)) hosts.push(`credentials "${host}" in ${f}`);
  }
  if (hosts.length === 0) return [];
  return [
    check('warn', `Terraform uses ${hosts.length === 1 ? 'this' : 'these'} instead of credmux: ${hosts.join(', ')}`, {
      fix: 'unset the variable, or remove the block (terraform logout HOST removes one terraform login wrote)',
    }),
  ];
}

function jsonCredentialHosts(text: string): string[] {
  try {
    const c = (JSON.parse(text) as { credentials?: unknown }).credentials;
    return c && typeof c === 'object' ? Object.keys(c) : [];
  } catch {
    return [];
  }
}
