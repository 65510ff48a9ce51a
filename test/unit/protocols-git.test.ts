// The git adapter on its own: the reader's refusals (CR/NUL smuggling, duplicates, missing fields,
// hosts that would move the authority), the requests it builds, and the lines it writes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Credential, EngineResult, Parsed } from '../../src/model/types.js';
import { git, type GitCtx } from '../../src/protocols/git.js';
import { parseRequest } from '../../src/model/url.js';

const parse = (op: string | string[], stdin: string | Buffer) =>
  git.parse(typeof op === 'string' ? [op] : op, typeof stdin === 'string' ? Buffer.from(stdin) : stdin);
const got = (credential: Credential | null): EngineResult => ({ op: 'get', credential });
const ctx = (authtype = false, op: GitCtx['op'] = 'get'): GitCtx => ({ op, authtype });

function request(p: Parsed<GitCtx>) {
  expect(p.kind, JSON.stringify(p)).toBe('request');
  return p.kind === 'request' ? p.request : undefined;
}

/** Refused: empty stdout, exit 0; `why` (if given) on stderr. */
function expectIgnored(p: Parsed<GitCtx>, why?: string) {
  expect(p.kind).toBe('reply');
  if (p.kind !== 'reply') return;
  expect(p.output.stdout).toBe('');
  expect(p.output.exitCode).toBe(0);
  if (why !== undefined) expect(p.output.stderr).toContain(why);
}

describe('git.parse: operations', () => {
  it('capability answers by itself', () => {
    expect(parse('capability', '')).toEqual({ kind: 'reply', output: { stdout: 'version 0\ncapability authtype\n', stderr: '', exitCode: 0 } });
  });

  it('unknown operations are ignored silently', () => {
    for (const op of ['frobnicate', 'approve', 'fill', 'GET']) {
      expect(parse(op, 'protocol=https\nhost=example.com\n')).toEqual({ kind: 'reply', output: { stdout: '', stderr: '', exitCode: 0 } });
    }
  });

  it('the operation is the last argument (git appends it after the configured ones)', () => {
    expect(request(parse(['--x', 'y', 'get'], 'protocol=https\nhost=example.com\n'))).toEqual({ op: 'get', url: 'https://example.com' });
  });

  it('no arguments: usage on stderr, exit 2; --help: usage on stdout, exit 0', () => {
    expect(git.parse([], Buffer.alloc(0))).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 2 } });
    expect(parse('--help', '')).toMatchObject({ kind: 'reply', output: { exitCode: 0, stderr: '' } });
  });
});

describe('git.parse: the reader', () => {
  it('builds protocol://host[/path] and passes the username as a filter', () => {
    expect(request(parse('get', 'protocol=https\nhost=example.com:8443\npath=org/repo.git\nusername=bob\n\n'))).toEqual({
      op: 'get',
      url: 'https://example.com:8443/org/repo.git',
      username: 'bob',
    });
  });

  it('treats path as text git already decoded: escapes are escaped again, never decoded a second time', () => {
    // The remote said other/%252e%252e/team/x: a path inside other/, which must not read as /team/x.
    expect(request(parse('get', 'protocol=https\nhost=h.example\npath=other/%2e%2e/team/x\n'))).toEqual({
      op: 'get',
      url: 'https://h.example/other/%252e%252e/team/x',
    });
    expect(parseRequest('https://h.example/other/%252e%252e/team/x').path).toBe('/other/%252e%252e/team/x');
    expect(request(parse('get', 'protocol=https\nhost=h.example\npath=a?b#c\\d e%2fx\n'))).toEqual({
      op: 'get',
      url: 'https://h.example/a%3Fb%23c%5Cd%20e%252fx',
    });
    // The url= form is decoded as git decodes it, then handled the same way.
    expect(request(parse('get', 'url=https://h.example/other/%252e%252e/team/x\n'))).toEqual({
      op: 'get',
      url: 'https://h.example/other/%252e%252e/team/x',
    });
  });

  it('refuses a path with a "." or ".." segment after git decoded it (whether it climbs is up to the server)', () => {
    for (const path of ['other/../team/x', '..', 'a/./b', 'a/.', './a']) {
      expectIgnored(parse('get', `protocol=https\nhost=h.example\npath=${path}\n`), 'the path field has a "." or ".." segment');
    }
    expectIgnored(parse('get', 'url=https://h.example/other/%2e%2e/team\n'), 'the path field has a "." or ".." segment');
    // Dots that are not a whole segment are ordinary characters.
    expect(request(parse('get', 'protocol=https\nhost=h.example\npath=a/..b/.c/repo.git\n'))).toEqual({
      op: 'get',
      url: 'https://h.example/a/..b/.c/repo.git',
    });
  });

  it('property: decoding the parsed path once gives back exactly the segments git sent', () => {
    const char = fc.constantFrom(
      'a',
      'Z',
      '0',
      '%',
      '2',
      'e',
      'E',
      'f',
      '.',
      '?',
      '#',
      '\\',
      ' ',
      '+',
      '@',
      ':',
      ';',
      '=',
      '&',
      '"',
      '<',
      '>',
      '^',
      '`',
      '{',
      '}',
      '|',
      '~',
      '*',
      'é',
      '€',
      '💡',
      '[',
      ']',
      '\u00a0',
      '\u3000',
    );
    const segment = fc.string({ unit: char, maxLength: 6 }).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const path = segments.join('/');
        fc.pre(path !== '');
        const req = request(parse('get', `protocol=https\nhost=h.example\npath=${path}\n`));
        const parsed = parseRequest((req as { url: string }).url);
        expect(parsed.host).toBe('h.example');
        const back = parsed.path
          .slice(1)
          .split('/')
          .map((s) => decodeURIComponent(s.replaceAll('%2A', '*')));
        expect(back).toEqual(segments);
      }),
      { numRuns: 2000 },
    );
  });

  it('passes an empty username as a filter too (it is a value, not an absence)', () => {
    expect(request(parse('get', 'protocol=https\nhost=example.com\nusername=\n'))).toEqual({ op: 'get', url: 'https://example.com', username: '' });
  });

  it('accepts CRLF, EOF without a blank line, and a last line without newline', () => {
    for (const stdin of ['protocol=https\r\nhost=example.com\r\n\r\n', 'protocol=https\nhost=example.com\n', 'protocol=https\nhost=example.com']) {
      expect(request(parse('get', stdin))).toEqual({ op: 'get', url: 'https://example.com' });
    }
  });

  it('stops at a blank line and at a line without "="', () => {
    expectIgnored(parse('get', 'protocol=https\n\nhost=example.com\n'), 'lacks the protocol or host');
    expectIgnored(parse('get', 'protocol=https\njunk\nhost=example.com\n'), 'lacks the protocol or host');
  });

  it('ignores attributes it does not use, including wwwauth[] values that contain "host="', () => {
    const stdin = `protocol=https\nhost=example.com\nwwwauth[]=Basic realm="${'x'.repeat(70000)}host=victim.com"\nstate[]=x\nfuture=1\n\n`;
    expect(request(parse('get', stdin))).toEqual({ op: 'get', url: 'https://example.com' });
  });

  it('lower-cases the protocol; only http and https are ours', () => {
    expect(request(parse('get', 'protocol=HTTPS\nhost=example.com\n'))).toEqual({ op: 'get', url: 'https://example.com' });
    expect(request(parse('get', 'protocol=http\nhost=example.com\n'))).toEqual({ op: 'get', url: 'http://example.com' });
    for (const protocol of ['cert', 'ssh', 'git', 'file', 'smtp']) {
      expect(parse('get', `protocol=${protocol}\nhost=example.com\n`)).toEqual({ kind: 'reply', output: { stdout: '', stderr: '', exitCode: 0 } });
    }
  });

  it.each([
    ['protocol=https\nhost=evil.com\rhost=victim.com\n\n', 'carriage return'],
    ['protocol=https\rhost=victim.com\nhost=evil.com\n\n', 'carriage return'],
    ['protocol=https\nhost=example.com\r\r\n\n', 'carriage return'],
    ['protocol=https\nhost=evil.com\0host=victim.com\n\n', 'NUL'],
    ['protocol=https\nhost=evil.com\nhost=victim.com\n\n', 'host field is given twice'],
    ['protocol=https\nprotocol=http\nhost=example.com\n\n', 'protocol field is given twice'],
    ['protocol=https\nhost=example.com\nusername=a\nusername=b\n\n', 'username field is given twice'],
    ['host=example.com\n\n', 'lacks the protocol or host'],
    ['protocol=https\n\n', 'lacks the protocol or host'],
    ['', 'lacks the protocol or host'],
    ['protocol=https\nhost=\n\n', 'host field is empty'],
    ['protocol=https\nhost=evil.com@victim.com\n\n', 'characters a host name cannot have'],
    ['protocol=https\nhost=victim.com/x\n\n', 'characters a host name cannot have'],
    ['protocol=https\nhost=evil.com\\@victim.com\n\n', 'characters a host name cannot have'],
    ['protocol=https\nhost=victim.com%2fx\n\n', 'characters a host name cannot have'],
    ['protocol=https\nhost=victim.com?x\n\n', 'characters a host name cannot have'],
    ['protocol=https\nhost=victim.com#x\n\n', 'characters a host name cannot have'],
    ['protocol=https\nhost=victim.com x\n\n', 'characters a host name cannot have'],
    ['protocol=https\nhost=victim.com\tx\n\n', 'characters a host name cannot have'],
  ])('refuses %j', (stdin, why) => {
    for (const op of ['get', 'store', 'erase']) expectIgnored(parse(op, `${stdin}username=u\npassword=p\n`), why);
  });

  it('refuses input that is not UTF-8', () => {
    expectIgnored(parse('get', Buffer.from([...Buffer.from('protocol=https\nhost=example.com\nusername='), 0xc3, 0x28, 0x0a])), 'not valid UTF-8');
  });

  it('never quotes a value in its refusals', () => {
    const p = parse('store', 'protocol=https\nhost=a\rb\nusername=u\npassword=hunter22\n');
    expect(p.kind === 'reply' && p.output.stderr).not.toContain('hunter22');
  });

  it('a host that survives the reader cannot carry userinfo or a path into the URL', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            'a',
            'b',
            '.',
            ':',
            '1',
            '@',
            '/',
            '\\',
            '?',
            '#',
            '%',
            '2',
            'f',
            '4',
            '0',
            ' ',
            '\r',
            '\n',
            '\0',
            '\t',
            '[',
            ']',
            'é',
          ),
        }),
        (host) => {
          const p = parse('get', `protocol=https\nhost=${host}\n\n`);
          if (p.kind !== 'request' || p.request.op !== 'get') return;
          let url: URL;
          try {
            url = new URL(p.request.url);
          } catch {
            return; // the engine refuses what does not parse
          }
          expect(url.username).toBe('');
          expect(url.password).toBe('');
          expect(url.pathname).toBe('/');
          expect(url.search + url.hash).toBe('');
        },
      ),
    );
  });
});

describe('git.parse: url=', () => {
  it('is split like credential_from_url, percent-decoded, trailing slashes dropped', () => {
    expect(request(parse('get', 'url=https://bob@example.com/org/repo.git/\n'))).toEqual({
      op: 'get',
      url: 'https://example.com/org/repo.git',
      username: 'bob',
    });
    expect(request(parse('get', 'url=https://b%40b@example.com\n'))).toEqual({ op: 'get', url: 'https://example.com', username: 'b@b' });
    expect(request(parse('get', 'url=https://example.com\n'))).toEqual({ op: 'get', url: 'https://example.com' });
  });

  it('carries user:password into erase', () => {
    expect(request(parse('erase', 'url=https://bob:pw@example.com\n'))).toEqual({
      op: 'erase',
      url: 'https://example.com',
      username: 'bob',
      secret: 'pw',
    });
  });

  it('refuses a decoded host that would move the authority, a decoded line break, no scheme, and conflicts', () => {
    expectIgnored(parse('get', 'url=https://evil.com%40victim.com/\n'), 'characters a host name cannot have');
    expectIgnored(parse('get', 'url=https://a@evil.com@victim.com/\n'), 'characters a host name cannot have');
    expectIgnored(parse('get', 'url=https://example.com/%0ahost=victim.com\n'), 'url field');
    expectIgnored(parse('get', 'url=example.com\n'), 'url field');
    expectIgnored(parse('get', 'url=https://evil.com\nhost=victim.com\n'), 'host field is given twice');
    expectIgnored(parse('get', 'protocol=https\nurl=https://evil.com\n'), 'protocol field is given twice');
  });
});

describe('git.parse: store and erase', () => {
  const base = 'protocol=https\nhost=example.com\n';

  it('store: username/password, empty values legal, expiry and refresh token kept', () => {
    expect(request(parse('store', `${base}username=\npassword=\n`))).toEqual({
      op: 'store',
      url: 'https://example.com',
      credential: { kind: 'basic', username: '', secret: '' },
      via: 'git', // the entry is for git: credmux setup git wires its host
    });
    expect(request(parse('store', `${base}username=u\npassword=p\npassword_expiry_utc=9999999999\noauth_refresh_token=xyzzy\n`))).toEqual({
      op: 'store',
      url: 'https://example.com',
      credential: { kind: 'basic', username: 'u', secret: 'p', expiresAt: 9999999999, oauthRefreshToken: 'xyzzy' },
      via: 'git',
    });
  });

  it('store: an expiry of 0 or garbage means "never"', () => {
    for (const v of ['0', '', 'soon', '-5', '1e9']) {
      const r = request(parse('store', `${base}username=u\npassword=p\npassword_expiry_utc=${v}\n`));
      expect(r?.op === 'store' && r.credential.expiresAt).toBeUndefined();
    }
  });

  it('store: a bearer needs the capability; without it, authtype/credential are ignored', () => {
    const bearer = 'authtype=Bearer\ncredential=tok\n';
    expect(request(parse('store', `capability[]=authtype\n${bearer}${base}`))).toEqual({
      op: 'store',
      url: 'https://example.com',
      credential: { kind: 'bearer', username: '', secret: 'tok' },
      via: 'git',
    });
    expect(parse('store', `${bearer}${base}`)).toMatchObject({ kind: 'reply', output: { stdout: '', exitCode: 0 } });
    // An empty capability[] resets the list.
    expect(parse('store', `capability[]=authtype\ncapability[]=\n${bearer}${base}`)).toMatchObject({ kind: 'reply' });
    // Other auth types cannot be stored as a token.
    expect(parse('store', `capability[]=authtype\nauthtype=Digest\ncredential=x\n${base}`)).toMatchObject({ kind: 'reply' });
  });

  it('store: partial or ephemeral credentials are not stored', () => {
    for (const extra of [
      'username=u\n',
      'password=p\n',
      '',
      'username=u\npassword=p\nephemeral=1\n',
      'username=u\npassword=p\nephemeral=true\n',
      'username=u\npassword=p\nephemeral=YES\n',
    ]) {
      expect(parse('store', base + extra)).toEqual({ kind: 'reply', output: { stdout: '', stderr: '', exitCode: 0 } });
    }
    expect(parse('store', `${base}username=u\npassword=p\nephemeral=0\n`).kind).toBe('request');
  });

  it('erase: username and password filter when given; a bearer erases by its credential', () => {
    expect(request(parse('erase', base))).toEqual({ op: 'erase', url: 'https://example.com' });
    expect(request(parse('erase', `${base}username=u\npassword=p\n`))).toEqual({
      op: 'erase',
      url: 'https://example.com',
      username: 'u',
      secret: 'p',
    });
    expect(request(parse('erase', `capability[]=authtype\nauthtype=bearer\ncredential=tok\n${base}`))).toEqual({
      op: 'erase',
      url: 'https://example.com',
      secret: 'tok',
    });
  });
});

describe('git.format', () => {
  const basic: Credential = { kind: 'basic', username: 'u', secret: 'p' };
  const bearer: Credential = { kind: 'bearer', username: 'x-access-token', secret: 'tok' };

  it('basic: username and password; expiry and refresh token when known', () => {
    expect(git.format(ctx(), got(basic))).toEqual({ stdout: 'username=u\npassword=p\n', stderr: '', exitCode: 0 });
    expect(git.format(ctx(true), got({ ...basic, expiresAt: 1893456000.5, oauthRefreshToken: 'r' })).stdout).toBe(
      'username=u\npassword=p\npassword_expiry_utc=1893456000\noauth_refresh_token=r\n',
    );
  });

  it('bearer with the capability: authtype/credential, the capability line first', () => {
    expect(git.format(ctx(true), got({ ...bearer, expiresAt: 1893456000 })).stdout).toBe(
      'capability[]=authtype\nauthtype=Bearer\ncredential=tok\npassword_expiry_utc=1893456000\n',
    );
  });

  it('bearer without the capability: never authtype/credential; the token as the password', () => {
    const out = git.format(ctx(false), got(bearer)).stdout;
    expect(out).toBe('username=x-access-token\npassword=tok\n');
    expect(out).not.toMatch(/authtype|credential=|capability/);
  });

  it('nothing, or a Docker identity token: empty output, exit 0', () => {
    expect(git.format(ctx(), got(null))).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(git.format(ctx(), got({ kind: 'basic', username: '<token>', secret: 'rt' }))).toEqual({ stdout: '', stderr: '', exitCode: 0 });
  });

  it('a value with a line break or NUL is refused, never written (CVE-2020-5260)', () => {
    for (const cred of [
      { ...basic, secret: 'p\nhost=evil' },
      { ...basic, username: 'u\r' },
      { ...basic, secret: 'p\0' },
      { ...basic, oauthRefreshToken: 'r\nquit=1' },
      { ...bearer, secret: 'tok\nx' },
    ]) {
      const out = git.format(ctx(true), got(cred));
      expect(out.stdout).toBe('');
      expect(out.exitCode).toBe(1);
      expect(out.stderr).toContain('line break');
      expect(out.stderr).not.toContain(cred.secret);
    }
  });

  it('every answer is well-formed key=value lines', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'basic' | 'bearer'>('basic', 'bearer'),
        fc.string(),
        fc.string(),
        fc.boolean(),
        (kind, username, secret, authtype) => {
          const out = git.format(ctx(authtype), got({ kind, username, secret }));
          if (out.exitCode !== 0) return;
          const lines = out.stdout.split('\n');
          expect(lines.pop()).toBe('');
          for (const l of lines) expect(l).toMatch(/^[a-z_[\]]+=[^\n\0\r]*$/);
        },
      ),
    );
  });

  it('store/erase print nothing; engine errors go to stderr with exit 1', () => {
    expect(git.format(ctx(false, 'store'), { op: 'store', stored: false })).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(git.format(ctx(false, 'erase'), { op: 'erase', removed: 0 })).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(git.format(ctx(), { op: 'error', error: { code: 'store', message: 'keychain locked' } })).toEqual({
      stdout: '',
      stderr: 'credmux: keychain locked\n',
      exitCode: 1,
    });
    expect(git.format(ctx(false, 'store'), { op: 'get', credential: null })).toMatchObject({ stdout: '', exitCode: 1 });
  });
});
