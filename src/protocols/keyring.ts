// The Python `keyring` CLI (docs/protocols.md §4), as pip and uv run it: `keyring [options] get SERVICE [USER]`.
// Callers read stdout and the exit code, and pip ≥ 26.2 reads argparse's stderr to tell an outdated
// keyring (`unrecognized arguments`) from a miss, so argument errors follow argparse to the letter.
import {
  IDENTITY_TOKEN_USERNAME,
  type EngineRequest,
  type EngineResult,
  type ProtocolAdapter,
  type ProtocolOutput,
  onlyBazelMessage,
} from '../model/types.js';
import { decodeUtf8, line, output, pyJsonString, reply, unexpectedResult, type Reply } from './util.js';

type Mode = 'password' | 'creds';
type Format = 'plain' | 'json';
const OPERATIONS = ['get', 'set', 'del', 'diagnose'] as const;
type Operation = (typeof OPERATIONS)[number];

export interface KeyringCtx {
  op: 'get' | 'set' | 'del';
  mode: Mode;
  output: Format;
  service: string;
  username?: string;
}

const USAGE =
  'usage: keyring [-h] [-p KEYRING_PATH] [-b KEYRING_BACKEND] [--list-backends] [--disable] ' +
  '[--print-completion {bash,zsh,tcsh}] [--mode {password,creds}] [--output {plain,json}] [operation] [service] [username]\n';

const HELP = `${USAGE}
credmux's keyring shim: answers pip and uv (--keyring-provider subprocess) from credmux.

positional arguments:
  operation             get, set, del or diagnose
  service
  username

options:
  -h, --help            show this help message and exit
  -p, --keyring-path KEYRING_PATH
                        accepted and ignored (credmux is the backend)
  -b, --keyring-backend KEYRING_BACKEND
                        accepted and ignored (credmux is the backend)
  --list-backends       List keyring backends and exit
  --disable             not supported: remove the shim from PATH instead
  --print-completion {bash,zsh,tcsh}
                        not supported
  --mode {password,creds}
                        'password' (default) needs a username and prints the password; 'creds' prints
                        the username and the password
  --output {plain,json}
                        output format for 'get' (default: plain)
`;

const BACKEND = 'credmux.Keyring (priority: 100)';

/** A service as a message may quote it: userinfo (where a password would be) replaced by "***". */
function shown(service: string): string {
  return service.replace(/^((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)[^/?#]*@/, '$1***@');
}

/** argparse's `parser.error`: usage and the message on stderr, exit 2. */
function usageError(message: string) {
  return reply('', `${USAGE}keyring: error: ${message}\n`, 2);
}

/** A failure after parsing (the real CLI shows a traceback and exits 1). */
function failure(message: string): ProtocolOutput {
  return output('', line(`keyring: ${message}`), 1);
}

interface OptionSpec {
  names: readonly string[];
  key: 'help' | 'path' | 'backend' | 'listBackends' | 'disable' | 'completion' | 'mode' | 'output';
  takesValue: boolean;
  choices?: readonly string[];
}

const OPTIONS: readonly OptionSpec[] = [
  { names: ['-h', '--help'], key: 'help', takesValue: false },
  { names: ['-p', '--keyring-path'], key: 'path', takesValue: true },
  { names: ['-b', '--keyring-backend'], key: 'backend', takesValue: true },
  { names: ['--list-backends'], key: 'listBackends', takesValue: false },
  { names: ['--disable'], key: 'disable', takesValue: false },
  { names: ['--print-completion'], key: 'completion', takesValue: true, choices: ['bash', 'zsh', 'tcsh'] },
  { names: ['--mode'], key: 'mode', takesValue: true, choices: ['password', 'creds'] },
  { names: ['--output'], key: 'output', takesValue: true, choices: ['plain', 'json'] },
];

interface Args {
  flags: Set<OptionSpec['key']>;
  mode: Mode;
  output: Format;
  positionals: string[];
}

/** argparse's quoting of a choice list: `'a', 'b'`. */
const choiceList = (choices: readonly string[]) => choices.map((c) => `'${c}'`).join(', ');

/** Looks like an option to argparse: a dash and more, and not a negative number. */
function optionLike(arg: string): boolean {
  return arg.startsWith('-') && arg !== '-' && !/^-\d+$|^-\d*\.\d+$/.test(arg);
}

/**
 * argparse, for this parser: options anywhere, `--opt=value` and `-oVALUE`, unique prefixes of long
 * options, `--` ending options. One leniency: positionals may be split by options
 * (`get --mode creds svc`), which some Python versions' argparse rejects.
 * Returns the parsed arguments or a finished reply (help, or an error).
 */
function parseArgs(argv: readonly string[]): Args | Reply {
  const args: Args = { flags: new Set(), mode: 'password', output: 'plain', positionals: [] };
  const extras: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyPositionals || !optionLike(arg)) {
      if (args.positionals.length === 0 && !(OPERATIONS as readonly string[]).includes(arg)) {
        return usageError(`argument operation: invalid choice: '${arg}' (choose from ${choiceList(OPERATIONS)})`);
      }
      if (args.positionals.length < 3) args.positionals.push(arg);
      else extras.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    const found = findOption(arg);
    if (found === 'unknown') {
      extras.push(arg);
      continue;
    }
    if ('error' in found) return usageError(found.error);
    const { spec, explicit } = found;
    const label = spec.names.join('/');
    let value: string | undefined;
    if (!spec.takesValue) {
      if (explicit !== undefined) return usageError(`argument ${label}: ignored explicit argument '${explicit}'`);
      if (spec.key === 'help') return reply(HELP, '', 0); // argparse acts on -h as soon as it sees it
      args.flags.add(spec.key);
      continue;
    }
    if (explicit !== undefined) value = explicit;
    else if (i + 1 < argv.length && !optionLike(argv[i + 1]!)) value = argv[++i]!;
    else return usageError(`argument ${label}: expected one argument`);
    if (spec.choices && !spec.choices.includes(value)) {
      return usageError(`argument ${label}: invalid choice: '${value}' (choose from ${choiceList(spec.choices)})`);
    }
    if (spec.key === 'mode') args.mode = value as Mode;
    else if (spec.key === 'output') args.output = value as Format;
    else args.flags.add(spec.key); // -p/-b are accepted and ignored: credmux is the backend
  }
  if (extras.length > 0) return usageError(`unrecognized arguments: ${extras.join(' ')}`);
  return args;
}

function findOption(arg: string): { spec: OptionSpec; explicit?: string } | { error: string } | 'unknown' {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const explicit = eq < 0 ? undefined : arg.slice(eq + 1);
    const exact = OPTIONS.find((o) => o.names.includes(name));
    if (exact) return { spec: exact, explicit };
    const longs = OPTIONS.flatMap((o) => o.names.filter((n) => n.startsWith('--') && n.startsWith(name)).map((n) => ({ o, n })));
    if (longs.length === 1) return { spec: longs[0]!.o, explicit };
    if (longs.length > 1) return { error: `ambiguous option: ${arg} could match ${longs.map((l) => l.n).join(', ')}` };
    return 'unknown';
  }
  const spec = OPTIONS.find((o) => o.names.includes(arg.slice(0, 2)));
  if (!spec) return 'unknown';
  if (arg.length === 2) return { spec };
  return { spec, explicit: arg[2] === '=' ? arg.slice(3) : arg.slice(2) };
}

export const keyring: ProtocolAdapter<KeyringCtx> = {
  name: 'keyring',

  parse(argv, stdin) {
    const args = parseArgs(argv);
    if ('kind' in args) return args;
    // The order of keyring's CommandLineTool.run.
    if (args.flags.has('listBackends')) return reply(`${BACKEND}\n`, '', 0);
    if (args.flags.has('disable')) {
      return reply('', 'keyring: --disable is not supported by credmux; to stop pip/uv using it, remove the keyring shim from PATH\n', 1);
    }
    if (args.flags.has('completion')) return reply('', 'keyring: shell completion is not available from credmux\n', 1);
    const [op, service, username] = args.positionals as [Operation | undefined, string | undefined, string | undefined];
    if (op === 'diagnose') {
      return reply(`backend: ${BACKEND}\nconfig path: none (credmux's own config and store: run \`credmux doctor\`)\n`, '', 0);
    }
    if (op === undefined) return usageError(`Specify operation (${OPERATIONS.join(', ')}).`);
    if (op === 'get' && args.mode === 'creds') {
      if (service === undefined) return usageError(`${op} requires service`);
    } else if (service === undefined || username === undefined) {
      return usageError(`${op} requires service and username`);
    }

    // The engine reads a service starting "*." as a wildcard pattern (for `credmux login`); pip and uv
    // name one index, so `set`/`del` from here must never record or remove a pattern.
    if (/^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^/?#]*\*/.test(service)) {
      return {
        kind: 'reply',
        output: failure(`the service ${shown(service)} has "*" in its host name; name one index (use \`credmux login\` for wildcard patterns)`),
      };
    }
    const ctx: KeyringCtx = { op, mode: args.mode, output: args.output, service };
    if (username !== undefined) ctx.username = username;
    let request: EngineRequest;
    if (op === 'get') {
      request = username === undefined ? { op: 'get', url: service } : { op: 'get', url: service, username };
    } else if (op === 'del') {
      request = { op: 'erase', url: service, username: username! };
    } else {
      const text = decodeUtf8(stdin);
      if (text === undefined) return { kind: 'reply', output: failure('the password on stdin is not valid UTF-8') };
      // keyring strips exactly one trailing newline; pip writes os.linesep, so on Windows also the CR.
      const password = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
      // keyring runs `pass_from_pipe() or getpass()`: an empty password means "prompt". We cannot prompt
      // (and a terminal gives us no stdin at all), so say how to pass it instead of storing "".
      if (password === '') {
        return {
          kind: 'reply',
          output: failure(`no password on stdin; pipe it in, e.g. printf '%s\\n' "$PASSWORD" | keyring set ${shown(service)} ${username!}`),
        };
      }
      request = { op: 'store', url: service, credential: { kind: 'basic', username: username!, secret: password }, via: 'keyring' };
    }
    return { kind: 'request', request, ctx };
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') return failure(result.error.message);
    const expected = ctx.op === 'get' ? 'get' : ctx.op === 'set' ? 'store' : 'erase';
    if (result.op !== expected) return failure(unexpectedResult(result));
    if (result.op === 'store') return output('', '', 0);
    if (result.op === 'erase') {
      return result.removed > 0 ? output('', '', 0) : failure(`Password not found for '${ctx.username ?? ''}' in '${shown(ctx.service)}'`);
    }
    if (result.op !== 'get') return failure(unexpectedResult(result));
    const cred = result.credential;
    // A miss is exit 1 and no output. A Docker identity token is no password for a package index.
    if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) return output('', '', 1);
    if (cred.headers) return failure(onlyBazelMessage(result));
    // A bearer token is presented as the password, with the username the engine gave it (`__token__`…).
    if (ctx.output === 'json') {
      const fields = ctx.mode === 'creds' ? `{"username": ${pyJsonString(cred.username)}, "password": ` : '{"password": ';
      return output(`${fields}${pyJsonString(cred.secret)}}\n`, '', 0);
    }
    return output(ctx.mode === 'creds' ? `${cred.username}\n${cred.secret}\n` : `${cred.secret}\n`, '', 0);
  },
};
