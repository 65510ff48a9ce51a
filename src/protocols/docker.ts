// Docker credential helper protocol (docs/protocols.md §3), as docker-credential-helpers' `Serve` speaks it:
// one action argument; a server URL or JSON on stdin; EVERY message (errors too) on stdout, exit 1.
// Clients recognise "not found" only by the exact text, so that string is sacred.
import {
  DOCKER_HUB_HOSTS,
  DOCKER_HUB_KEY,
  DOCKER_HUB_URL,
  registryHost,
  type EngineResult,
  type ListedEntry,
  type ProtocolAdapter,
  onlyBazelMessage,
} from '../model/types.js';
import { VERSION } from '../platform/version.js';
import { decodeUtf8, line, output, own, parseJsonObject, reply, unexpectedResult, type JsonObject } from './util.js';

const NAME = 'docker-credential-credmux';
const PACKAGE = 'github.com/credmux/credmux';
const USAGE = `Usage: ${NAME} <store|get|erase|list|version>\n`;

export const NOT_FOUND = 'credentials not found in native keychain';
const MISSING_URL = 'no credentials server URL';
const MISSING_USERNAME = 'no credentials username';
/**
 * The engine reads a URL starting "*." as a wildcard pattern (for `credmux login '*.example.com'`);
 * a registry's server URL names one host, so a store from Docker must never record a pattern.
 */
const WILDCARD = 'credmux: the server URL has "*" in its host name; a registry is one host (use `credmux login` for wildcard patterns)';

export type DockerCtx = { action: 'get'; serverURL: string } | { action: 'store' | 'erase' | 'list' };

/** An error in Docker's shape: the message on stdout, exit 1. */
function fail(message: string) {
  return reply(line(message), '', 1);
}

export const docker: ProtocolAdapter<DockerCtx> = {
  name: 'docker',

  parse(argv, stdin) {
    if (argv.length !== 1) return reply(USAGE, '', 1);
    const action = argv[0]!;
    switch (action) {
      case '--version':
      case '-v':
      case 'version':
        return reply(`${NAME} (${PACKAGE}) ${VERSION}\n`, '', 0);
      case '--help':
      case '-h':
        return reply(USAGE, '', 0);
      case 'list':
        return { kind: 'request', request: { op: 'list' }, ctx: { action } }; // stdin is the literal "unused"
      case 'get':
      case 'erase': {
        const serverURL = readServerURL(stdin);
        if (!serverURL.ok) return fail(serverURL.message);
        if (registryHost(serverURL.value).includes('*')) return fail(WILDCARD);
        const url = lookupUrl(serverURL.value);
        if (action === 'get') return { kind: 'request', request: { op: 'get', url }, ctx: { action, serverURL: serverURL.value } };
        return { kind: 'request', request: { op: 'erase', url }, ctx: { action } }; // every username for that server
      }
      case 'store': {
        const text = decodeUtf8(stdin);
        if (text === undefined) return fail('credmux: the credentials on stdin are not valid UTF-8');
        const creds = readCredentials(text);
        if (typeof creds === 'string') return fail(creds);
        const serverURL = creds.ServerURL.trim();
        if (serverURL === '') return fail(MISSING_URL);
        if (creds.Username === '') return fail(MISSING_USERNAME);
        if (/[\s\u0000-\u001f\u007f]/.test(serverURL)) return fail('credmux: the server URL contains whitespace or control characters');
        if (registryHost(serverURL).includes('*')) return fail(WILDCARD);
        // `<token>` is kept as the username: it marks an identity token and `get` must give it back.
        return {
          kind: 'request',
          request: {
            op: 'store',
            url: lookupUrl(serverURL),
            credential: { kind: 'basic', username: creds.Username, secret: creds.Secret },
            via: 'docker',
          },
          ctx: { action },
        };
      }
      default:
        return fail(`${NAME}: unknown action: ${action}`);
    }
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') return output(line(`credmux: ${result.error.message}`), '', 1);
    if (result.op !== ctx.action) return output(line(`credmux: ${unexpectedResult(result)}`), '', 1);
    switch (result.op) {
      case 'get': {
        const cred = result.credential;
        if (cred === null || ctx.action !== 'get') return output(`${NOT_FOUND}\n`, '', 1);
        if (cred.headers) return output(line(`credmux: ${onlyBazelMessage(result)}`), '', 1);
        // The client pre-fills ServerURL with what it asked; echo it. A bearer's Username is how it is
        // presented as Basic (the engine supplies one); `<token>` comes back as stored.
        const body = { ServerURL: ctx.serverURL, Username: cred.username, Secret: cred.secret };
        return output(`${JSON.stringify(body)}\n`, '', 0);
      }
      case 'store':
        return output('', '', 0); // stored: false means it was already there: still a success
      case 'erase':
        // As the keychain helpers do: erasing what is not there is "not found" (docker logout warns).
        return result.removed > 0 ? output('', '', 0) : output(`${NOT_FOUND}\n`, '', 1);
      case 'list':
        return output(`${JSON.stringify(listing(result.entries))}\n`, '', 0);
    }
  },
};

/** `get`/`erase` stdin: the raw server URL, no newline; the reference helper TrimSpaces it. */
function readServerURL(stdin: Buffer): { ok: true; value: string } | { ok: false; message: string } {
  const text = decodeUtf8(stdin);
  if (text === undefined) return { ok: false, message: 'credmux: the server URL on stdin is not valid UTF-8' };
  const value = text.trim();
  if (value === '') return { ok: false, message: MISSING_URL };
  // The reference helper would glue lines together; a URL with a line break or space inside is a mistake.
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return { ok: false, message: 'credmux: the server URL contains whitespace or control characters' };
  return { ok: true, value };
}

/**
 * What to ask the engine for a Docker server URL: Docker Hub under one name whatever the alias;
 * anything else as `host[:port]` (docker's ConvertToHostname: scheme and path dropped), which the
 * engine matches by host and port, and stores as https.
 */
function lookupUrl(serverURL: string): string {
  const host = registryHost(serverURL);
  return DOCKER_HUB_HOSTS.has(host.toLowerCase()) ? DOCKER_HUB_URL : host;
}

type DockerCredentials = { ServerURL: string; Username: string; Secret: string };
const CREDENTIAL_FIELDS = ['ServerURL', 'Username', 'Secret'] as const;

/**
 * Go's encoding/json into `struct{ServerURL, Username, Secret string}`: field names match without
 * regard to case, unknown fields are ignored, `null` leaves a field empty, other types are an error.
 * Where Go would let the last of two case-variants win silently, we refuse: docker never sends both,
 * and a second spelling is how a crafted request would hide a different server.
 */
function readCredentials(text: string): DockerCredentials | string {
  const expected = 'expected {"ServerURL":"…","Username":"…","Secret":"…"} on stdin';
  const parsed = parseJsonObject(text);
  if (!parsed.ok) {
    if (parsed.reason === 'duplicate') return `credmux: the credentials on stdin name ${JSON.stringify(parsed.key)} twice in one object; ${expected}`;
    return `credmux: the credentials on stdin are not ${parsed.reason === 'syntax' ? 'valid JSON' : 'a JSON object'}; ${expected}`;
  }
  const creds: DockerCredentials = { ServerURL: '', Username: '', Secret: '' };
  const seen = new Set<string>();
  for (const key of Object.keys(parsed.value)) {
    const field = CREDENTIAL_FIELDS.find((f) => f.toLowerCase() === key.toLowerCase());
    if (field === undefined) continue;
    if (seen.has(field)) return `credmux: the credentials on stdin name "${field}" twice (in different case); ${expected}`;
    seen.add(field);
    const value = own(parsed.value as JsonObject, key);
    if (value === null) continue;
    if (typeof value !== 'string') return `credmux: "${field}" must be a string; ${expected}`;
    creds[field] = value;
  }
  return creds;
}

/**
 * `list`: `{"<server>": "<username>"}` with keys `get` answers for, as docker CLI would ask:
 * Docker Hub under its v1 key, other registries as `host[:port]`. An entry with a path, a wildcard
 * or a non-HTTP URL is not a registry. Of several users for one server, the first listed wins
 * (Docker shows one). Keys sorted, as Go's encoder writes a map.
 */
function listing(entries: readonly ListedEntry[]): Record<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    const m = /^https?:\/\/([^/*]+)$/i.exec(entry.url.replace(/\/+$/, ''));
    if (!m) continue;
    const host = m[1]!;
    const key = DOCKER_HUB_HOSTS.has(host.toLowerCase()) ? DOCKER_HUB_KEY : host;
    if (!out.has(key)) out.set(key, entry.username);
  }
  const sorted: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of [...out.keys()].sort()) sorted[key] = out.get(key)!;
  return sorted;
}
