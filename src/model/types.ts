// The vocabulary shared by the adapters, the engine (resolver), the stores and the daemon.
// Everything here is plain JSON-serialisable data: it crosses the daemon socket as is.

/** A credential as served to a caller. Adapters decide how to present it. */
export interface Credential {
  /** `basic`: username + password. `bearer`: a token; `username` is how Basic-only protocols present it. */
  kind: 'basic' | 'bearer';
  username: string;
  /** The password or the token. */
  secret: string;
  /** Unix seconds; absent when unknown or never. */
  expiresAt?: number;
  /** git's `oauth_refresh_token`, kept and echoed back when git stored one. */
  oauthRefreshToken?: string;
  /**
   * HTTP headers that ARE the credential, made for one request URL (an S3 SigV4 signature): only
   * Bazel's door, which answers with headers, can present them; `secret` is then empty. Never stored.
   */
  headers?: Record<string, string[]>;
}

/**
 * A token presented with no username still needs one for Basic-only protocols (Docker, keyring, git);
 * a token a helper stores without one (Terraform's `store`) is kept under it.
 */
export const DEFAULT_TOKEN_USERNAME = '__token__';

/** Docker's marker username for registry identity tokens (docs/protocols.md §3.2). */
export const IDENTITY_TOKEN_USERNAME = '<token>';

/**
 * Docker Hub has several names (docs/protocols.md §3.3–3.4): the docker CLI asks a helper for
 * `https://index.docker.io/v1/`, containers/image (skopeo, podman, buildah) for `docker.io`, and pulls
 * go to `registry-1.docker.io`. credmux keeps one entry for all of them, under DOCKER_HUB_URL, so a
 * store or a login under any name is found by a request under any other.
 */
export const DOCKER_HUB_URL = 'https://index.docker.io';
/** The docker CLI's key for Docker Hub (`getAuthConfigKey`): what its `credHelpers` and a helper's `list` use. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
export const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The registry a Docker server URL names, as docker's ConvertToHostname gives it: scheme and path dropped. */
export function registryHost(serverURL: string): string {
  const scheme = serverURL.indexOf('://');
  const rest = scheme >= 0 ? serverURL.slice(scheme + 3) : serverURL;
  const slash = rest.indexOf('/');
  return slash >= 0 ? rest.slice(0, slash) : rest;
}

/** Does this server URL, registry name or login URL name Docker Hub (under any of its names)? */
export function isDockerHub(serverURL: string): boolean {
  return DOCKER_HUB_HOSTS.has(registryHost(serverURL.trim()).toLowerCase());
}

/**
 * The credential's own fields, rebuilt in one order, for what is kept for long (a cached token, a
 * daemon's answer): a copy made by spreading gets a hidden class of its own in optimized code, or
 * once frozen (V8 cannot share the frozen transition of a cloned map), and thousands of kept
 * credentials would each carry one (a heap snapshot counted 10,000). Each shape is one literal, so
 * every field sits in the object itself rather than in a property array added later.
 */
export function plainCredential(c: Credential): Credential {
  const { kind, username, secret, expiresAt, oauthRefreshToken, headers } = c;
  if (headers !== undefined) return expiresAt !== undefined ? { kind, username, secret, expiresAt, headers } : { kind, username, secret, headers };
  if (oauthRefreshToken !== undefined) {
    return expiresAt !== undefined ? { kind, username, secret, expiresAt, oauthRefreshToken } : { kind, username, secret, oauthRefreshToken };
  }
  return expiresAt !== undefined ? { kind, username, secret, expiresAt } : { kind, username, secret };
}

/** The helper protocols (docs/protocols.md §6). */
export type ProtocolName = 'bazel' | 'git' | 'docker' | 'keyring' | 'terraform' | 'go' | 'cargo' | 'kubectl' | 'kubelet' | 'pnpm';
export const PROTOCOL_NAMES: readonly ProtocolName[] = [
  'bazel',
  'git',
  'docker',
  'keyring',
  'terraform',
  'go',
  'cargo',
  'kubectl',
  'kubelet',
  'pnpm',
];

/** A stored secret. Stored entries are rules too: `url` is their match pattern. */
export interface StoredEntry extends Credential {
  /** Normalised match pattern, e.g. `https://pkgs.example.com` or `http://127.0.0.1:8080/simple`. */
  url: string;
  /** ISO time of the last write, for `list`. */
  updatedAt?: string;
  /**
   * The protocols whose tools it was stored for: the one a helper stored it through (`docker login`,
   * git's `store`, `keyring set`), or what `credmux login --for` named. Absent: every tool (a login
   * without --for, and everything stored before this existed). Every protocol is still SERVED the
   * entry; this only decides which tools `credmux setup` wires the host into.
   */
  protocols?: ProtocolName[];
}

/**
 * Sort order for stored entries, the latest write first. updatedAt is an ISO time, so plain string
 * order is time order: no localeCompare, which would load ICU's collation data into every process
 * that sorts (measured: +2.5 MB RSS) for no difference in the result.
 */
export function newestFirst(a: StoredEntry, b: StoredEntry): number {
  const x = a.updatedAt ?? '';
  const y = b.updatedAt ?? '';
  return x < y ? 1 : x > y ? -1 : 0;
}

/** The identity of a stored entry: one secret per (pattern, username). */
export interface EntryKey {
  url: string;
  username: string;
}

/** What a protocol asks the engine. `url` is as the caller gave it (full URL, or schemeless `host[:port][/path]`). */
export type EngineRequest =
  | { op: 'get'; url: string; username?: string }
  /**
   * `via`: the protocol a helper stored it through, added to what the entry is for. `protocols`: what a
   * person said it is for (`credmux login --for`; 'all' without), replacing what it was for.
   */
  | { op: 'store'; url: string; credential: Credential; via?: ProtocolName; protocols?: ProtocolName[] | 'all' }
  | { op: 'erase'; url: string; username?: string; secret?: string }
  | { op: 'list' };

/** Describes the rule that answered, for humans (`credmux get`) — never a secret. */
export interface RuleInfo {
  /** Stable identity: `config:<index or id>` or `stored:<url>#<username>`. */
  id: string;
  match: string;
  source: string;
}

/**
 * What every door but Bazel's says for a credential that is a per-request signature (Credential.headers):
 * they can hand on only a username, a password or one header for many URLs, and an S3 request must
 * carry its own SigV4 headers.
 */
export function onlyBazelMessage(result: { rule?: RuleInfo }): string {
  const rule = result.rule ? `rule "${result.rule.id.replace(/^config:/, '')}" ` : 'the rule for this URL ';
  return `${rule}signs each request with AWS SigV4 (S3): S3 signing only serves Bazel, whose helper answers with headers; this tool cannot send them`;
}

/** A stored entry as `list` shows it: never the secret. */
export interface ListedEntry {
  url: string;
  username: string;
  kind: 'basic' | 'bearer';
  expiresAt?: number;
  updatedAt?: string;
}

export type EngineResult =
  | { op: 'get'; credential: Credential | null; rule?: RuleInfo }
  | { op: 'store'; stored: boolean }
  | { op: 'erase'; removed: number }
  | { op: 'list'; entries: ListedEntry[] }
  | { op: 'error'; error: CredmuxErrorData };

/** A typed error, turned into protocol output only at the edge. The message must never carry a secret. */
export interface CredmuxErrorData {
  code: ErrorCode;
  message: string;
}

export type ErrorCode =
  | 'bad-request' // malformed input from the caller
  | 'bad-url' // a URL that cannot be matched (odd scheme, empty host, …)
  | 'config' // the config file is invalid
  | 'store' // the secret store failed or refused
  | 'source' // a credential source failed (env var missing, endpoint down, …)
  | 'caller-env' // (daemon only) the request lacks a variable the matched rule reads: resolve in process
  | 'deferred' // (in process, cold start) the matched rule mints tokens: ask the daemon being started
  | 'expired' // (daemon only) the caller's deadline passed before its write committed: nothing changed, resolve in process
  | 'internal';

export class CredmuxError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'CredmuxError';
    this.code = code;
  }
  toData(): CredmuxErrorData {
    return { code: this.code, message: this.message };
  }
}

/** What an entry writes back to its caller. */
export interface ProtocolOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * A protocol adapter is pure: bytes in, request out; result in, bytes out. `Ctx` carries whatever the
 * adapter needs from the request to format the answer (git capabilities, keyring mode, Docker's ServerURL…).
 */
export type Parsed<Ctx> = { kind: 'request'; request: EngineRequest; ctx: Ctx } | { kind: 'reply'; output: ProtocolOutput };

/** The caller's environment, as an adapter may read it (kubectl passes its request in KUBERNETES_EXEC_INFO). */
export type CallerEnv = Readonly<Record<string, string | undefined>>;

export interface ProtocolAdapter<Ctx = unknown> {
  readonly name: ProtocolName;
  /**
   * False for a protocol whose request does not come on stdin (kubectl's exec plugin: argv and
   * KUBERNETES_EXEC_INFO). Its stdin is then never read: it may be the person's terminal or their data.
   */
  readonly readsStdin?: boolean;
  /** argv excludes the program name: e.g. `['get']`. */
  parse(argv: readonly string[], stdin: Buffer, env?: CallerEnv): Parsed<Ctx>;
  format(ctx: Ctx, result: EngineResult): ProtocolOutput;
}

/**
 * A protocol spoken as a conversation rather than one request per process (cargo, docs/protocols.md
 * §10): the helper speaks first, then answers each request line with one line, until stdin ends.
 * `parse` gets one request line as its stdin; `format` gives the answer line.
 */
export interface LineProtocol<Ctx = unknown> extends ProtocolAdapter<Ctx> {
  /** What argv asks for: the conversation (with the greeting to print first), or an answer by itself (usage, version). */
  start(argv: readonly string[]): { kind: 'conversation'; hello: string } | { kind: 'reply'; output: ProtocolOutput };
  /** The answer to a request line over the size limit; the conversation ends after it. */
  readonly tooLarge: ProtocolOutput;
}
