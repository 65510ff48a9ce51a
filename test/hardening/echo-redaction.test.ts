// A token endpoint that echoes what it was sent (issue 15, class 6): the API key travels
// percent-encoded in a form body, JSON-escaped in a JSON body, raw in a Bearer header, form-encoded
// and base64'd in a Basic header; the endpoint answers with all of it (raw, base64 or base64url) as
// an OAuth error_description, as field names, or as a content type. No spelling of the secret may
// reach a helper's stderr or daemon.log. Real processes (the built helper, the real daemon) against a
// real loopback server.
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, startTokenServer, type EchoEncoding, type EchoMode, type TokenServer } from '../helpers/token-server.js';
import { disposeBuiltSnapshot, emptyHome, runBytes, secretPiece, show, type Home } from './helpers.js';

let srv: TokenServer;
beforeAll(async () => {
  srv = await startTokenServer();
});
afterAll(async () => {
  await srv.close();
  disposeBuiltSnapshot();
});

/** ASCII with every character the encodings treat specially (a Bearer header carries it as is). */
const ASCII_KEY = 'Echo-Key/with+plus=eq "quote" &amp; 100% back\\slash~0123456789';
/** Non-ASCII too, for the body styles (JSON may escape it as \u00fc, forms as %C3%BC). */
const UNICODE_KEY = 'Echo-ünï-cøde key/+=& 0123456789-€';

/**
 * The spellings the test looks for, written here independently of src/sources/redact.ts: raw,
 * percent-encoded (both %20 and + forms, either hex case), JSON-escaped (as JSON.stringify and as
 * Python's ensure_ascii), and base64/base64url of the secret and of its form encoding at each of
 * the three alignments it can have inside a longer input.
 */
function spellings(secret: string): string[] {
  const out = new Set<string>([
    secret,
    encodeURIComponent(secret),
    encodeURIComponent(secret).toLowerCase(),
    new URLSearchParams({ k: secret }).toString().slice(2),
  ]);
  const json = JSON.stringify(secret).slice(1, -1);
  out.add(json);
  out.add(json.replace(/[^\x00-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  for (const sent of [secret, new URLSearchParams({ k: secret }).toString().slice(2)]) {
    for (let pad = 0; pad < 3; pad++) {
      const b64 = Buffer.concat([Buffer.alloc(pad, 0x20), Buffer.from(sent, 'utf8'), Buffer.from('  ')]).toString('base64');
      // Whole 4-character groups made of the secret's bytes only.
      const inner = b64.slice(Math.ceil(pad / 3) * 4, Math.floor((pad + Buffer.byteLength(sent)) / 3) * 4);
      out.add(inner);
      out.add(inner.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...out].filter((s) => s.length >= 8);
}

function expectNoSpelling(text: string, secret: string, where: string): void {
  for (const form of spellings(secret))
    expect(text.includes(form), `${where} holds the secret spelled ${JSON.stringify(form)}:\n${text}`).toBe(false);
  expect(secretPiece(text, secret), `${where} holds a piece of the secret:\n${text}`).toBeUndefined();
}

interface Case {
  name: string;
  route: (typeof ROUTES)[keyof typeof ROUTES];
  source: (secretVar: string) => Record<string, unknown>;
  secret: string;
}

const CASES: Case[] = [
  {
    name: 'bearer style (Authorization: Bearer <key>)',
    route: ROUTES.pyx,
    secret: ASCII_KEY,
    source: (v) => ({ style: 'bearer', secret: { env: v } }),
  },
  {
    name: 'form style (key=<percent-encoded key>)',
    route: ROUTES.exchangeForm,
    secret: UNICODE_KEY,
    source: (v) => ({ style: 'form', secretField: 'key', secret: { env: v } }),
  },
  {
    name: 'form style, ASCII specials',
    route: ROUTES.exchangeForm,
    secret: ASCII_KEY,
    source: (v) => ({ style: 'form', secretField: 'key', secret: { env: v } }),
  },
  {
    name: 'json style ({"api_key": <JSON-escaped key>})',
    route: ROUTES.exchangeJson,
    secret: UNICODE_KEY,
    source: (v) => ({ style: 'json', secretField: 'api_key', secret: { env: v } }),
  },
  {
    name: 'json style, ASCII specials',
    route: ROUTES.exchangeJson,
    secret: ASCII_KEY,
    source: (v) => ({ style: 'json', secretField: 'api_key', secret: { env: v } }),
  },
];

function configure(h: Home, c: Case): Record<string, string> {
  mkdirSync(join(h.configFile, '..'), { recursive: true });
  const rule = {
    id: 'echo',
    match: 'https://echo.example.com',
    source: { type: 'exchange', endpoint: `${srv.url}${c.route}`, allowInsecureHttp: true, ...c.source('ECHO_KEY') },
  };
  writeFileSync(h.configFile, JSON.stringify({ rules: [rule] }));
  return { ...h.env, ECHO_KEY: c.secret };
}

const BAZEL_GET = Buffer.from('{"uri":"https://echo.example.com/x"}');

describe('a token endpoint that echoes what it was sent never gets a secret shown', () => {
  for (const c of CASES) {
    for (const mode of ['echo-401', 'echo-fields', 'echo-type'] as EchoMode[]) {
      for (const encoding of ['raw', 'base64', 'base64url'] as EchoEncoding[]) {
        it(`${c.name}, ${mode}, echoed ${encoding}: the helper's stderr holds no spelling of the key`, async () => {
          srv.reset();
          srv.setMode(c.route, mode);
          srv.echoEncoding = encoding;
          const h = emptyHome('echo');
          try {
            const env = configure(h, c);
            const r = await runBytes('credmux-bazel', ['get'], env, BAZEL_GET);
            expect(r.code, show(r)).toBe(1);
            expect(srv.count(c.route), 'the endpoint was asked').toBeGreaterThan(0);
            expect(r.stderr).toMatch(/^credmux-bazel: rule "echo"/);
            expectNoSpelling(r.stdout + r.stderr, c.secret, 'the helper output');
          } finally {
            h.cleanup();
          }
        });
      }
    }
  }

  it('through the daemon: neither the helpers nor daemon.log hold any spelling of the key', async () => {
    const h = emptyHome('echo-daemon');
    try {
      const lines: string[] = [];
      for (const c of CASES) {
        for (const encoding of ['raw', 'base64'] as EchoEncoding[]) {
          srv.reset();
          srv.setMode(c.route, 'echo-401');
          srv.echoEncoding = encoding;
          const env: Record<string, string> = configure(h, c);
          delete env.CREDMUX_DAEMON;
          const r = await runBytes('credmux-bazel', ['get'], env, BAZEL_GET);
          expect(r.code, show(r)).toBe(1);
          lines.push(r.stderr);
          expectNoSpelling(r.stdout + r.stderr, c.secret, 'the helper output');
        }
      }
      const env: Record<string, string> = { ...h.env };
      delete env.CREDMUX_DAEMON;
      const stopped = await runBytes('credmux', ['daemon', 'stop'], env);
      expect(stopped.code, show(stopped)).toBe(0);
      const log = join(h.stateDir, 'daemon.log');
      expect(existsSync(log), 'the daemon ran and logged').toBe(true);
      const text = readFileSync(log, 'utf8');
      expect(text).toContain('request failed');
      for (const c of CASES) expectNoSpelling(text, c.secret, 'daemon.log');
    } finally {
      h.cleanup();
    }
  });
});

describe('an endpoint written with user:password@', () => {
  const PW = 'Endp0int-Pw-s3cret-9z';
  for (const [name, entry, argv, input] of [
    ['credmux list', 'credmux', ['list'], undefined],
    ['credmux doctor --json', 'credmux', ['doctor', '--json'], undefined],
    ['credmux-bazel get', 'credmux-bazel', ['get'], BAZEL_GET],
    ['git-credential-credmux get', 'git-credential-credmux', ['get'], Buffer.from('protocol=https\nhost=echo.example.com\n\n')],
  ] as const) {
    it(`is refused by ${name} without quoting the password`, async () => {
      const h = emptyHome('endpoint-pw');
      try {
        mkdirSync(join(h.configFile, '..'), { recursive: true });
        const rule = {
          id: 'pw',
          match: 'https://echo.example.com',
          source: { type: 'exchange', endpoint: `https://alice:${PW}@api.example.com/token`, secret: { env: 'K' } },
        };
        writeFileSync(h.configFile, JSON.stringify({ rules: [rule] }));
        const r = await runBytes(entry, [...argv], h.env, input);
        expect(r.stdout + r.stderr, show(r)).toContain('must not carry user:password@');
        expectNoSpelling(r.stdout + r.stderr, PW, name);
        if (entry === 'credmux' && argv[0] === 'list') expect(r.code).toBe(3);
      } finally {
        h.cleanup();
      }
    });
  }
});
