// The Bazel adapter on its own: parse and format, no engine. The conformance vectors run the same
// adapter end to end; these pin the details a vector cannot see (the exact request, edge inputs).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Credential, EngineResult } from '../../src/model/types.js';
import { bazel } from '../../src/protocols/bazel.js';
import { rfc3339Seconds } from '../../src/protocols/util.js';
import { schema } from '../conformance/contracts.js';

const parse = (stdin: string | Buffer, argv: string[] = ['get']) => bazel.parse(argv, typeof stdin === 'string' ? Buffer.from(stdin) : stdin);
const got = (credential: Credential | null): EngineResult => ({ op: 'get', credential });
const format = (result: EngineResult) => bazel.format({}, result);
const responseSchema = schema('bazel', 'get-response.schema.json');

describe('bazel.parse', () => {
  it('asks the engine for the uri, decoded by a real JSON parser', () => {
    expect(parse('{"uri":"https://h/p?a\\u003db\\u0026c\\u003dd"}')).toEqual({
      kind: 'request',
      request: { op: 'get', url: 'https://h/p?a=b&c=d' },
      ctx: {},
    });
  });

  it('ignores extra fields and extra parameters, and keeps userinfo in the URL for the engine to filter', () => {
    const p = parse('{"foo":1,"uri":"https://user@example.com/x","headers":{}}', ['get', '--future-flag']);
    expect(p).toMatchObject({ kind: 'request', request: { op: 'get', url: 'https://user@example.com/x' } });
  });

  it('accepts stdin without a trailing newline and with surrounding whitespace', () => {
    expect(parse('\n {"uri":"https://example.com"} \n')).toMatchObject({ kind: 'request' });
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['', 'no request on stdin'],
    ['   \n', 'no request on stdin'],
    ['[]', 'must be a JSON object'],
    ['null', 'must be a JSON object'],
    ['"https://example.com"', 'must be a JSON object'],
    ['{}', 'no "uri" field'],
    ['{"url":"https://example.com"}', 'no "uri" field'],
    ['{"__proto__":{"uri":"https://example.com"}}', 'no "uri" field'],
    ['{"uri":42}', '"uri" must be a string'],
    ['{"uri":["https://example.com"]}', '"uri" must be a string'],
    ['{"uri":""}', '"uri" is empty'],
  ])('refuses %j: exit 2, message on stderr, nothing on stdout', (stdin, message) => {
    const p = parse(stdin);
    expect(p.kind).toBe('reply');
    if (p.kind !== 'reply') return;
    expect(p.output.exitCode).toBe(2);
    expect(p.output.stdout).toBe('');
    expect(p.output.stderr).toMatch(/^credmux-bazel: /);
    expect(p.output.stderr).toContain(message);
    expect(p.output.stderr.endsWith('\n')).toBe(true);
  });

  it('never echoes the input in a JSON error (it may hold a secret)', () => {
    const p = parse('{"uri":"https://u:hunter22@example.com"');
    expect(p.kind === 'reply' && p.output.stderr).not.toContain('hunter22');
  });

  it('refuses bytes that are not UTF-8 instead of replacing them', () => {
    const p = parse(Buffer.from([...Buffer.from('{"uri":"https://example.com/'), 0xff, ...Buffer.from('"}')]));
    expect(p).toMatchObject({ kind: 'reply', output: { exitCode: 2, stdout: '' } });
    expect(p.kind === 'reply' && p.output.stderr).toContain('not valid UTF-8');
  });

  it('no command: usage on stderr and a failure exit; unknown command: exit 2', () => {
    const none = parse('', []);
    expect(none).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 2 } });
    expect(none.kind === 'reply' && none.output.stderr).toContain('Usage: credmux-bazel get');
    const unknown = parse('{"uri":"https://example.com"}', ['frobnicate']);
    expect(unknown).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 2 } });
    expect(unknown.kind === 'reply' && unknown.output.stderr).toContain('unknown command "frobnicate"');
  });

  it('help and version for humans exit 0', () => {
    expect(parse('', ['--help'])).toMatchObject({ kind: 'reply', output: { exitCode: 0, stderr: '' } });
    const v = parse('', ['version']);
    expect(v.kind === 'reply' && v.output.stdout).toMatch(/^credmux-bazel \S+\n$/);
  });
});

describe('bazel.format', () => {
  it('nothing found: still a JSON object, exit 0', () => {
    expect(format(got(null))).toEqual({ stdout: '{"headers":{}}\n', stderr: '', exitCode: 0 });
  });

  it('basic: Authorization Basic base64(user:pass) as a one-element array', () => {
    const out = format(got({ kind: 'basic', username: 'testuser', secret: 'testpass' }));
    expect(out).toEqual({ stdout: '{"headers":{"Authorization":["Basic dGVzdHVzZXI6dGVzdHBhc3M="]}}\n', stderr: '', exitCode: 0 });
  });

  it('basic with non-ASCII and ":" in the password encodes UTF-8', () => {
    const out = format(got({ kind: 'basic', username: 'jürgen', secret: 'a:b' }));
    const header = (JSON.parse(out.stdout) as { headers: { Authorization: string[] } }).headers.Authorization[0]!;
    expect(Buffer.from(header.replace('Basic ', ''), 'base64').toString('utf8')).toBe('jürgen:a:b');
  });

  it('bearer with an expiry: whole seconds, UTC, Z', () => {
    const out = format(got({ kind: 'bearer', username: '__token__', secret: 'T', expiresAt: 1893456000.75 }));
    expect(out.stdout).toBe('{"headers":{"Authorization":["Bearer T"]},"expires":"2030-01-01T00:00:00Z"}\n');
    expect(responseSchema(JSON.parse(out.stdout))).toBe(true);
  });

  it("an expiry that RFC 3339 cannot spell with four digits is left out (cache per Bazel's default)", () => {
    const out = format(got({ kind: 'bearer', username: '', secret: 'T', expiresAt: 1e15 }));
    expect(out.stdout).toBe('{"headers":{"Authorization":["Bearer T"]}}\n');
  });

  it('a Docker identity token is not an HTTP credential', () => {
    expect(format(got({ kind: 'basic', username: '<token>', secret: 'rt' })).stdout).toBe('{"headers":{}}\n');
  });

  it('a bearer token with a line break is refused rather than split into a header', () => {
    const out = format(got({ kind: 'bearer', username: '', secret: 'abc\r\nX-Evil: 1' }));
    expect(out.stdout).toBe('');
    expect(out.exitCode).toBe(1);
    expect(out.stderr).not.toContain('abc');
  });

  it('engine errors: stderr, exit 1, stdout empty', () => {
    const out = format({ op: 'error', error: { code: 'source', message: 'env var X is not set' } });
    expect(out).toEqual({ stdout: '', stderr: 'credmux-bazel: env var X is not set\n', exitCode: 1 });
  });

  it('a result for another operation is an internal error, not an answer', () => {
    expect(format({ op: 'list', entries: [] })).toMatchObject({ stdout: '', exitCode: 1 });
  });

  it('every credential gives a response the schema (and so Bazel) accepts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'basic' | 'bearer'>('basic', 'bearer'),
        fc.string({ unit: 'grapheme' }),
        fc.string({ unit: 'grapheme' }),
        fc.option(fc.integer({ min: 0, max: 253402300799 }), { nil: undefined }),
        (kind, username, secret, expiresAt) => {
          const cred: Credential = { kind, username, secret };
          if (expiresAt !== undefined) cred.expiresAt = expiresAt;
          const out = format(got(cred));
          if (out.exitCode !== 0) {
            // Only a bearer with control characters is refused.
            expect(kind === 'bearer' && /[\u0000-\u001f\u007f]/.test(secret)).toBe(true);
            return;
          }
          expect(out.stdout.endsWith('}\n')).toBe(true);
          const body = JSON.parse(out.stdout) as { expires?: string };
          expect(responseSchema(body)).toBe(true);
          if (expiresAt !== undefined && username !== '<token>') expect(Date.parse(body.expires!) / 1000).toBe(expiresAt);
        },
      ),
    );
  });
});

describe('rfc3339Seconds', () => {
  it.each([
    [0, '1970-01-01T00:00:00Z'],
    [23456789, '1970-09-29T11:46:29Z'],
    [253402300799, '9999-12-31T23:59:59Z'],
  ])('%d → %s', (s, text) => expect(rfc3339Seconds(s)).toBe(text));

  it.each([-1, 253402300800, Number.NaN, Number.POSITIVE_INFINITY])('%d → undefined', (s) => expect(rfc3339Seconds(s)).toBeUndefined());
});
