// git credential helper protocol (docs/protocols.md §2): `key=value` lines on stdin, the same on stdout.
// git ignores a helper's exit status and its stdout for store/erase, so "no answer" is empty stdout.
// Everything here is about never answering for the wrong host: CR/NUL smuggling (CVE-2024-52006),
// missing protocol/host (CVE-2020-11008), duplicated fields, and values that could inject lines.
import {
  IDENTITY_TOKEN_USERNAME,
  type Credential,
  type EngineRequest,
  type EngineResult,
  type ProtocolAdapter,
  type ProtocolOutput,
  onlyBazelMessage,
} from '../model/types.js';
import { decodeUtf8, line, output, reply, unexpectedResult } from './util.js';

export interface GitCtx {
  op: 'get' | 'store' | 'erase';
  /** The request announced `capability[]=authtype`: only then may we answer with authtype/credential. */
  authtype: boolean;
}

const USAGE = `usage: git-credential-credmux <get|store|erase|capability>
git credential helper; set it up with: git config --global credential.helper credmux
`;

/** What we support beyond username/password (git-credential.adoc §capability). */
const CAPABILITIES = 'version 0\ncapability authtype\n';

const NOTHING: ProtocolOutput = output('', '', 0);

/**
 * Input we refuse: empty stdout (so git moves on to the next helper or prompts), a reason on stderr
 * for whoever runs it by hand, exit 0. The reason never quotes a value: values may be secrets.
 */
function ignored(reason: string) {
  return reply('', `credmux: ignoring the git credential request: ${reason}\n`, 0);
}

/** The attributes of one request; only the ones we act on. */
interface Attributes {
  protocol?: string;
  host?: string;
  path?: string;
  username?: string;
  password?: string;
  authtype?: string;
  credential?: string;
  password_expiry_utc?: string;
  oauth_refresh_token?: string;
  ephemeral?: string;
  capabilities: Set<string>;
}

type Field = Exclude<keyof Attributes, 'capabilities'>;
const FIELDS: ReadonlySet<string> = new Set<Field>([
  'protocol',
  'host',
  'path',
  'username',
  'password',
  'authtype',
  'credential',
  'password_expiry_utc',
  'oauth_refresh_token',
  'ephemeral',
]);

export const git: ProtocolAdapter<GitCtx> = {
  name: 'git',

  parse(argv, stdin) {
    // git appends the operation after any arguments from the helper's config line
    // (`credential.helper = "credmux --x"` runs `git credential-credmux --x get`): it is the last one.
    // We take no options, so earlier arguments are ignored.
    const op = argv[argv.length - 1];
    if (op === undefined) return reply('', USAGE, 2); // git never does this; a person does
    if (op === '--help' || op === '-h') return reply(USAGE, '', 0);
    if (op === 'capability') return reply(CAPABILITIES, '', 0);
    // gitcredentials: "helpers must silently ignore unknown operations".
    if (op !== 'get' && op !== 'store' && op !== 'erase') return { kind: 'reply', output: NOTHING };

    const text = decodeUtf8(stdin);
    if (text === undefined) return ignored('the input is not valid UTF-8');
    const read = readAttributes(text);
    if (typeof read === 'string') return ignored(read);
    const attrs = read;

    if (attrs.protocol === undefined || attrs.host === undefined) return ignored('it lacks the protocol or host field (git always sends both)');
    const protocol = attrs.protocol.toLowerCase();
    // Only HTTP credentials live here: `cert` (client-certificate passphrases), `ssh`… are not ours.
    if (protocol !== 'https' && protocol !== 'http') return { kind: 'reply', output: NOTHING };
    if (attrs.host === '') return ignored('the host field is empty');
    // We build a URL from host: anything that would move the authority (`@`, `/`, `\`, `?`, `#`) or be
    // decoded into it (`%`) must not get through, or `host=evil.com@victim.com` would ask for victim.com.
    // Nor `*`: the engine reads "https://*.x" as a wildcard pattern, and git's host is one host, so a
    // `store` must never record (nor an `erase` remove) a pattern covering every subdomain.
    if (/[\s@/\\?#%*]/.test(attrs.host)) return ignored('the host field contains characters a host name cannot have');

    const path = attrs.path ? pathOfUrl(attrs.path) : '';
    if (path === undefined) return ignored('the path field has a "." or ".." segment, so which path it names depends on the server');
    const url = `${protocol}://${attrs.host}${path}`;
    const ctx: GitCtx = { op, authtype: attrs.capabilities.has('authtype') };
    const request = toRequest(op, url, attrs, ctx.authtype);
    if (request === undefined) return { kind: 'reply', output: NOTHING }; // e.g. ephemeral or partial store
    return { kind: 'request', request, ctx };
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') {
      // A URL the engine refuses is input we refuse (exit 0, as above); a failure behind us is exit 1.
      const badInput = result.error.code === 'bad-url' || result.error.code === 'bad-request';
      return output('', line(`credmux: ${result.error.message}`), badInput ? 0 : 1);
    }
    if (ctx.op !== 'get') {
      // store/erase: git discards stdout; a refused store (already served, nothing to erase) is no failure.
      return result.op === ctx.op ? NOTHING : output('', line(`credmux: ${unexpectedResult(result)}`), 1);
    }
    if (result.op !== 'get') return output('', line(`credmux: ${unexpectedResult(result)}`), 1);
    const cred = result.credential;
    // A Docker identity token is not something git can send to an HTTP server.
    if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) return NOTHING;
    if (cred.headers) return output('', line(`credmux: ${onlyBazelMessage(result)}`), 1);
    const lines = answer(cred, ctx.authtype);
    if (lines.some(([, value]) => /[\n\r\0]/.test(value))) {
      // A line break inside a value would let the stored data inject attributes (CVE-2020-5260).
      return output('', 'credmux: the credential found for this URL contains a line break or NUL, which git cannot receive; store it again\n', 1);
    }
    return output(lines.map(([k, v]) => `${k}=${v}\n`).join(''), '', 0);
  },
};

function answer(cred: Credential, authtype: boolean): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  if (cred.kind === 'bearer' && authtype) {
    // capability[]=authtype must precede the values that depend on it.
    lines.push(['capability[]', 'authtype'], ['authtype', 'Bearer'], ['credential', cred.secret]);
  } else {
    // Without the capability, git can only send Basic: a token goes as the password.
    lines.push(['username', cred.username], ['password', cred.secret]);
  }
  if (cred.expiresAt !== undefined && Number.isFinite(cred.expiresAt) && cred.expiresAt > 0) {
    lines.push(['password_expiry_utc', String(Math.floor(cred.expiresAt))]);
  }
  if (cred.oauthRefreshToken !== undefined) lines.push(['oauth_refresh_token', cred.oauthRefreshToken]);
  return lines;
}

function toRequest(op: GitCtx['op'], url: string, a: Attributes, authtype: boolean): EngineRequest | undefined {
  // authtype/credential mean something only under the capability (git-credential.adoc).
  const bearer = authtype && a.authtype !== undefined && a.authtype.toLowerCase() === 'bearer' && a.credential !== undefined;
  switch (op) {
    case 'get':
      return a.username === undefined ? { op, url } : { op, url, username: a.username };
    case 'erase': {
      const request: EngineRequest = { op, url };
      if (a.username !== undefined) request.username = a.username;
      // With a secret, only the entry holding that secret goes (git's t0303 "erase with wrong password").
      const secret = bearer ? a.credential : a.password;
      if (secret !== undefined) request.secret = secret;
      return request;
    }
    case 'store': {
      // `ephemeral`: the caller says this credential must not outlive the operation.
      if (a.ephemeral !== undefined && isTrue(a.ephemeral)) return undefined;
      let credential: Credential;
      if (bearer) credential = { kind: 'bearer', username: a.username ?? '', secret: a.credential! };
      // Empty username and password are legal (SSO setups store `username=` / `password=`).
      else if (a.username !== undefined && a.password !== undefined) credential = { kind: 'basic', username: a.username, secret: a.password };
      else return undefined; // a partial credential: nothing to store (as git-credential-cache refuses)
      const expiry = parseExpiry(a.password_expiry_utc);
      if (expiry !== undefined) credential.expiresAt = expiry;
      if (a.oauth_refresh_token !== undefined) credential.oauthRefreshToken = a.oauth_refresh_token;
      return { op, url, credential, via: 'git' };
    }
  }
}

/**
 * git's `path` as the path of the URL we build. git percent-decodes the path before it calls a helper
 * (credential_from_url), so the text is decoded once already: it must not be decoded again. Parsed as
 * it is, `other/%2e%2e/team/x` (the remote said `other/%252e%252e/team/x`, a path inside `other/`)
 * would read as `/team/x` and be served /team's credential. So every ASCII character RFC 3986 does
 * not allow as it is in a path is escaped: "%" (an escape would be decoded a second time), "?" and
 * "#" (they would end the path), a backslash (a separator to the WHATWG parser), controls, spaces,
 * brackets and the like. Non-ASCII is left for the parser to encode as UTF-8, exactly as it encodes
 * a rule's path, so the two compare equal.
 * A "." or ".." segment left after git's decoding is refused: the remote had `..` or `%2e%2e`, and
 * whether the request climbs out depends on the client and the server, so no path is safe to assume.
 */
export function pathOfUrl(decoded: string): string | undefined {
  const segments = decoded.split('/');
  if (segments.some((s) => s === '.' || s === '..')) return undefined;
  // Unicode spaces too: no URL holds one as it is.
  return `/${decoded.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/\u0080-\uffff]|\s/g, (c) => encodeURIComponent(c).replace(/^[^%].*/, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`))}`;
}

/** git_config_bool's spellings of true. */
function isTrue(value: string): boolean {
  return /^(1|true|yes|on)$/i.test(value);
}

/** Unix seconds; git reads `0` (and garbage) as "never expires". */
function parseExpiry(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,15}$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
}

/**
 * git's reader, minus what makes it exploitable in other languages: split on LF only (never a bare
 * CR, which Node's readline would treat as a line end), strip one CR before the LF, stop at a blank
 * line, at EOF, or at a line without `=` (git warns and stops there too). Returns the reason on refusal.
 */
function readAttributes(text: string): Attributes | string {
  const attrs: Attributes = { capabilities: new Set() };
  const seen = new Set<string>();
  for (let raw of text.split('\n')) {
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw === '') break;
    if (/[\r\0]/.test(raw)) return 'a line contains a carriage return or NUL (request smuggling)';
    const eq = raw.indexOf('=');
    if (eq < 0) break;
    const key = raw.slice(0, eq);
    const value = raw.slice(eq + 1);
    if (key === 'capability[]') {
      if (value === '')
        attrs.capabilities.clear(); // an empty value resets a multi-valued key
      else attrs.capabilities.add(value);
      continue;
    }
    if (key === 'url') {
      const parts = splitUrl(value);
      if (parts === undefined) return 'the url field is not a scheme://[user@]host[/path] URL';
      for (const [k, v] of Object.entries(parts) as Array<[Field, string]>) {
        if (!assign(attrs, seen, k, v)) return `the ${k} field is given twice`;
      }
      continue;
    }
    // Every scalar field at most once: a second `host=` is how smuggled lines take effect.
    if (FIELDS.has(key) && !assign(attrs, seen, key as Field, value)) return `the ${key} field is given twice`;
    // Anything else (wwwauth[], state[], future attributes) we do not use.
  }
  return attrs;
}

function assign(attrs: Attributes, seen: Set<string>, key: Field, value: string): boolean {
  if (seen.has(key)) return false;
  seen.add(key);
  attrs[key] = value;
  return true;
}

/**
 * git's `credential_from_url`: `proto://[user[:pass]@]host[/path]`, components percent-decoded, path
 * without trailing slashes; parts the URL lacks stay unset. Undefined when it is not such a URL, or
 * when decoding yields a line break, CR or NUL (git dies on those too).
 */
function splitUrl(url: string): Partial<Record<Field, string>> | undefined {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd <= 0) return undefined;
  const rest = url.slice(schemeEnd + 3);
  const authEnd = rest.search(/[/?#]/);
  const authority = authEnd < 0 ? rest : rest.slice(0, authEnd);
  // The FIRST "@" as git does: "a@b@c" has host "b@c", which the host check then refuses.
  const at = authority.indexOf('@');
  const parts: Partial<Record<Field, string>> = {};
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    parts.username = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (colon >= 0) parts.password = userinfo.slice(colon + 1);
  }
  parts.host = authority.slice(at + 1);
  if (authEnd >= 0) {
    const path = rest.slice(authEnd).replace(/^\/+/, '').replace(/\/+$/, '');
    if (path !== '') parts.path = path;
  }
  for (const key of Object.keys(parts) as Field[]) {
    const decoded = percentDecode(parts[key]!);
    if (decoded === undefined || /[\n\r\0]/.test(decoded)) return undefined;
    parts[key] = decoded;
  }
  parts.protocol = url.slice(0, schemeEnd); // git does not decode the scheme
  return parts;
}

function percentDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
