// The config file: rules for credentials that do not come from the store (env vars, netrc, and the
// refreshing sources). Validated against protocols/config/config.schema.json by a validator compiled
// at build time, then semantically (every `match` must parse), with messages that name the JSON path.
import { readFileSync, statSync } from 'node:fs';
import validateSchema from '../generated/config-validator.js';
import { configFile, type Env } from './paths.js';
import { CredmuxError } from './types.js';
import { parsePattern, type Pattern } from './url.js';

export type SourceConfig =
  | { type: 'env'; var: string; usernameVar?: string }
  | { type: 'netrc'; file?: string };

export interface RuleConfig {
  id?: string;
  match: string;
  username?: string;
  kind?: 'basic' | 'bearer';
  source: SourceConfig;
}

export interface Config {
  rules: RuleConfig[];
}

/** A rule ready for matching: its pattern parsed once, its identity fixed. */
export interface Rule extends RuleConfig {
  id: string;
  pattern: Pattern;
}

export const EMPTY_CONFIG: Config = { rules: [] };

/** Identifies the config file's current content cheaply (one stat): inode, size and mtime. */
export function configStamp(env: Env): string {
  try {
    const st = statSync(configFile(env));
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'absent';
  }
}

/** Reads and validates the config file; a missing file is an empty config. */
export function loadConfig(env: Env): { config: Config; path: string; stamp: string } {
  const path = configFile(env);
  let text: string;
  let stamp: string;
  try {
    const st = statSync(path);
    stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { config: EMPTY_CONFIG, path, stamp: 'absent' };
    throw new CredmuxError('config', `cannot read ${path}: ${(e as Error).message}`);
  }
  return { config: parseConfig(text, path), path, stamp };
}

export function parseConfig(text: string, path = 'config.json'): Config {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CredmuxError('config', `${path} is not valid JSON (${(e as Error).message}); fix it or move it away`);
  }
  if (!validateSchema(data)) {
    const problems = (validateSchema.errors ?? []).map(describeSchemaError).filter(Boolean);
    throw new CredmuxError('config', `${path} is invalid:\n${[...new Set(problems)].map((p) => `  - ${p}`).join('\n')}`);
  }
  const config = data as Config;
  compileRules(config, path); // surfaces bad patterns now, not at the first request
  return { rules: config.rules ?? [] };
}

export function compileRules(config: Config, path = 'config.json'): Rule[] {
  const seen = new Set<string>();
  return (config.rules ?? []).map((rule, i) => {
    let pattern: Pattern;
    try {
      pattern = parsePattern(rule.match);
    } catch (e) {
      throw new CredmuxError('config', `${path}: /rules/${i}/match: ${(e as Error).message}`);
    }
    const id = rule.id ?? `rule-${i}`;
    if (seen.has(id)) throw new CredmuxError('config', `${path}: /rules/${i}/id: "${id}" is used twice; give each rule its own id`);
    seen.add(id);
    return { ...rule, id, pattern };
  });
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns an ajv error into "<json path>: <what is wrong>; <what to write instead>". */
function describeSchemaError(e: SchemaError): string {
  const at = e.instancePath || '/';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at}: unknown key "${String(e.params.additionalProperty)}"; remove it or check its spelling`;
    case 'required':
      return `${at}: missing "${String(e.params.missingProperty)}"; add it`;
    case 'enum':
      return `${at}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at}: must be ${JSON.stringify(e.params.allowedValue)}`;
    case 'type':
      return `${at}: must be a ${String(e.params.type)}`;
    case 'if':
      return ''; // ajv reports the failing branch separately; this line adds nothing
    default:
      return `${at}: ${e.message ?? 'is invalid'}`;
  }
}
