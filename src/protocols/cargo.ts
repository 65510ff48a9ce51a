// cargo's credential-provider protocol (docs/protocols.md §10), cargo ≥ 1.74: cargo runs the provider
// with `--cargo-plugin`, the provider greets with `{"v":[1]}`, then every request is one JSON line and
// every answer one `{"Ok":…}` or `{"Err":…}` line; cargo closes stdin when done and expects exit 0
// (a non-zero exit is an error even after a good answer). This module answers ONE request line; the
// conversation around it is src/client/conversation.ts.
import {
  IDENTITY_TOKEN_USERNAME,
  registryHost,
  type Credential,
  type EngineResult,
  type LineProtocol,
  type ProtocolOutput,
  onlyBazelMessage,
} from '../model/types.js';
import { VERSION } from '../platform/version.js';
import { base64, decodeUtf8, output, own, parseJsonObject, reply, unexpectedResult, type JsonObject } from './util.js';

const PROG = 'cargo-credential-credmux';
export const CARGO_HELLO = '{"v":[1]}\n';
const PROTOCOL_VERSION = 1;

const USAGE = `Usage: ${PROG} --cargo-plugin
A cargo credential provider (cargo ≥ 1.74): cargo runs it and speaks JSON lines on stdin/stdout.
Wire it in with: credmux setup cargo   (registry.global-credential-providers in $CARGO_HOME/config.toml)
`;

/** Usage mistakes exit 2, as the other entries do; inside the conversation every answer is a line and exit 0. */
const USAGE_EXIT = 2;

/** Where cargo sends the token, as the credmux URL its rules match: `sparse+` dropped, http(s) only. */
export function registryUrl(indexUrl: string): string | undefined {
  // A sparse index is `sparse+http(s)://…`; a git index is the repository's own https URL (its token is
  // for the API and downloads). `ssh://`, `file://`, `sparse+file://`… are nothing credmux serves.
  const m = /^(sparse\+)?https?:\/\//i.exec(indexUrl);
  if (!m) return undefined;
  const url = indexUrl.slice(m[1]?.length ?? 0);
  // The engine reads a host starting "*." as a wildcard PATTERN (for `credmux login '*.example.com'`):
  // a registry is one host, and a crafted index URL must not log in or out a whole wildcard.
  if (registryHost(url).includes('*')) return undefined;
  return url;
}

export type CargoCtx = { kind: 'get' | 'login' | 'logout' };

/** The operations cargo asks a `get` for (cargo-credential `Operation`); another is one we do not know. */
const OPERATIONS = new Set(['read', 'publish', 'yank', 'unyank', 'owners']);

/**
 * Configured provider arguments travel in `args`, never argv. `["cargo"]` is the explicit form
 * (`credential-alias.credmux = ["/…/credmux", "cargo"]`); anything else would be a setting credmux
 * does not have, and ignoring it would hide the mistake.
 */
const ACCEPTED_ARGS = [[], ['cargo']];

function line(body: unknown): string {
  return `${JSON.stringify(body)}\n`;
}

function ok(body: Record<string, unknown>): ProtocolOutput {
  return output(line({ Ok: body }), '', 0);
}

function err(kind: 'not-found' | 'url-not-supported' | 'operation-not-supported'): ProtocolOutput {
  return output(line({ Err: { kind } }), '', 0);
}

/** cargo shows `message` to the person, prefixed with the provider's name; it must say what to do. */
function other(message: string): ProtocolOutput {
  return output(line({ Err: { kind: 'other', message } }), '', 0);
}

function bad(message: string) {
  return { kind: 'reply' as const, output: other(`credmux: ${message}`) };
}

export const cargo: LineProtocol<CargoCtx> = {
  name: 'cargo',
  tooLarge: other('credmux: request line larger than 1 MiB refused'),

  start(argv) {
    const [first] = argv;
    if (argv.length === 1 && first === '--cargo-plugin') return { kind: 'conversation', hello: CARGO_HELLO };
    if (argv.length === 1 && (first === '--help' || first === '-h' || first === 'help')) return reply(USAGE, '', 0);
    if (argv.length === 1 && (first === '--version' || first === 'version')) return reply(`${PROG} ${VERSION}\n`, '', 0);
    return reply('', `${PROG}: cargo runs this with --cargo-plugin; it is not a command for people\n${USAGE}`, USAGE_EXIT);
  },

  parse(argv, stdin) {
    const started = cargo.start(argv);
    if (started.kind === 'reply') return started;
    const text = decodeUtf8(stdin);
    if (text === undefined) return bad('the request is not valid UTF-8');
    if (text.trim() === '') return bad('empty request line; cargo sends one JSON object per line');
    const parsed = parseJsonObject(text);
    if (!parsed.ok) {
      if (parsed.reason === 'duplicate') return bad(`the request names ${JSON.stringify(parsed.key)} twice in one object`);
      return bad(parsed.reason === 'syntax' ? 'the request is not valid JSON' : 'the request must be a JSON object');
    }
    const req = parsed.value;
    const v = own(req, 'v');
    // cargo-credential's own check, with its words: cargo sends only a version the hello offered.
    if (v !== PROTOCOL_VERSION) return bad(`unsupported protocol version ${typeof v === 'number' ? v : JSON.stringify(v ?? null)}`);
    const registry = own(req, 'registry');
    if (typeof registry !== 'object' || registry === null || Array.isArray(registry)) return bad('the request has no "registry" object');
    const indexUrl = own(registry as JsonObject, 'index-url');
    if (typeof indexUrl !== 'string' || indexUrl === '') return bad('the request has no "registry"."index-url"');
    const args = own(req, 'args') ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return bad('"args" must be a list of strings');
    if (!ACCEPTED_ARGS.some((a) => a.length === args.length && a.every((x, i) => x === args[i]))) {
      // The arguments are configuration, not secrets (a token goes in "token"), so they can be named.
      return bad(
        `credmux's cargo provider takes no arguments (given: ${JSON.stringify(args).slice(0, 200)}); remove them from the provider in cargo's config`,
      );
    }
    const kind = own(req, 'kind');
    if (typeof kind !== 'string') return bad('the request has no "kind"');
    if (kind !== 'get' && kind !== 'login' && kind !== 'logout') return { kind: 'reply', output: err('operation-not-supported') };

    const url = registryUrl(indexUrl);
    if (url === undefined) return { kind: 'reply', output: err('url-not-supported') };
    switch (kind) {
      case 'get': {
        const operation = own(req, 'operation');
        if (typeof operation !== 'string') return bad('a "get" request needs an "operation"');
        if (!OPERATIONS.has(operation)) return { kind: 'reply', output: err('operation-not-supported') };
        // Every operation gets the same credential: answered once, `operation_independent`.
        return { kind: 'request', request: { op: 'get', url }, ctx: { kind } };
      }
      case 'login': {
        const given = own(req, 'token');
        if (given !== undefined && typeof given !== 'string') return bad('"token" must be a string');
        // cargo:token trims what was pasted; a provider cannot prompt (stdin is cargo's pipe).
        const token = given?.trim() ?? '';
        if (token === '') {
          return bad('no token given: pipe it to `cargo login --registry NAME`, or store it with `credmux login URL --token-stdin`');
        }
        // cargo puts the token verbatim into an HTTP header: a line break there would smuggle another.
        if (/[\u0000-\u001f\u007f]/.test(token)) return bad('the token contains control characters, which an HTTP header cannot carry');
        const credential: Credential = { kind: 'bearer', username: TOKEN_USERNAME, secret: token };
        return { kind: 'request', request: { op: 'store', url, credential, via: 'cargo' }, ctx: { kind } };
      }
      case 'logout':
        // As `credmux logout URL`: every stored credential that would answer this registry.
        return { kind: 'request', request: { op: 'erase', url }, ctx: { kind } };
    }
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') {
      // A URL credmux cannot even match is not ours: cargo asks its next provider.
      if (result.error.code === 'bad-url' && ctx.kind === 'get') return err('url-not-supported');
      return other(`credmux: ${result.error.message}`);
    }
    switch (result.op) {
      case 'get': {
        if (ctx.kind !== 'get') break;
        const cred = result.credential;
        // A Docker identity token is a refresh token for a registry's token endpoint, not an HTTP credential.
        if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) return err('not-found');
        if (cred.headers) return other(`credmux: ${onlyBazelMessage(result)}`);
        const token = authorization(cred);
        if (token === undefined) return other('credmux: the token found for this registry contains control characters; store it again');
        // cargo keeps an `expires` answer while now + 60 s < expiration, a `session` one for the rest of
        // its run; each cargo run asks again, and the daemon's cache answers that.
        const cache = cred.expiresAt === undefined ? { cache: 'session' } : { cache: 'expires', expiration: Math.floor(cred.expiresAt) };
        return ok({ kind: 'get', token, ...cache, operation_independent: true });
      }
      case 'store':
        if (ctx.kind === 'login') return ok({ kind: 'login' });
        break;
      case 'erase':
        if (ctx.kind !== 'logout') break;
        // cargo then says "not currently logged in", as it does for its own token file.
        return result.removed > 0 ? ok({ kind: 'logout' }) : err('not-found');
    }
    return other(`credmux: ${unexpectedResult(result)}`);
  },
};

/** How `credmux login --token-stdin` names a token's user; a token stored by `cargo login` is the same kind of entry. */
const TOKEN_USERNAME = '__token__';

/**
 * The Authorization value cargo sends as is (it adds no scheme, docs/protocols.md §10.3). A token goes
 * verbatim — as `cargo login` and cargo's own token store keep it, scheme included when the registry
 * wants one (`Bearer …`); a Basic credential becomes a Basic header.
 */
function authorization(cred: Credential): string | undefined {
  if (cred.kind === 'basic') return `Basic ${base64(`${cred.username}:${cred.secret}`)}`;
  if (/[\u0000-\u001f\u007f]/.test(cred.secret)) return undefined;
  return cred.secret;
}
