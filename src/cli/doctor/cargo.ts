// doctor: does cargo ask THIS credmux for registry tokens? Reads `[registry] global-credential-providers`
// where cargo reads it ($CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS over $CARGO_HOME/config.toml) and
// resolves each credmux entry as cargo runs it: the first word is the program, an absolute path or a
// name on PATH (rust-lang/cargo src/util/auth/mod.rs, credential_provider; docs/protocols.md §10.2).
import { readFileSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { parseTomlValue } from '../../formats/toml.js';
import { CARGO_HELPER, cargoConfigPath, configuredProviders, ownProviders } from '../setup/cargo.js';
import { helperPath } from '../setup/common.js';
import { isExecutableFile, sameFile, whichOnPath } from '../setup/exec.js';
import type { Check } from './check.js';

const check = (status: Check['status'], summary: string, extra: Partial<Check> = {}): Check => ({
  section: 'tools',
  area: 'cargo',
  status,
  summary,
  ...extra,
});

/** The program a provider entry runs, when it is credmux's: `cargo-credential-credmux`, or `credmux` itself (`credmux --cargo-plugin`). */
function credmuxProgram(entry: string): string | undefined {
  const program = entry.trim().split(/\s+/)[0] ?? '';
  const name = basename(program);
  return name === CARGO_HELPER || name === 'credmux' ? program : undefined;
}

export function checkCargo(env: Env): Check {
  const file = cargoConfigPath(env);
  const fromEnv = env.CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS;
  let providers: string[] | undefined | null;
  let text: string | undefined;
  let origin = file;
  if (fromEnv !== undefined) {
    // cargo reads a list from the environment as whitespace-separated words (context/mod.rs, get_list).
    providers = fromEnv.split(/\s+/).filter(Boolean);
    origin = 'CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS';
  } else {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return check('error', `cannot read ${file}: ${(e as Error).message}`);
    }
    if (text === undefined) return check('info', `not wired (no ${file})`, { fix: 'credmux setup cargo' });
    try {
      providers = configuredProviders(parseTomlValue(text));
    } catch (e) {
      return check('error', `${file} is not valid TOML (${(e as Error).message}); cargo refuses to start`, {
        fix: `fix ${file}, then: credmux setup cargo`,
      });
    }
    if (providers === null) {
      return check('error', `registry.global-credential-providers in ${file} is not a list of strings; cargo refuses it`, {
        fix: `fix ${file}, then: credmux setup cargo`,
      });
    }
  }
  const ours = helperPath(env, CARGO_HELPER);
  const ourCli = helperPath(env, 'credmux');
  const broken: string[] = [];
  const foreign: string[] = [];
  let wired = false;
  for (const entry of providers ?? []) {
    const program = credmuxProgram(entry);
    if (program === undefined) continue;
    const found = isAbsolute(program) ? (isExecutableFile(program) ? program : undefined) : whichOnPath(program, env.PATH);
    if (!found)
      broken.push(
        `${entry}: ${isAbsolute(program) ? 'does not exist or is not executable' : 'is not found on PATH'} (cargo fails every registry request)`,
      );
    else if (!sameFile(found, ours) && !sameFile(found, ourCli)) foreign.push(`${entry} is another credmux, not this one (${ours})`);
    else wired = true;
  }
  const fix = "credmux setup cargo   (rewrites the entry with this credmux's path)";
  if (broken.length) return check('error', `wired in ${origin} to a credmux that cannot run`, { details: broken, fix });
  if (!wired && foreign.length) return check('warn', `wired in ${origin} to another credmux installation`, { details: foreign, fix });
  if (!wired) return check('info', `not wired (no credmux in registry.global-credential-providers, ${origin})`, { fix: 'credmux setup cargo' });
  const own = ownProviders(env, file, text);
  const details = own.map((n) => `registry "${n}" names its own credential-provider, which replaces the global list: credmux is not asked for it`);
  return check(
    own.length ? 'warn' : 'ok',
    `cargo asks credmux for every registry's token (registry.global-credential-providers, ${origin})`,
    details.length ? { details, fix: `remove credential-provider from those registries in ${file}, or add ${ours} to it` } : {},
  );
}
