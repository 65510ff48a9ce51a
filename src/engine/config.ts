// The config file: rules for credentials that do not come from the store (env vars, netrc, and the
// refreshing sources). Validated against protocols/config/config.schema.json by a validator compiled
// at build time, then semantically (every `match` must parse), with messages that name the JSON path.
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import validateSchema from '../generated/config-validator.js';
import { fileIdentity } from '../platform/file-identity.js';
import { configFile, type Env } from '../platform/paths.js';
import { CredmuxError } from '../model/types.js';
import { parsePattern, type Pattern } from '../model/url.js';
import { EMPTY_CONFIG, type Config, type Rule, type RuleConfig } from '../model/rule.js';
import { findDuplicateKey } from '../formats/json.js';
import { sourceProblems } from './source-validate.js';
import { publicSuffixProblem } from './public-suffix.js';

/**
 * Identifies the config file's current content cheaply (one stat; platform/file-identity.ts says why
 * ctime and inode are in it). A missing file is the common case and is answered without an exception
 * (a throw costs ten times the stat).
 */
export function configStamp(env: Env, path = configFile(env)): string {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st ? fileIdentity(st) : 'absent';
  } catch {
    return 'absent';
  }
}

/** Reads and validates the config file; a missing file is an empty config. */
export function loadConfig(env: Env): { config: Config; path: string; stamp: string } {
  const path = configFile(env);
  let text: string;
  let stamp: string;
  let fd: number | undefined;
  try {
    // O_NONBLOCK: a FIFO planted as the config must not hang a helper in open(); it is refused below.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    // The file we read is the file we checked: its owner and mode come from the open descriptor.
    const problem =
      st.isFile() || st.isDirectory() ? untrustedConfig(path, st) : `${path} is not a regular file; point CREDMUX_CONFIG at the config file`;
    if (problem) throw new CredmuxError('config', problem);
    stamp = fileIdentity(st);
    text = readFileSync(fd, 'utf8');
  } catch (e) {
    if (e instanceof CredmuxError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { config: EMPTY_CONFIG, path, stamp: 'absent' };
    throw new CredmuxError('config', `cannot read ${path}: ${(e as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { config: parseConfig(text, path), path, stamp };
}

/**
 * The config decides which commands run as the caller (a `command` rule) and where secrets are sent,
 * so, as ssh does with its own files, one that another user could have written is not obeyed: the file
 * and the directory holding it (the link's and, for a symbolic link, its target's) must belong to the
 * caller or to root, and be writable by nobody else. The fix is named, not applied.
 */
export function untrustedConfig(path: string, file: Stats): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // Windows: no POSIX owners or modes to check
  const own = (st: Stats, what: string, fix: string): string | undefined => {
    if (st.uid !== uid && st.uid !== 0) {
      return `${what} belongs to uid ${st.uid}, not to you (uid ${uid}) or root; credmux does not obey a config another user can change. Fix: ${fix.replace('%', `chown ${uid}`)}`;
    }
    if ((st.mode & 0o022) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      return `${what} is writable by group or others (mode ${mode}); credmux does not obey a config another user can change. Fix: ${fix.replace('%', 'chmod go-w')}`;
    }
    return undefined;
  };
  const fileProblem = own(file, path, `% ${shellQuote(path)}`);
  if (fileProblem) return `${fileProblem}`;
  const dirs = new Set([dirname(resolve(path))]);
  try {
    dirs.add(dirname(realpathSync.native(path)));
  } catch {
    // vanished since it was opened: the open descriptor is what is read, and it was checked
  }
  for (const dir of dirs) {
    let st: Stats;
    try {
      st = statSync(dir);
    } catch {
      continue;
    }
    const problem = own(st, `the directory ${dir} holding ${path}`, `% ${shellQuote(dir)} (or move the config to a directory of yours)`);
    if (problem) return problem;
  }
  return undefined;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function parseConfig(text: string, path = 'config.json'): Config {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the text around the error, which may be a token pasted in by mistake: only
    // the position is passed on, as a line and column.
    const at = /at position (\d+)/.exec((e as Error).message);
    const before = at ? text.slice(0, Number(at[1])).split('\n') : undefined;
    const where = before
      ? ` at line ${before.length}, column ${before[before.length - 1]!.length + 1}`
      : text.trim() === ''
        ? ' (the file is empty)'
        : '';
    throw new CredmuxError('config', `${path} is not valid JSON${where}; fix it or move it away`);
  }
  // JSON.parse keeps the last of two equal keys: a rule written twice would silently lose the first.
  const dup = findDuplicateKey(text);
  if (dup) throw new CredmuxError('config', `${path}: ${dup.path || '/'}: the key ${JSON.stringify(dup.key.slice(0, 40))} appears twice; keep one`);
  if (!validateSchema(data)) {
    const problems = (validateSchema.errors ?? []).map(describeSchemaError).filter(Boolean);
    throw new CredmuxError('config', `${path} is invalid:\n${[...new Set(problems)].map((p) => `  - ${p}`).join('\n')}`);
  }
  const config = data as Config;
  shareEqualStrings(config.rules ?? []);
  compileRules(config, path); // surfaces bad patterns now, not at the first request
  return { rules: config.rules ?? [] };
}

/**
 * Makes equal string values in the rules one string. JSON.parse gives every value its own copy, and a
 * config with thousands of rules repeats the same endpoints, variable names and URLs (a rule's match
 * and the URL its API key is stored under): a daemon keeps them all for its life (~0.6 MB of 10,000
 * rules' strings). After validation, so the depth is the schema's (a reviver on JSON.parse would
 * overflow the stack on a deeply nested file instead of reporting it invalid); deeper than
 * MAX_SHARE_DEPTH is left alone.
 */
function shareEqualStrings(rules: unknown[]): void {
  const seen = new Map<string, string>();
  const share = (o: Record<string, unknown> | unknown[], depth: number): void => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string') {
        const had = seen.get(v);
        if (had === undefined) seen.set(v, v);
        else (o as Record<string, unknown>)[k] = had;
      } else if (typeof v === 'object' && v !== null && depth < MAX_SHARE_DEPTH) share(v as Record<string, unknown>, depth + 1);
    }
  };
  share(rules, 0);
}

const MAX_SHARE_DEPTH = 6;

export function compileRules(config: Config, path = 'config.json'): Rule[] {
  const seen = new Set<string>();
  return (config.rules ?? []).map((rule, i) => {
    let pattern: Pattern;
    try {
      pattern = parsePattern(rule.match);
    } catch (e) {
      throw new CredmuxError('config', `${path}: /rules/${i}/match: ${(e as Error).message}`);
    }
    const overSuffix = pattern.wildcard ? publicSuffixProblem(pattern.host) : undefined;
    if (overSuffix) throw new CredmuxError('config', `${path}: /rules/${i}/match: pattern ${JSON.stringify(rule.match)} ${overSuffix}`);
    // What the schema cannot say: endpoints https (http only to loopback, opted in), patterns that parse.
    const problem = sourceProblems(rule.source, pattern)[0];
    if (problem) throw new CredmuxError('config', `${path}: /rules/${i}/source${problem.at}: ${problem.message}`);
    const id = rule.id ?? `rule-${i}`;
    if (seen.has(id)) throw new CredmuxError('config', `${path}: /rules/${i}/id: "${id}" is used twice; give each rule its own id`);
    seen.add(id);
    return compiledRule(rule, id, pattern);
  });
}

/**
 * The rule's fields spelled out, in one order: V8 gives objects made by spreading parsed JSON a
 * hidden class each once the code is optimised, and ten thousand classes make every property read
 * on a rule a slow lookup (and cost megabytes of class metadata).
 */
function compiledRule(rule: RuleConfig, id: string, pattern: Pattern): Rule {
  const out: Rule = { id, match: rule.match, source: rule.source, pattern };
  if (rule.username !== undefined) out.username = rule.username;
  if (rule.kind !== undefined) out.kind = rule.kind;
  if (rule.exports !== undefined) out.exports = rule.exports;
  return out;
}

interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Errors whose keyword alone says nothing useful ("must NOT be valid"), keyed by where in the schema they come from. */
const SCHEMA_HINTS: [RegExp, (at: string) => string][] = [
  [/\/secretRef\/anyOf$/, (at) => `${at}: say where the secret comes from: {"stored": "<URL given to credmux login>"} or {"env": "VAR_NAME"}`],
  [/\/secretRef\/anyOf\/\d+\/required$/, () => ''], // the anyOf line above says it
  [/\/secretRef\/then\/properties\/env\/false schema$/, (at) => `${at}: give either "stored" or "env", not both`],
  [/\/properties\/(secretField|fields)\/false schema$/, (at) => `${at}: only used with "style": "json" or "form"; remove it or set the style`],
  [
    /\/properties\/(audience|scope|requestedTokenType|clientId)\/false schema$/,
    (at) => `${at}: only used with "grant": "token-exchange"; remove it or set the grant`,
  ],
];

/** Turns an ajv error into "<json path>: <what is wrong>; <what to write instead>". */
function describeSchemaError(e: SchemaError): string {
  const at = e.instancePath || '/';
  const hint = SCHEMA_HINTS.find(([re]) => re.test(e.schemaPath));
  if (hint) return hint[1](at);
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at}: unknown key "${String(e.params.additionalProperty)}"; remove it or check its spelling`;
    case 'required':
      return `${at}: missing "${String(e.params.missingProperty)}"; add it`;
    case 'enum':
      return `${at}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at}: must be ${JSON.stringify(e.params.allowedValue)}`;
    case 'type': {
      const t = String(e.params.type);
      return `${at}: must be ${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`;
    }
    case 'if':
      return ''; // ajv reports the failing branch separately; this line adds nothing
    case 'pattern':
      return `${at}: ${JSON.stringify(String(e.params.pattern))} does not match; ${PATTERN_HINTS[String(e.params.pattern)] ?? 'see the schema for the expected form'}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'minItems':
    case 'minLength':
    case 'maxLength':
      return `${at}: ${e.message ?? 'is out of range'}`;
    default:
      return `${at}: ${e.message ?? 'is invalid'}`;
  }
}

/** Plain words for the schema's patterns, so a typo's error says what to write. */
const PATTERN_HINTS: Record<string, string> = {
  '^https?://[^\\s#]+$': 'write an absolute https:// URL without spaces or #fragment',
  '^[A-Za-z_][A-Za-z0-9_]*$': 'write an environment variable name (letters, digits, _)',
  '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+)*$': 'write a field name, or a.b for a nested one',
  '^[A-Za-z0-9_$-]+$': 'write a field name',
  '^(/|~/)': 'write an absolute path (or ~/…)',
  '^[A-Za-z0-9._-]+$': 'use letters, digits, ".", "_" and "-"',
  '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+( [\\x21\\x23-\\x5B\\x5D-\\x7E]+)*$': 'write scopes separated by single spaces (no quotes or backslashes)',
  '^urn:[A-Za-z0-9:._-]+$': 'write a token-type URN, e.g. urn:ietf:params:oauth:token-type:access_token',
};
