// The keyring adapter on its own: argparse's behaviour and messages (pip reads them), the requests,
// and output as Python's print / json.dumps would write it.
import { describe, expect, it } from 'vitest';
import type { Credential, EngineResult, Parsed } from '../../src/model/types.js';
import { keyring, type KeyringCtx } from '../../src/protocols/keyring.js';
import { pyJsonString } from '../../src/protocols/util.js';
import { schema } from '../conformance/contracts.js';

const USAGE =
  'usage: keyring [-h] [-p KEYRING_PATH] [-b KEYRING_BACKEND] [--list-backends] [--disable] ' +
  '[--print-completion {bash,zsh,tcsh}] [--mode {password,creds}] [--output {plain,json}] [operation] [service] [username]\n';

const parse = (argv: string[], stdin: string | Buffer = '') => keyring.parse(argv, typeof stdin === 'string' ? Buffer.from(stdin) : stdin);

function parsed(argv: string[], stdin?: string | Buffer): { request: unknown; ctx: KeyringCtx } {
  const p = parse(argv, stdin);
  expect(p.kind, JSON.stringify(p)).toBe('request');
  return p as Extract<Parsed<KeyringCtx>, { kind: 'request' }>;
}

function argparseError(argv: string[], message: string) {
  expect(parse(argv)).toEqual({ kind: 'reply', output: { stdout: '', stderr: `${USAGE}keyring: error: ${message}\n`, exitCode: 2 } });
}

describe('keyring.parse: argparse', () => {
  it('options anywhere, in every spelling', () => {
    const want = { request: { op: 'get', url: 'svc' }, ctx: { op: 'get', mode: 'creds', output: 'json', service: 'svc' } };
    for (const argv of [
      ['--mode=creds', '--output=json', 'get', 'svc'],
      ['get', 'svc', '--mode', 'creds', '--output', 'json'],
      ['get', '--mode', 'creds', 'svc', '--output=json'],
      ['--mod', 'creds', '--out=json', 'get', 'svc'],
      ['-b', 'x.Keyring', '--keyring-path=/p', '-pfoo', '--mode', 'creds', '--output', 'json', 'get', 'svc'],
      ['--mode', 'creds', '--output', 'json', '--', 'get', 'svc'],
    ]) {
      expect(parse(argv), argv.join(' ')).toMatchObject({ kind: 'request', ...want });
    }
  });

  it('defaults: password mode, plain output', () => {
    expect(parsed(['get', 'svc', 'user'])).toEqual({
      kind: 'request',
      request: { op: 'get', url: 'svc', username: 'user' },
      ctx: { op: 'get', mode: 'password', output: 'plain', service: 'svc', username: 'user' },
    });
  });

  it("argument checks in keyring's order, with its messages", () => {
    argparseError([], 'Specify operation (get, set, del, diagnose).');
    argparseError(['--mode', 'creds'], 'Specify operation (get, set, del, diagnose).');
    argparseError(['get'], 'get requires service and username');
    argparseError(['get', 'svc'], 'get requires service and username');
    argparseError(['--mode', 'creds', 'get'], 'get requires service');
    argparseError(['set', 'svc'], 'set requires service and username');
    argparseError(['del', 'svc'], 'del requires service and username');
    argparseError(['--mode=creds', 'set', 'svc'], 'set requires service and username');
  });

  it('parse errors as argparse words them', () => {
    argparseError(['--frob', 'get', 'svc', 'user'], 'unrecognized arguments: --frob');
    argparseError(['get', 'svc', 'user', 'x', '-z'], 'unrecognized arguments: x -z');
    argparseError(['--mode', 'x', 'get', 'svc'], "argument --mode: invalid choice: 'x' (choose from 'password', 'creds')");
    argparseError(['--output', 'yaml'], "argument --output: invalid choice: 'yaml' (choose from 'plain', 'json')");
    argparseError(['frob'], "argument operation: invalid choice: 'frob' (choose from 'get', 'set', 'del', 'diagnose')");
    argparseError(['get', 'svc', '--mode'], 'argument --mode: expected one argument');
    argparseError(['--mode', '--output', 'json'], 'argument --mode: expected one argument');
    argparseError(['-p'], 'argument -p/--keyring-path: expected one argument');
    argparseError(['--keyring', 'x'], 'ambiguous option: --keyring could match --keyring-path, --keyring-backend');
    argparseError(['--disable=yes'], "argument --disable: ignored explicit argument 'yes'");
  });

  it('a "-" alone and negative numbers are positionals', () => {
    expect(parsed(['get', '-', '-1']).request).toEqual({ op: 'get', url: '-', username: '-1' });
  });

  it('-h prints help and stops, even before an error', () => {
    const p = parse(['-h', '--frob']);
    expect(p).toMatchObject({ kind: 'reply', output: { stderr: '', exitCode: 0 } });
    expect(p.kind === 'reply' && p.output.stdout.startsWith(USAGE)).toBe(true);
  });

  it('--list-backends, diagnose, --disable, --print-completion', () => {
    expect(parse(['--list-backends'])).toEqual({ kind: 'reply', output: { stdout: 'credmux.Keyring (priority: 100)\n', stderr: '', exitCode: 0 } });
    expect(parse(['--list'])).toMatchObject({ kind: 'reply', output: { exitCode: 0 } });
    expect(parse(['diagnose'])).toMatchObject({ kind: 'reply', output: { exitCode: 0, stderr: '' } });
    expect(parse(['--disable'])).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 1 } });
    expect(parse(['--print-completion', 'zsh'])).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 1 } });
  });
});

describe('keyring.parse: set and del', () => {
  it('set: the password from stdin minus exactly one trailing newline (and its CR)', () => {
    for (const [stdin, password] of [
      ['pw\n', 'pw'],
      ['pw\r\n', 'pw'],
      ['pw', 'pw'],
      ['pw\n\n', 'pw\n'],
      ['p w \n', 'p w '],
      ['pässwörd\n', 'pässwörd'],
    ]) {
      expect(parsed(['set', 'svc', 'alice'], stdin).request).toEqual({
        op: 'store',
        url: 'svc',
        credential: { kind: 'basic', username: 'alice', secret: password },
        via: 'keyring',
      });
    }
  });

  it('set: an empty password is refused (keyring would prompt; a terminal gives us no stdin)', () => {
    for (const stdin of ['', '\n', '\r\n']) {
      const p = parse(['set', 'svc', 'alice'], stdin);
      expect(p).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 1 } });
      expect(p.kind === 'reply' && p.output.stderr).toContain('no password on stdin');
    }
  });

  it('set: stdin that is not UTF-8 is refused', () => {
    expect(parse(['set', 'svc', 'alice'], Buffer.from([0x70, 0xff, 0x0a]))).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 1 } });
  });

  it('del: erase that user for that service', () => {
    expect(parsed(['del', 'svc', 'alice']).request).toEqual({ op: 'erase', url: 'svc', username: 'alice' });
  });
});

describe('keyring.format', () => {
  const ctx = (mode: 'password' | 'creds', output: 'plain' | 'json', username?: string): KeyringCtx => ({
    op: 'get',
    mode,
    output,
    service: 'svc',
    ...(username !== undefined ? { username } : {}),
  });
  const got = (credential: Credential | null): EngineResult => ({ op: 'get', credential });
  const alice: Credential = { kind: 'basic', username: 'alice', secret: 's3cret' };
  const outputSchema = schema('keyring', 'creds-output.schema.json');

  it('the four output forms', () => {
    expect(keyring.format(ctx('password', 'plain', 'alice'), got(alice)).stdout).toBe('s3cret\n');
    expect(keyring.format(ctx('creds', 'plain'), got(alice)).stdout).toBe('alice\ns3cret\n');
    expect(keyring.format(ctx('creds', 'json'), got(alice)).stdout).toBe('{"username": "alice", "password": "s3cret"}\n');
    expect(keyring.format(ctx('password', 'json', 'alice'), got(alice)).stdout).toBe('{"password": "s3cret"}\n');
  });

  it('JSON output is valid JSON that the schema accepts, whatever the characters', () => {
    const cred: Credential = { kind: 'bearer', username: 'jürgen "x"', secret: 'p\\ä\n😀\u0000' };
    for (const mode of ['password', 'creds'] as const) {
      const out = keyring.format(ctx(mode, 'json', 'u'), got(cred)).stdout;
      expect(out).toMatch(/^[\x20-\x7e]*\n$/); // ensure_ascii
      const data = JSON.parse(out) as { username?: string; password: string };
      expect(outputSchema(data)).toBe(true);
      expect(data.password).toBe(cred.secret);
      if (mode === 'creds') expect(data.username).toBe(cred.username);
    }
  });

  it('a miss or a Docker identity token: no output, exit 1', () => {
    expect(keyring.format(ctx('password', 'plain', 'alice'), got(null))).toEqual({ stdout: '', stderr: '', exitCode: 1 });
    expect(keyring.format(ctx('creds', 'json'), got({ kind: 'basic', username: '<token>', secret: 'rt' }))).toEqual({
      stdout: '',
      stderr: '',
      exitCode: 1,
    });
  });

  it('a bearer: the token is the password, its username the username', () => {
    expect(keyring.format(ctx('creds', 'plain'), got({ kind: 'bearer', username: '__token__', secret: 'tok' })).stdout).toBe('__token__\ntok\n');
  });

  it('set, del and errors', () => {
    const setCtx: KeyringCtx = { op: 'set', mode: 'password', output: 'plain', service: 'svc', username: 'alice' };
    const delCtx: KeyringCtx = { ...setCtx, op: 'del' };
    expect(keyring.format(setCtx, { op: 'store', stored: true })).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(keyring.format(delCtx, { op: 'erase', removed: 1 })).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    const miss = keyring.format(delCtx, { op: 'erase', removed: 0 });
    expect(miss).toMatchObject({ stdout: '', exitCode: 1 });
    expect(miss.stderr).toContain("not found for 'alice' in 'svc'");
    expect(keyring.format(setCtx, { op: 'error', error: { code: 'store', message: 'locked' } })).toEqual({
      stdout: '',
      stderr: 'keyring: locked\n',
      exitCode: 1,
    });
    expect(keyring.format(setCtx, { op: 'get', credential: null }).exitCode).toBe(1);
  });
});

describe('pyJsonString (json.dumps with ensure_ascii)', () => {
  // Expected values produced by CPython 3 json.dumps.
  it.each([
    ['plain', '"plain"'],
    ['quo"te\\back', '"quo\\"te\\\\back"'],
    ['ctl\n\r\t\b\f\u0001\u001f\u007f', '"ctl\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f"'],
    ['pässwörd✓😀', '"p\\u00e4ssw\\u00f6rd\\u2713\\ud83d\\ude00"'],
    ['\u2028\u2029', '"\\u2028\\u2029"'],
    ['<token>&/', '"<token>&/"'],
    ['', '""'],
  ])('%j', (s, want) => expect(pyJsonString(s)).toBe(want));
});
