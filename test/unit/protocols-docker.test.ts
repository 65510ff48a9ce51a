// The Docker adapter on its own: argv handling as credentials.Serve, server-URL normalisation,
// Go-like decoding of `store`, and the `list` keys docker CLI will ask `get` for.
import { describe, expect, it } from 'vitest';
import type { Credential, EngineResult, ListedEntry } from '../../src/model/types.js';
import { docker, type DockerCtx } from '../../src/protocols/docker.js';
import { schema } from '../conformance/contracts.js';

const parse = (argv: string[], stdin: string | Buffer = '') => docker.parse(argv, typeof stdin === 'string' ? Buffer.from(stdin) : stdin);
const USAGE = 'Usage: docker-credential-credmux <store|get|erase|list|version>\n';
const NOT_FOUND = 'credentials not found in native keychain\n';

function requestOf(argv: string[], stdin: string) {
  const p = parse(argv, stdin);
  expect(p.kind, JSON.stringify(p)).toBe('request');
  return p.kind === 'request' ? p.request : undefined;
}

function errorOf(argv: string[], stdin: string | Buffer): string {
  const p = parse(argv, stdin);
  expect(p.kind).toBe('reply');
  if (p.kind !== 'reply') return '';
  expect(p.output.exitCode).toBe(1);
  expect(p.output.stderr).toBe(''); // docker-credential-helpers print every error on stdout
  return p.output.stdout;
}

describe('docker.parse: argv', () => {
  it('not exactly one argument: usage on stdout, exit 1', () => {
    expect(parse([])).toEqual({ kind: 'reply', output: { stdout: USAGE, stderr: '', exitCode: 1 } });
    expect(parse(['get', 'extra'], 'ghcr.io')).toEqual({ kind: 'reply', output: { stdout: USAGE, stderr: '', exitCode: 1 } });
  });

  it('--help/-h: usage, exit 0; version/--version/-v: name (package) version', () => {
    for (const a of ['--help', '-h']) expect(parse([a])).toEqual({ kind: 'reply', output: { stdout: USAGE, stderr: '', exitCode: 0 } });
    for (const a of ['version', '--version', '-v']) {
      const p = parse([a]);
      expect(p.kind === 'reply' && p.output.stdout).toMatch(/^docker-credential-credmux \(github\.com\/credmux\/credmux\) \S+\n$/);
    }
  });

  it('unknown action', () => {
    expect(errorOf(['frob'], '')).toBe('docker-credential-credmux: unknown action: frob\n');
  });
});

describe('docker.parse: get and erase', () => {
  it('TrimSpaces the server URL and asks for host[:port]; the reply echoes what was asked', () => {
    expect(parse(['get'], '  ghcr.io\n')).toEqual({
      kind: 'request',
      request: { op: 'get', url: 'ghcr.io' },
      ctx: { action: 'get', serverURL: 'ghcr.io' },
    });
    expect(requestOf(['get'], 'https://registry.example.com:5000/v2/')).toEqual({ op: 'get', url: 'registry.example.com:5000' });
    expect(requestOf(['get'], 'http://127.0.0.1:5000')).toEqual({ op: 'get', url: '127.0.0.1:5000' });
    expect(requestOf(['get'], '[::1]:5000')).toEqual({ op: 'get', url: '[::1]:5000' });
  });

  it('every Docker Hub alias asks for the same URL', () => {
    for (const alias of [
      'https://index.docker.io/v1/',
      'https://index.docker.io/v1',
      'index.docker.io',
      'docker.io',
      'Docker.IO',
      'https://docker.io',
      'registry-1.docker.io',
      'https://registry-1.docker.io/v2/',
    ]) {
      expect(requestOf(['get'], alias)).toEqual({ op: 'get', url: 'https://index.docker.io' });
    }
    expect(requestOf(['get'], 'notdocker.io')).toEqual({ op: 'get', url: 'notdocker.io' });
  });

  it('erase: every username for the server', () => {
    expect(requestOf(['erase'], 'ghcr.io')).toEqual({ op: 'erase', url: 'ghcr.io' });
    expect(requestOf(['erase'], 'docker.io')).toEqual({ op: 'erase', url: 'https://index.docker.io' });
  });

  it('empty, blank, inner whitespace, or non-UTF-8 input', () => {
    for (const action of ['get', 'erase']) {
      expect(errorOf([action], '')).toBe('no credentials server URL\n');
      expect(errorOf([action], ' \n\t')).toBe('no credentials server URL\n');
      expect(errorOf([action], 'ghcr.io\nquay.io')).toContain('whitespace or control');
      expect(errorOf([action], Buffer.from([0x67, 0xff]))).toContain('not valid UTF-8');
    }
  });

  it('list ignores stdin', () => {
    expect(parse(['list'], 'unused')).toEqual({ kind: 'request', request: { op: 'list' }, ctx: { action: 'list' } });
  });
});

describe('docker.parse: store', () => {
  const creds = (o: object) => `${JSON.stringify(o)}\n`;

  it('stores basic credentials for host[:port], Docker Hub under one URL, <token> kept', () => {
    expect(requestOf(['store'], creds({ ServerURL: 'ghcr.io', Username: 'u', Secret: 's' }))).toEqual({
      op: 'store',
      url: 'ghcr.io',
      credential: { kind: 'basic', username: 'u', secret: 's' },
      via: 'docker', // the entry is for docker's tools: credmux setup docker wires its host
    });
    expect(requestOf(['store'], creds({ ServerURL: 'https://index.docker.io/v1/', Username: '<token>', Secret: 'rt' }))).toEqual({
      op: 'store',
      url: 'https://index.docker.io',
      credential: { kind: 'basic', username: '<token>', secret: 'rt' },
      via: 'docker',
    });
    expect(requestOf(['store'], creds({ ServerURL: 'https://r.example.com:5000/v2/', Username: 'u', Secret: '' }))).toMatchObject({
      url: 'r.example.com:5000',
    });
  });

  it('decodes like Go: field names in any case, unknown fields ignored, null leaves a field empty', () => {
    expect(requestOf(['store'], '{"serverURL":"ghcr.io","username":"u","SECRET":"s","Email":"x"}')).toMatchObject({
      credential: { username: 'u', secret: 's' },
    });
    expect(requestOf(['store'], '{"ServerURL":"ghcr.io","Username":"u","Secret":null}')).toMatchObject({ credential: { secret: '' } });
    expect(errorOf(['store'], '{"ServerURL":"ghcr.io","Username":null,"Secret":"s"}')).toBe('no credentials username\n');
  });

  it('refuses two spellings of one field', () => {
    expect(errorOf(['store'], '{"ServerURL":"a.io","serverurl":"b.io","Username":"u","Secret":"s"}')).toContain('"ServerURL" twice');
  });

  it('validation messages as docker-credential-helpers', () => {
    expect(errorOf(['store'], creds({ ServerURL: '', Username: 'u', Secret: 's' }))).toBe('no credentials server URL\n');
    expect(errorOf(['store'], creds({ Username: 'u', Secret: 's' }))).toBe('no credentials server URL\n');
    expect(errorOf(['store'], creds({ ServerURL: 'x.io', Username: '', Secret: 's' }))).toBe('no credentials username\n');
  });

  it('bad JSON: a clear message, and never the secret', () => {
    const out = errorOf(['store'], '{"ServerURL":"x.io","Username":"u","Secret":"hunter22"');
    expect(out).toContain('not valid JSON');
    expect(out).not.toContain('hunter22');
    expect(errorOf(['store'], '[1]')).toContain('not a JSON object');
    expect(errorOf(['store'], '{"ServerURL":"x.io","Username":"u","Secret":{"v":"hunter22"}}')).toContain('"Secret" must be a string');
    expect(errorOf(['store'], Buffer.from([0x7b, 0xff, 0x7d]))).toContain('not valid UTF-8');
  });

  it('a "__proto__" key is just an unknown field', () => {
    expect(errorOf(['store'], '{"__proto__":{"ServerURL":"x.io","Username":"u"},"Secret":"s"}')).toBe('no credentials server URL\n');
  });
});

describe('docker.format', () => {
  const getCtx = (serverURL: string): DockerCtx => ({ action: 'get', serverURL });
  const got = (credential: Credential | null): EngineResult => ({ op: 'get', credential });
  const getSchema = schema('docker', 'get-response.schema.json');
  const listSchema = schema('docker', 'list-response.schema.json');

  it('get: ServerURL as asked, Username, Secret; <token> as is; bearer via its username', () => {
    const out = docker.format(getCtx('docker.io'), got({ kind: 'basic', username: '<token>', secret: 'rt' }));
    expect(out).toEqual({ stdout: '{"ServerURL":"docker.io","Username":"<token>","Secret":"rt"}\n', stderr: '', exitCode: 0 });
    expect(getSchema(JSON.parse(out.stdout))).toBe(true);
    expect(docker.format(getCtx('ghcr.io'), got({ kind: 'bearer', username: '__token__', secret: 't"\n' })).stdout).toBe(
      '{"ServerURL":"ghcr.io","Username":"__token__","Secret":"t\\"\\n"}\n',
    );
  });

  it('get miss: the exact not-found text on stdout, exit 1', () => {
    expect(docker.format(getCtx('quay.io'), got(null))).toEqual({ stdout: NOT_FOUND, stderr: '', exitCode: 1 });
  });

  it('engine errors go to stdout, exit 1, and are never the not-found text', () => {
    const out = docker.format(getCtx('x'), { op: 'error', error: { code: 'store', message: 'keychain locked' } });
    expect(out).toEqual({ stdout: 'credmux: keychain locked\n', stderr: '', exitCode: 1 });
    expect(docker.format({ action: 'store' }, { op: 'get', credential: null }).exitCode).toBe(1);
  });

  it('store: silent success, also when the engine had it already; erase of nothing: not found', () => {
    expect(docker.format({ action: 'store' }, { op: 'store', stored: false })).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(docker.format({ action: 'erase' }, { op: 'erase', removed: 2 })).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(docker.format({ action: 'erase' }, { op: 'erase', removed: 0 })).toEqual({ stdout: NOT_FOUND, stderr: '', exitCode: 1 });
  });

  it('list: keys get answers for, sorted; paths, wildcards and later duplicates skipped', () => {
    const e = (url: string, username: string): ListedEntry => ({ url, username, kind: 'basic' });
    const out = docker.format(
      { action: 'list' },
      {
        op: 'list',
        entries: [
          e('https://index.docker.io', '<token>'),
          e('https://registry-1.docker.io', 'other-hub-user'),
          e('https://quay.io', 'q'),
          e('https://ghcr.io', 'u'),
          e('https://ghcr.io', 'second'),
          e('http://127.0.0.1:5000', 'local'),
          e('https://[::1]:5001', 'v6'),
          e('https://pypi.example.com/simple', 'alice'),
          e('https://*.example.com', 'wild'),
        ],
      },
    );
    expect(out.stdout).toBe('{"127.0.0.1:5000":"local","[::1]:5001":"v6","ghcr.io":"u","https://index.docker.io/v1/":"<token>","quay.io":"q"}\n');
    expect(listSchema(JSON.parse(out.stdout))).toBe(true);
    expect(docker.format({ action: 'list' }, { op: 'list', entries: [] }).stdout).toBe('{}\n');
  });
});
