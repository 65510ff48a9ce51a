// Which variables `credmux exec` sets, and from what: the mapping, built from flags and from the
// `exports` of config rules. Names follow each tool's own convention; every value comes from what
// credmux serves for a URL at the moment the command starts.
import type { Rule } from '../model/rule.js';
import { CredmuxError } from '../model/types.js';
import { formatPattern, parseRequest, redactUrl } from '../model/url.js';

/** What of the served credential a variable holds: the password or token, the username, or a whole `Authorization` value. */
export type ExportField = 'secret' | 'username' | 'authorization';

export interface EnvMapping {
  name: string;
  url: string;
  field: ExportField;
  /** Where the mapping came from, for messages: `--npm`, `rule npm`, … */
  from: string;
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function splitAssignment(value: string, flag: string, example: string): { left: string; url: string } {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new CredmuxError('bad-request', `${flag} takes ${example}; got ${JSON.stringify(redactUrl(value))}`);
  return { left: value.slice(0, eq), url: value.slice(eq + 1) };
}

/** `--env NAME=URL` (the secret) and `--env-username NAME=URL`. */
export function plainMapping(value: string, field: 'secret' | 'username'): EnvMapping {
  const flag = field === 'secret' ? '--env' : '--env-username';
  const { left, url } = splitAssignment(value, flag, 'NAME=URL, e.g. NPM_TOKEN=https://npm.example.com');
  if (!VAR_NAME.test(left)) throw new CredmuxError('bad-request', `${flag} ${left}=…: a variable name is letters, digits and _ (not first a digit)`);
  return { name: left, url, field, from: flag };
}

/** `--npm URL`: NPM_TOKEN, for an npmrc line `//host/:_authToken=${NPM_TOKEN}` (npm sends it as Bearer). */
export function npmMapping(url: string): EnvMapping {
  return { name: 'NPM_TOKEN', url, field: 'secret', from: '--npm' };
}

/**
 * `--terraform HOST`: TF_TOKEN_<host> (Terraform ≥ 1.2, hashicorp/terraform
 * internal/command/cliconfig/credentials.go): punycode host, `-` as `__`, `.` as `_`. No port can be
 * spelled, so a host with one is refused rather than answered for the wrong port.
 */
export function terraformMapping(host: string): EnvMapping {
  const t = parseRequest(host);
  if (t.scheme === 'http') throw new CredmuxError('bad-request', `--terraform ${redactUrl(host)}: Terraform talks to registries over https only`);
  if (t.port !== null && t.port !== 443) {
    throw new CredmuxError(
      'bad-request',
      `--terraform ${redactUrl(host)}: a TF_TOKEN_ variable cannot name a port; use the credentials helper for this host`,
    );
  }
  if (t.host.startsWith('[') || !/^[a-z0-9.-]+$/.test(t.host)) {
    throw new CredmuxError('bad-request', `--terraform ${redactUrl(host)}: only a DNS host name can be spelled as a TF_TOKEN_ variable`);
  }
  return { name: `TF_TOKEN_${t.host.replaceAll('-', '__').replaceAll('.', '_')}`, url: `https://${t.host}`, field: 'secret', from: '--terraform' };
}

/**
 * `--cargo NAME=URL`: CARGO_REGISTRIES_<NAME>_TOKEN, upper case with `-` as `_` (cargo's config
 * environment names). cargo sends the token verbatim as the Authorization value, scheme included
 * (rust-lang/cargo#4989), so it gets the whole `Bearer …`/`Basic …` value, as the cargo door serves it.
 */
export function cargoMapping(value: string): EnvMapping[] {
  const { left, url } = splitAssignment(value, '--cargo', 'REGISTRY=URL, e.g. my-registry=https://cargo.example.com');
  if (!/^[A-Za-z0-9_-]+$/.test(left)) throw new CredmuxError('bad-request', `--cargo ${left}=…: a registry name is letters, digits, - and _`);
  return [{ name: `CARGO_REGISTRIES_${left.toUpperCase().replaceAll('-', '_')}_TOKEN`, url, field: 'authorization', from: '--cargo' }];
}

/**
 * `--uv NAME=URL`: UV_INDEX_<NAME>_USERNAME and _PASSWORD for the `[[index]]` called NAME, which uv
 * upper-cases with every other character than A-Z and 0-9 as `_` (astral-sh/uv
 * crates/uv-distribution-types/src/index_name.rs, to_env_var).
 */
export function uvMapping(value: string): EnvMapping[] {
  const { left, url } = splitAssignment(value, '--uv', 'INDEX=URL, e.g. internal=https://pypi.example.com/simple');
  if (!/^[A-Za-z0-9._-]+$/.test(left)) throw new CredmuxError('bad-request', `--uv ${left}=…: an index name is letters, digits, -, _ and .`);
  const name = left.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return [
    { name: `UV_INDEX_${name}_USERNAME`, url, field: 'username', from: '--uv' },
    { name: `UV_INDEX_${name}_PASSWORD`, url, field: 'secret', from: '--uv' },
  ];
}

/**
 * The mappings of config rules' `exports`: the rules named (`--rule`), or every rule that has exports
 * when none is named. A rule's URL is its own pattern; a wildcard names no single host to ask for.
 */
export function ruleMappings(rules: readonly Rule[], named: readonly string[] | undefined, configPath: string): EnvMapping[] {
  const wanted = named && named.length ? named : undefined;
  if (wanted) {
    const unknown = wanted.filter((id) => !rules.some((r) => r.id === id));
    if (unknown.length)
      throw new CredmuxError('bad-request', `--rule ${unknown.join(', ')}: no such rule in ${configPath} (credmux list shows the rule ids)`);
  }
  const out: EnvMapping[] = [];
  for (const r of rules) {
    if (wanted && !wanted.includes(r.id)) continue;
    if (!r.exports) {
      if (wanted) {
        throw new CredmuxError(
          'bad-request',
          `rule ${r.id} has no "exports" in ${configPath}: add e.g. "exports": {"NPM_TOKEN": "secret"} to it, or name the variables with --env NAME=URL`,
        );
      }
      continue;
    }
    if (r.pattern.wildcard) {
      throw new CredmuxError(
        'bad-request',
        `rule ${r.id} matches ${r.match}, which names no single host to ask for; give its variables with --env NAME=https://host.${r.pattern.host} instead`,
      );
    }
    for (const [name, field] of Object.entries(r.exports)) out.push({ name, url: formatPattern(r.pattern), field, from: `rule ${r.id}` });
  }
  return out;
}

/** Refuses a variable set twice: which one would win is a question better not left to order. */
export function checkDistinct(mappings: readonly EnvMapping[]): void {
  const seen = new Map<string, EnvMapping>();
  for (const m of mappings) {
    const had = seen.get(m.name);
    if (had) throw new CredmuxError('bad-request', `${m.name} is set twice (by ${had.from} and ${m.from}); set it once`);
    seen.set(m.name, m);
  }
}
