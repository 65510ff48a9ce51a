// Property-based hardening (fast-check): every parser answers any input with a result or its own typed
// error, formats round-trip through their parsers, and — the key one — the engine never serves a
// credential whose rule does not match the request, checked against a reference matcher written here
// from the rules of docs/architecture.md "The model" alone, for requests built to look like the rules' hosts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/engine/config.js';
import { createEngine } from '../../src/engine/engine.js';
import { CredmuxError, type Credential, type EngineResult, type ProtocolAdapter } from '../../src/model/types.js';
import { formatPattern, parsePattern, parseRequest } from '../../src/model/url.js';
import { decodeClientLine, decodeDaemonLine, encode, LineSplitter, PROTOCOL_VERSION } from '../../src/ipc/codec.js';
import { adapters } from '../../src/protocols/index.js';
import { findDuplicateKey } from '../../src/formats/json.js';
import { MemoryStore } from '../../src/store/memory.js';

const RUNS = { numRuns: 1000 };

// ---------------------------------------------------------------------------------------------
// Inputs

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom(...'=\n\r\0{}[]":,\\@/%*.ah'.split('')) }));
/** Text shaped like each protocol's input, with hostile characters mixed in. */
const gitLine = fc
  .tuple(
    fc.constantFrom(
      'protocol',
      'host',
      'path',
      'username',
      'password',
      'url',
      'capability[]',
      'authtype',
      'credential',
      'ephemeral',
      'password_expiry_utc',
      'wwwauth[]',
      'x',
      '',
    ),
    fc.oneof(
      fc.constantFrom(
        'https',
        'http',
        'example.com',
        'evil.net@example.com',
        'https://u:p@example.com/x',
        'a\rhost=b',
        'a\0b',
        '*.example.com',
        '',
        'bearer',
        '1',
      ),
      fc.string({ unit: fc.constantFrom(...'abc.:/@%*\\?#\r\0 =-0123456789'.split('')), maxLength: 20 }),
    ),
    fc.constantFrom('\n', '\r\n', '\r', ''),
  )
  .map(([k, v, end]) => `${k}=${v}${end}`);
const gitStdin = fc.oneof(
  fc.array(gitLine, { maxLength: 8 }).map((ls) => Buffer.from(`${ls.join('')}\n`, 'utf8')),
  bytes,
  anyText.map((s) => Buffer.from(s, 'utf8')),
);
const jsonish = fc.oneof(
  fc.json().map((s) => Buffer.from(s, 'utf8')),
  fc
    .record(
      {
        uri: fc.oneof(fc.webUrl(), anyText, fc.jsonValue()),
        ServerURL: fc.oneof(fc.domain(), anyText, fc.jsonValue()),
        Username: anyText,
        Secret: anyText,
      },
      { requiredKeys: [] },
    )
    .map((o) => Buffer.from(JSON.stringify(o), 'utf8')),
  fc
    .constantFrom('{"uri":"a","uri":"b"}', '{"__proto__":{"uri":"https://x"}}', '[[[[', '{"ServerURL":"x","serverurl":"y"}')
    .map((s) => Buffer.from(s)),
  bytes,
);
const argvItem = fc.oneof(
  fc.constantFrom(
    'get',
    'set',
    'del',
    'diagnose',
    'store',
    'erase',
    'list',
    'capability',
    '--mode',
    'creds',
    '--output',
    'json',
    '-p',
    '-b',
    '--',
    '-',
    '--mode=creds',
    '-h',
    '--disable',
    '--list-backends',
    '--print-completion',
    'bash',
    '--keyring',
    '-bx',
    '--output=plain',
  ),
  fc.webUrl(),
  anyText,
);
const argv = fc.array(argvItem, { maxLength: 6 });

/** A result for format(): every shape the engine can return. */
const credential: fc.Arbitrary<Credential> = fc.record(
  {
    kind: fc.constantFrom('basic', 'bearer'),
    username: anyText,
    secret: anyText,
    expiresAt: fc.oneof(fc.integer(), fc.double()),
    oauthRefreshToken: anyText,
  },
  { requiredKeys: ['kind', 'username', 'secret'] },
) as fc.Arbitrary<Credential>;
const engineResult: fc.Arbitrary<EngineResult> = fc.oneof(
  fc.record({ op: fc.constant('get' as const), credential: fc.option(credential, { nil: null }) }),
  fc.record({ op: fc.constant('store' as const), stored: fc.boolean() }),
  fc.record({ op: fc.constant('erase' as const), removed: fc.nat() }),
  fc.record({
    op: fc.constant('list' as const),
    entries: fc.array(fc.record({ url: anyText, username: anyText, kind: fc.constantFrom('basic' as const, 'bearer' as const) }), { maxLength: 4 }),
  }),
  fc.record({
    op: fc.constant('error' as const),
    error: fc.record({
      code: fc.constantFrom('bad-request' as const, 'bad-url' as const, 'config' as const, 'store' as const, 'source' as const, 'internal' as const),
      message: anyText,
    }),
  }),
);

// ---------------------------------------------------------------------------------------------
// Parsers answer everything

describe('every protocol adapter answers any input with a request or a reply, never a throw', () => {
  const cases: Array<[keyof typeof adapters, fc.Arbitrary<readonly string[]>, fc.Arbitrary<Buffer>]> = [
    ['git', fc.oneof(fc.constantFrom(['get'], ['store'], ['erase'], ['capability']), argv), gitStdin],
    ['docker', fc.oneof(fc.constantFrom(['get'], ['store'], ['erase'], ['list']), argv), fc.oneof(jsonish, gitStdin)],
    ['bazel', fc.oneof(fc.constant(['get']), argv), jsonish],
    [
      'keyring',
      argv,
      fc.oneof(
        bytes,
        anyText.map((s) => Buffer.from(s)),
      ),
    ],
  ];
  for (const [name, args, stdin] of cases) {
    const adapter = adapters[name] as ProtocolAdapter;
    it(`${name}: parse, then format of any engine result`, () => {
      fc.assert(
        fc.property(args, stdin, engineResult, (a, input, result) => {
          const parsed = adapter.parse(a, input);
          const out = parsed.kind === 'reply' ? parsed.output : adapter.format(parsed.ctx, result);
          expect(typeof out.stdout).toBe('string');
          expect(typeof out.stderr).toBe('string');
          expect(Number.isInteger(out.exitCode)).toBe(true);
          if (parsed.kind === 'request') {
            // What crosses the daemon socket survives JSON unchanged, and the codec accepts it.
            expect(JSON.parse(JSON.stringify(parsed.request))).toEqual(parsed.request);
            const line = encode({ v: PROTOCOL_VERSION, id: 1, req: parsed.request });
            expect(decodeClientLine(line.slice(0, -1), 'x')).toMatchObject({ kind: 'request', req: parsed.request });
          }
          // Bazel: on success stdout is JSON; on failure stdout is empty (Bazel reads stdout only on 0).
          if (name === 'bazel') {
            if (out.exitCode === 0 && parsed.kind === 'request') expect(() => JSON.parse(out.stdout)).not.toThrow();
            if (out.exitCode !== 0) expect(out.stdout).toBe('');
          }
          // git: a line break inside a value would inject attributes (CVE-2020-5260).
          if (name === 'git' && out.stdout !== '' && parsed.kind === 'request') {
            for (const l of out.stdout.slice(0, -1).split('\n')) expect(l).toMatch(/^[a-z_[\]]+=[^\r\0]*$/);
          }
          // Docker: errors go to stdout; stderr stays empty.
          if (name === 'docker') expect(out.stderr).toBe('');
        }),
        RUNS,
      );
    });
  }

  it('git never asks about a host other than the one host= line it was given', () => {
    fc.assert(
      fc.property(gitStdin, (input) => {
        const parsed = adapters.git.parse(['get'], input);
        if (parsed.kind !== 'request' || parsed.request.op !== 'get') return;
        const text = input.toString('utf8');
        expect(text).not.toMatch(/[\0]/);
        // The lines git's reader would read: up to a blank line or one without "=".
        const all = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
        const end = all.findIndex((l) => l === '' || !l.includes('='));
        const lines = end < 0 ? all : all.slice(0, end);
        const hostLines = lines.filter((l) => l.startsWith('host=') || l.startsWith('url='));
        expect(hostLines).toHaveLength(1);
        let host: string;
        try {
          host = new URL(parsed.request.url).host;
        } catch {
          return; // the engine refuses a URL the parser cannot read
        }
        // The URL asked about has exactly the one host given.
        const given = lines.find((l) => l.startsWith('host='))?.slice(5);
        if (given !== undefined) expect(host).toBe(new URL(`https://${given}`).host);
      }),
      RUNS,
    );
  });
});

describe('every other parser throws nothing but its typed error', () => {
  const onlyBadUrl = (f: (s: string) => unknown) => (s: string) => {
    try {
      f(s);
    } catch (e) {
      if (!(e instanceof CredmuxError) || e.code !== 'bad-url') throw e;
    }
  };
  it('URL requests and patterns: CredmuxError(bad-url) or a result', () => {
    const urlish = fc.oneof(
      anyText,
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.string({ unit: fc.constantFrom(...'htps:/\\@[]*.%25?#09aex-:'.split('')) }),
    );
    fc.assert(
      fc.property(urlish, (s) => (onlyBadUrl(parseRequest)(s), onlyBadUrl(parsePattern)(s))),
      RUNS,
    );
  });

  it('config JSON: CredmuxError(config) or a config', () => {
    const configText = fc.oneof(
      fc.json(),
      anyText,
      fc
        .record({
          rules: fc.array(
            fc.record(
              {
                id: anyText,
                match: fc.oneof(anyText, fc.domain()),
                username: anyText,
                source: fc.oneof(fc.jsonValue(), fc.constant({ type: 'netrc' }), fc.record({ type: fc.constant('env'), var: anyText })),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
        })
        .map((c) => JSON.stringify(c)),
    );
    fc.assert(
      fc.property(configText, (text) => {
        try {
          parseConfig(text);
        } catch (e) {
          if (!(e instanceof CredmuxError) || e.code !== 'config') throw e;
        }
      }),
      RUNS,
    );
  });

  it('daemon codec: any line decodes to a message or a well-formed error reply; any chunking splits the same lines', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          fc.json(),
          jsonish.map((b) => b.toString('utf8')),
        ),
        (line) => {
          const d = decodeClientLine(line, '0.0.0');
          expect(['empty', 'request', 'control', 'invalid']).toContain(d.kind);
          if (d.kind === 'invalid') expect(decodeDaemonLine(encode(d.reply).slice(0, -1))).toEqual(d.reply);
          decodeDaemonLine(line); // never throws
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'é', '{', '\r', '😀') }), { maxLength: 6 }),
        fc.array(fc.nat(40), { maxLength: 8 }),
        (lines, cuts) => {
          const whole = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
          const splitter = new LineSplitter(1 << 20);
          const got: unknown[] = [];
          let at = 0;
          for (const c of [...cuts, whole.length]) {
            const end = Math.min(whole.length, at + c);
            got.push(...splitter.push(whole.subarray(at, end)));
            at = end;
          }
          got.push(...splitter.push(whole.subarray(at)));
          expect(got).toEqual(lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)));
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Round trips

describe('format ∘ parse round-trips', () => {
  const value = fc.string({ unit: fc.constantFrom(...Array.from('ab =:@/%\\*é😀\t')), maxLength: 12 });
  it('git attributes: what a store sends comes back from get exactly, on a fresh engine', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.domain(),
        value,
        value,
        fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
        async (host, username, password, expiry) => {
          const engine = createEngine({ store: new MemoryStore(), now: () => 1_000 });
          const attrs = `protocol=https\nhost=${host}\nusername=${username}\npassword=${password}\n${expiry ? `password_expiry_utc=${expiry}\n` : ''}\n`;
          const stored = adapters.git.parse(['store'], Buffer.from(attrs));
          expect(stored.kind).toBe('request');
          if (stored.kind !== 'request') return;
          expect(adapters.git.format(stored.ctx, await engine.handle(stored.request))).toEqual({ stdout: '', stderr: '', exitCode: 0 });
          const got = adapters.git.parse(['get'], Buffer.from(`protocol=https\nhost=${host}\n\n`));
          if (got.kind !== 'request') throw new Error('get refused');
          const out = adapters.git.format(got.ctx, await engine.handle(got.request));
          const back = Object.fromEntries(
            out.stdout
              .split('\n')
              .filter(Boolean)
              .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
          );
          expect(back).toEqual({ username, password, ...(expiry ? { password_expiry_utc: String(expiry) } : {}) });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('docker store JSON: get gives back ServerURL, Username and Secret exactly', async () => {
    const server = fc.tuple(fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([h, p]) => (p ? `${h}:${p}` : h));
    await fc.assert(
      fc.asyncProperty(server, fc.string({ minLength: 1 }), fc.string({ unit: 'binary' }), async (serverURL, username, secret) => {
        const engine = createEngine({ store: new MemoryStore() });
        const stored = adapters.docker.parse(['store'], Buffer.from(JSON.stringify({ ServerURL: serverURL, Username: username, Secret: secret })));
        if (stored.kind !== 'request') throw new Error(`store refused: ${stored.output.stdout}`);
        expect(adapters.docker.format(stored.ctx, await engine.handle(stored.request)).exitCode).toBe(0);
        const got = adapters.docker.parse(['get'], Buffer.from(serverURL));
        if (got.kind !== 'request') throw new Error('get refused');
        const out = adapters.docker.format(got.ctx, await engine.handle(got.request));
        expect(JSON.parse(out.stdout)).toEqual({ ServerURL: serverURL, Username: username, Secret: secret });
      }),
      { numRuns: 300 },
    );
  });

  it('URL patterns: parsePattern(formatPattern(p)) is p, for patterns built from parts', () => {
    const pattern = fc
      .tuple(
        fc.constantFrom('https', 'http'),
        fc.boolean(),
        fc.domain(),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        fc.array(fc.stringMatching(/^[a-z0-9._~-]{1,6}$/), { maxLength: 3 }),
      )
      .map(([s, w, h, port, segs]) => `${s}://${w && h.includes('.') ? '*.' : ''}${h}${port ? `:${port}` : ''}${segs.map((x) => `/${x}`).join('')}`);
    fc.assert(
      fc.property(pattern, (text) => {
        let p;
        try {
          p = parsePattern(text);
        } catch {
          return; // e.g. a dot segment, or a label the parser refuses
        }
        expect(parsePattern(formatPattern(p))).toEqual(p);
      }),
      RUNS,
    );
  });

  it('findDuplicateKey: none in any JSON.stringify output; found wherever one is spliced in', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        expect(findDuplicateKey(JSON.stringify(v))).toBeUndefined();
        expect(findDuplicateKey(JSON.stringify(v, null, 2))).toBeUndefined();
      }),
      RUNS,
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1 }),
        fc.nat(),
        fc.jsonValue({ maxDepth: 2 }),
        (obj, pick, extra) => {
          const keys = Object.keys(obj);
          if (keys.length === 0) return;
          const dup = keys[pick % keys.length]!;
          const text = `{"wrap":[1,${JSON.stringify(obj).slice(0, -1)},${JSON.stringify(dup)}:${JSON.stringify(extra)}}]}`;
          expect(() => JSON.parse(text)).not.toThrow();
          expect(findDuplicateKey(text)).toEqual({ path: '/wrap/1', key: dup });
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The key property: never a credential for a request its rule does not match.

/** A rule as docs/architecture.md "The model" states it, with what a request must satisfy. */
interface RefPattern {
  scheme: 'https' | 'http';
  host: string;
  wildcard: boolean;
  port: number;
  path: string;
}
interface RefRequest {
  scheme: 'https' | 'http' | null;
  host: string;
  port: number | null;
  path: string;
  username?: string;
}

const DEFAULT_PORT = { https: 443, http: 80 } as const;

/**
 * docs/architecture.md "The model": same scheme (a schemeless request matches either, on the pattern's default
 * port when it names none); same port; host exact, or for "*.d" d itself or anything ending ".d";
 * path prefix on whole segments.
 */
function refMatches(p: RefPattern, r: RefRequest): boolean {
  if (r.scheme !== null && r.scheme !== p.scheme) return false;
  if ((r.port ?? DEFAULT_PORT[p.scheme]) !== p.port) return false;
  const hostOk = p.wildcard ? r.host === p.host || r.host.endsWith(`.${p.host}`) : r.host === p.host;
  const pathOk = p.path === '' || r.path === p.path || r.path.startsWith(`${p.path}/`);
  return hostOk && pathOk;
}

/** docs/architecture.md "The model": exact host > deeper wildcard > longer path. >0 when a is more specific. */
function refSpecificity(a: RefPattern, b: RefPattern): number {
  if (a.wildcard !== b.wildcard) return a.wildcard ? -1 : 1;
  if (a.wildcard && a.host.split('.').length !== b.host.split('.').length) return a.host.split('.').length - b.host.split('.').length;
  return a.path.split('/').length - b.path.split('/').length;
}

const BASES = ['example.com', 'a.example.com', 'b.a.example.com', 'pkgs.example.org', 'example.co.uk', 'xn--bcher-kva.example', '127.0.0.1', '[::1]'];
const PORTS = [443, 80, 8080, 5000];
const PATHS = ['', '/simple', '/simple/x', '/a/b'];

interface RuleSpec extends RefPattern {
  username: string;
  secret: string;
  viaConfig: boolean;
}

const ruleSpec = fc
  .record({
    scheme: fc.constantFrom('https' as const, 'http' as const),
    host: fc.constantFrom(...BASES),
    wildcard: fc.boolean(),
    port: fc.option(fc.constantFrom(...PORTS), { nil: undefined }),
    path: fc.constantFrom(...PATHS),
    username: fc.constantFrom('alice', 'bob', '__token__'),
    viaConfig: fc.boolean(),
  })
  .map((r) => ({ ...r, wildcard: r.wildcard && !/^[\d.]+$|^\[/.test(r.host), port: r.port ?? DEFAULT_PORT[r.scheme] }));

/** How a request host is derived from a rule's host: identical, or spliced into a look-alike. */
const HOST_TRICKS: Array<[string, (h: string) => string | undefined]> = [
  ['same', (h) => h],
  ['subdomain', (h) => (h.startsWith('[') ? undefined : `x.${h}`)],
  ['deep subdomain', (h) => (h.startsWith('[') ? undefined : `x.y.${h}`)],
  ['prefix without dot', (h) => (h.startsWith('[') ? undefined : `evil${h}`)],
  ['suffix domain', (h) => (h.startsWith('[') ? undefined : `${h}.evil.net`)],
  ['suffix label', (h) => (h.startsWith('[') ? undefined : `${h}x`)],
  ['spliced label', (h) => (h.includes('.') && !h.startsWith('[') ? h.replace('.', '.evil.') : undefined)],
  ['dropped label', (h) => (h.split('.').length > 2 && !/^[\d.]+$/.test(h) ? h.slice(h.indexOf('.') + 1) : undefined)],
  ['other', () => 'evil.net'],
];

/** Request paths with the path the parser must resolve them to. */
const REQUEST_PATHS: Array<[string, string]> = [
  ['', ''],
  ['/', ''],
  ['/simple', '/simple'],
  ['/simple/', '/simple/'],
  ['/simple/pkg', '/simple/pkg'],
  ['/simplex', '/simplex'],
  ['/simple/../admin', '/admin'],
  ['/simple/%2e%2e/admin', '/admin'],
  ['/simple%2fx', '/simple%2Fx'],
  ['/SIMPLE/x', '/SIMPLE/x'],
  ['/a/b/c', '/a/b/c'],
  ['/a/bc', '/a/bc'],
  ['/x/../simple/x', '/simple/x'],
];

interface RequestSpec {
  text: string;
  ref: RefRequest;
  trick: string;
}

const isIp = (h: string) => h.startsWith('[') || /^[\d.]+$/.test(h);

function requestFor(rules: RuleSpec[]) {
  return fc
    .record({
      rule: fc.nat(rules.length - 1),
      trick: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.nat(HOST_TRICKS.length - 1), weight: 4 }),
      // Mostly the rule's own scheme, port and a path under it, so that matching is common and
      // every trick is tried against a request that would otherwise have matched.
      scheme: fc.constantFrom('rule', 'rule', 'rule', 'https', 'http', null),
      port: fc.constantFrom('rule', 'rule', 'rule', 'rule', 'rule', 'none', ...PORTS, 65535, 70000),
      path: fc.oneof(fc.constantFrom('rule', 'rule/', 'rule/pkg', 'rulex', 'rule/../admin', 'rule/%2e%2e/admin'), fc.nat(REQUEST_PATHS.length - 1)),
      upper: fc.boolean(),
      trailingDot: fc.boolean(),
      userinfo: fc.constantFrom('none', 'none', 'none', 'filter', 'host-in-userinfo', 'password'),
      username: fc.constantFrom('alice', 'bob', 'mallory'),
    })
    .map((o): RequestSpec | undefined => {
      const rule = rules[o.rule]!;
      const base = rule.host;
      const [trick, make] = HOST_TRICKS[o.trick]!;
      if (isIp(base) && trick !== 'same' && trick !== 'other') return undefined;
      const host = make(base);
      if (host === undefined) return undefined;
      const scheme = o.scheme === 'rule' ? rule.scheme : o.scheme;
      const port: number | undefined = o.port === 'rule' ? rule.port : o.port === 'none' ? undefined : (o.port as number);
      let pathText: string;
      let path: string;
      if (typeof o.path === 'number') [pathText, path] = REQUEST_PATHS[o.path]!;
      else {
        const under = rule.path.slice(0, rule.path.lastIndexOf('/')) || '';
        const resolved: Record<string, [string, string]> = {
          rule: [rule.path, rule.path],
          'rule/': [`${rule.path}/`, `${rule.path}/`],
          'rule/pkg': [`${rule.path}/pkg`, `${rule.path}/pkg`],
          rulex: rule.path === '' ? ['/x', '/x'] : [`${rule.path}x`, `${rule.path}x`],
          'rule/../admin': [`${rule.path}/../admin`, `${rule.path === '' ? '' : under}/admin`],
          'rule/%2e%2e/admin': [`${rule.path}/%2e%2e/admin`, `${rule.path === '' ? '' : under}/admin`],
        };
        [pathText, path] = resolved[o.path]!;
        if (path === '/') path = '';
      }
      let shown = o.upper ? host.toUpperCase() : host;
      if (o.trailingDot && !isIp(host)) shown += '.';
      const ref: RefRequest = { scheme, host, port: port ?? (scheme ? DEFAULT_PORT[scheme] : null), path };
      let userinfo = '';
      if (o.userinfo === 'filter') {
        userinfo = `${o.username}@`;
        ref.username = o.username;
      } else if (o.userinfo === 'password') {
        // A schemeless request cannot start with "user:" (it reads as a scheme).
        if (scheme === null) return undefined;
        userinfo = `${o.username}:pw@`;
        ref.username = o.username;
      } else if (o.userinfo === 'host-in-userinfo') {
        // "victim@evil": what looks like the host is userinfo; the host is evil.net.
        userinfo = `${shown}@`;
        ref.username = shown;
        shown = 'evil.net';
        ref.host = 'evil.net';
      }
      const text = `${scheme ? `${scheme}://` : ''}${userinfo}${shown}${port !== undefined ? `:${port}` : ''}${pathText}`;
      return { text, ref, trick };
    })
    .filter((x): x is RequestSpec => x !== undefined);
}

function ruleUrl(r: RuleSpec): string {
  const port = r.port === DEFAULT_PORT[r.scheme] ? '' : `:${r.port}`;
  return `${r.scheme}://${r.wildcard ? '*.' : ''}${r.host}${port}${r.path}`;
}

describe('the engine never serves a credential its rule does not match', () => {
  it('for generated rules (stored and config) and requests spliced from their hosts', async () => {
    const scenario = fc
      .array(ruleSpec, { minLength: 1, maxLength: 6 })
      .map((rules): RuleSpec[] => rules.map((r, i) => ({ ...r, secret: `secret-${i}-${r.viaConfig ? 'cfg' : 'st'}` })))
      .chain((rules) => fc.tuple(fc.constant(rules), fc.array(requestFor(rules), { minLength: 1, maxLength: 8 })));

    let answered = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ([rules, requests]) => {
        // Stored entries are unique per (url, username): a later duplicate would replace an earlier one.
        const seen = new Set<string>();
        const live = rules.filter((r) => {
          const k = `${ruleUrl(r)}#${r.username}`;
          if (r.viaConfig) return true;
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        });
        const store = new MemoryStore(
          live
            .filter((r) => !r.viaConfig)
            .map((r, i) => ({
              url: ruleUrl(r),
              username: r.username,
              kind: 'basic' as const,
              secret: r.secret,
              updatedAt: `2020-01-01T00:00:${String(i).padStart(2, '0')}Z`,
            })),
        );
        const configRules = live.filter((r) => r.viaConfig);
        const env = Object.fromEntries(configRules.map((r, i) => [`TOKEN_${i}`, r.secret]));
        const engine = createEngine({
          store,
          env,
          config: {
            rules: configRules.map((r, i) => ({
              id: `r${i}`,
              match: ruleUrl(r),
              username: r.username,
              kind: 'basic' as const,
              source: { type: 'env' as const, var: `TOKEN_${i}` },
            })),
          },
        });
        for (const req of requests) {
          const res = await engine.handle({ op: 'get', url: req.text });
          if (res.op === 'error') {
            // Only a request the URL parser refuses may fail, and then nothing is served.
            expect(res.error.code, `${req.text}: ${res.error.message}`).toBe('bad-url');
            expect(() => parseRequest(req.text)).toThrow(CredmuxError);
            refused++;
            continue;
          }
          expect(res.op).toBe('get');
          if (res.op !== 'get') return;
          const eligible = live.filter((r) => req.ref.username === undefined || r.username === req.ref.username);
          const matching = eligible.filter((r) => refMatches(r, req.ref));
          const where = `request ${JSON.stringify(req.text)} (${req.trick}) against ${live.map((r) => `${ruleUrl(r)}#${r.username}${r.viaConfig ? '(cfg)' : ''}`).join(', ')}`;
          if (res.credential === null) {
            expect(matching, `${where}: a matching rule exists but nothing was served`).toEqual([]);
            continue;
          }
          answered++;
          const by = live.find((r) => r.secret === res.credential!.secret);
          expect(by, `${where}: served a secret no rule has`).toBeDefined();
          expect(refMatches(by!, req.ref), `${where}: served ${ruleUrl(by!)}, which does not match`).toBe(true);
          // Never a downgrade (nor a cross-over) of scheme.
          if (req.ref.scheme !== null) expect(by!.scheme, where).toBe(req.ref.scheme);
          if (req.ref.username !== undefined) expect(by!.username, where).toBe(req.ref.username);
          // Most specific wins: nothing that matches is strictly more specific.
          for (const other of matching)
            expect(refSpecificity(other, by!), `${where}: ${ruleUrl(other)} is more specific than ${ruleUrl(by!)}`).toBeLessThanOrEqual(0);
        }
      }),
      { numRuns: 600 },
    );
    // The generator must reach both outcomes, or the property proves little.
    expect(answered).toBeGreaterThan(150);
    expect(refused).toBeGreaterThan(0);
  }, 60_000);
});
