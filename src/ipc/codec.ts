// The daemon's wire format (protocols/daemon/message.schema.json): newline-delimited JSON over the
// Unix socket, many messages per connection, every message carrying the protocol version `v`.
//
//   client → daemon  {"v":2,"id":7,"req":<EngineRequest>,"deadline"?:…}   {"v":2,"id":8,"ctl":"ping"|"status"|"shutdown"}
//   daemon → client  {"v":2,"id":7,"res":<EngineResult>}        {"v":2,"id":8,"pong"|"status"|"shutdown":…}
//                    {"v":2,"id":7,"progress":true}             (still working on 7: a slow source)
//                    {"v":2,"id":7|null,"error":{"code":…,"message":…}}
//
// Kept stable across versions, so an old client and a new daemon (or the reverse) never misread each
// other: the socket path; a message whose `v` is not the daemon's gets {"v":<daemon's>,"error":
// {"code":"version","protocol":<daemon's>,…}}; and {"v":<daemon's>,"id":…,"ctl":"shutdown"} stops it.
// Imported by the client hot path: plain code, no dependencies.
import type { CacheReport } from '../cache/registry.js';
import { PROTOCOL_NAMES, type Credential, type EngineRequest, type EngineResult, type ProtocolName } from '../model/types.js';
import type { CallerEnv } from '../sources/env-names.js';

/**
 * 2: requests carry `deadline` (writes), the daemon sends `progress` while a slow answer is under way
 * and refuses with `expired`; the caller context includes the session bus (docs/architecture.md,
 * "Versioning"). A version-1 helper meeting this daemon resolves in process; this helper meeting a
 * version-1 daemon asks it to leave.
 */
export const PROTOCOL_VERSION = 2;
/** Largest message either side accepts, newline excluded. */
export const MAX_MESSAGE_BYTES = 1 << 20;

export type ControlName = 'ping' | 'status' | 'shutdown';

export type ClientMessage =
  { v: number; id: number; req: EngineRequest; ctx?: string; env?: CallerEnv; deadline?: number } | { v: number; id: number; ctl: ControlName };

export type WireErrorCode =
  | 'version' // the message's `v` is not the daemon's: see `protocol`
  | 'bad-json' // the line is not JSON
  | 'bad-message' // JSON, but not a message of this version
  | 'too-large' // longer than MAX_MESSAGE_BYTES; the rest of the line was skipped
  | 'context' // the client runs with another config/store environment than the daemon: resolve in process
  | 'env' // the matched rule reads a variable the request did not carry (see env-names.json): send it, or resolve in process
  | 'engine' // the daemon could not run the engine (it failed to open): resolve in process
  | 'expired' // the request's deadline passed before the daemon could start it or commit its write: nothing changed
  | 'shutting-down';

export interface WireError {
  code: WireErrorCode;
  message: string;
  /** With code "version": the protocol version this daemon speaks, and its package version. */
  protocol?: number;
  version?: string;
}

export interface Pong {
  pid: number;
  version: string;
  protocol: number;
}

/** `credmux daemon status`: JSON, never a secret. */
export interface DaemonStatus {
  pid: number;
  socket: string;
  version: string;
  protocol: number;
  startedAt: string;
  uptimeSeconds: number;
  /** 0 = never exits on its own. */
  idleTimeoutSeconds: number;
  logFile: string;
  /** The caller context this daemon serves (context.ts): a helper whose own differs is not answered. */
  context: string;
  /** The secret store its engine serves from, once open: `kind` and `location` as the store names them. */
  store?: { kind: string; location: string };
  requests: { total: number; get: number; store: number; erase: number; list: number; errors: number; contextMismatch: number; expired: number };
  connections: { open: number; total: number };
  /** Every token cache in the daemon: counters and entries (keys are rule identities, never secrets). */
  cache: CacheReport;
}

export type DaemonMessage =
  | { v: number; id: number; res: EngineResult }
  | { v: number; id: number; pong: Pong }
  | { v: number; id: number; status: DaemonStatus }
  | { v: number; id: number; shutdown: true }
  /** The daemon is still working on request `id` (sent while a slow answer is under way). */
  | { v: number; id: number; progress: true }
  | { v: number; id: number | null; error: WireError };

/** The JSON of results the engine shares: it freezes an answer it gives again and again (engine.ts, Hit). */
const sharedJson = new WeakMap<object, string>();

export function encode(msg: ClientMessage | DaemonMessage): string {
  // A daemon's answers from memory: the result is serialized once, then only the id changes. The text
  // is what JSON.stringify gives for {v, id, res} (the only fields such a message has).
  if ('res' in msg && Object.isFrozen(msg.res)) {
    let res = sharedJson.get(msg.res);
    if (res === undefined) {
      res = flatCopy(JSON.stringify(msg.res));
      sharedJson.set(msg.res, res);
    }
    return `{"v":${msg.v},"id":${msg.id},"res":${res}}\n`;
  }
  return `${JSON.stringify(msg)}\n`;
}

/**
 * The same text as one flat string. JSON.stringify builds its result from pieces joined as a tree
 * (V8's cons strings), and a string kept for the daemon's life keeps every piece and join: ~40% more
 * memory than the text (measured on 10,000 answers). JSON.stringify's output is well-formed UTF-16,
 * so the round trip through UTF-8 gives back exactly the same characters.
 */
function flatCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

export function wireError(id: number | null, code: WireErrorCode, message: string, extra: Partial<WireError> = {}): DaemonMessage {
  return { v: PROTOCOL_VERSION, id, error: { code, message, ...extra } };
}

/** Splits a byte stream into lines, bounding each line's size without ever buffering more than the bound. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(private readonly maxBytes: number = MAX_MESSAGE_BYTES) {}

  /** Complete lines in this chunk (UTF-8, CR LF accepted), and 'too-large' once per oversized line. */
  push(chunk: Buffer): (string | { tooLarge: true })[] {
    const out: (string | { tooLarge: true })[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      // Nothing held from earlier chunks: a line ending here is decoded in place, without a copy.
      const inThisChunk = this.parts.length === 0;
      if (!this.skipping) {
        if (this.size + (end - start) > this.maxBytes) {
          // Report once, drop what we hold, and discard the rest of this line as it streams in.
          out.push({ tooLarge: true });
          this.parts = [];
          this.size = 0;
          this.skipping = true;
        } else if (end > start && !(inThisChunk && nl !== -1)) {
          this.parts.push(chunk.subarray(start, end));
          this.size += end - start;
        }
      }
      if (nl === -1) break;
      if (!this.skipping) {
        let line = inThisChunk ? chunk.toString('utf8', start, end) : Buffer.concat(this.parts).toString('utf8');
        if (line.endsWith('\r')) line = line.slice(0, -1);
        out.push(line);
      }
      if (this.parts.length) this.parts = [];
      this.size = 0;
      this.skipping = false;
      start = nl + 1;
    }
    // Copy what we keep so the caller's (possibly large) chunk can be freed.
    if (this.parts.length && this.parts[this.parts.length - 1]!.buffer === chunk.buffer) {
      this.parts[this.parts.length - 1] = Buffer.from(this.parts[this.parts.length - 1]!);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation. Hand-written (no ajv on the hot path) and strict: unknown fields are refused, so a
// message from a different protocol revision is never half-understood. Error texts name fields,
// never echo values (a value may be a secret). The schema file says the same; a test keeps them equal.

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// The fields each message may have (made once: an array literal in the check would be a new array per message).
const CREDENTIAL_FIELDS = ['kind', 'username', 'secret', 'expiresAt', 'oauthRefreshToken'] as const;
const GET_FIELDS = ['op', 'url', 'username'] as const;
const STORE_FIELDS = ['op', 'url', 'credential', 'via'] as const;
const ERASE_FIELDS = ['op', 'url', 'username', 'secret'] as const;
const LIST_FIELDS = ['op'] as const;
const CONTROL_FIELDS = ['v', 'id', 'ctl'] as const;
const REQUEST_FIELDS = ['v', 'id', 'req', 'ctx', 'env', 'deadline'] as const;

function onlyKeys(o: Obj, allowed: readonly string[], where: string): string | undefined {
  // for…in, not Object.keys: no array per message (a JSON.parse result has only own, enumerable keys).
  for (const k in o) if (!allowed.includes(k)) return `unknown field ${where}${k}`;
  return undefined;
}

function str(o: Obj, k: string, where: string, optional = false): string | undefined {
  if (o[k] === undefined && optional) return undefined;
  if (typeof o[k] !== 'string') return `${where}${k} must be a string`;
  return undefined;
}

export function isValidId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
}

function checkCredential(c: unknown): string | undefined {
  const w = 'req.credential.';
  if (!isObj(c)) return 'req.credential must be an object';
  return (
    onlyKeys(c, CREDENTIAL_FIELDS, w) ??
    (c.kind === 'basic' || c.kind === 'bearer' ? undefined : `${w}kind must be "basic" or "bearer"`) ??
    str(c, 'username', w) ??
    str(c, 'secret', w) ??
    (c.expiresAt === undefined || (typeof c.expiresAt === 'number' && Number.isFinite(c.expiresAt)) ? undefined : `${w}expiresAt must be a number`) ??
    str(c, 'oauthRefreshToken', w, true)
  );
}

/** Checks an EngineRequest from the wire; returns a copy holding only known fields, or a problem. */
export function checkEngineRequest(r: unknown): { ok: true; req: EngineRequest } | { ok: false; problem: string } {
  if (!isObj(r)) return { ok: false, problem: 'req must be an object' };
  const w = 'req.';
  let problem: string | undefined;
  switch (r.op) {
    case 'get':
      problem = onlyKeys(r, GET_FIELDS, w) ?? str(r, 'url', w) ?? str(r, 'username', w, true);
      if (!problem) {
        // Built field by field: a conditional spread costs more than the rest of the check (every request is a get).
        const get: Extract<EngineRequest, { op: 'get' }> = { op: 'get', url: r.url as string };
        if (r.username !== undefined) get.username = r.username as string;
        return { ok: true, req: get };
      }
      break;
    case 'store':
      problem =
        onlyKeys(r, STORE_FIELDS, w) ??
        str(r, 'url', w) ??
        checkCredential(r.credential) ??
        (r.via === undefined || (PROTOCOL_NAMES as readonly unknown[]).includes(r.via)
          ? undefined
          : `${w}via must be one of ${PROTOCOL_NAMES.join(', ')}`);
      if (!problem) {
        const c = r.credential as Obj;
        const credential: Credential = { kind: c.kind as Credential['kind'], username: c.username as string, secret: c.secret as string };
        if (c.expiresAt !== undefined) credential.expiresAt = c.expiresAt as number;
        if (c.oauthRefreshToken !== undefined) credential.oauthRefreshToken = c.oauthRefreshToken as string;
        const store: Extract<EngineRequest, { op: 'store' }> = { op: 'store', url: r.url as string, credential };
        if (r.via !== undefined) store.via = r.via as ProtocolName;
        return { ok: true, req: store };
      }
      break;
    case 'erase':
      problem = onlyKeys(r, ERASE_FIELDS, w) ?? str(r, 'url', w) ?? str(r, 'username', w, true) ?? str(r, 'secret', w, true);
      if (!problem) {
        return {
          ok: true,
          req: {
            op: 'erase',
            url: r.url as string,
            ...(r.username !== undefined && { username: r.username as string }),
            ...(r.secret !== undefined && { secret: r.secret as string }),
          },
        };
      }
      break;
    case 'list':
      problem = onlyKeys(r, LIST_FIELDS, w);
      if (!problem) return { ok: true, req: { op: 'list' } };
      break;
    default:
      problem = 'req.op must be one of get, store, erase, list';
  }
  return { ok: false, problem: problem ?? 'invalid req' };
}

export type DecodedClientLine =
  | { kind: 'empty' }
  | { kind: 'request'; id: number; req: EngineRequest; ctx?: string; env?: CallerEnv; deadline?: number }
  | { kind: 'control'; id: number; ctl: ControlName }
  | { kind: 'invalid'; reply: DaemonMessage };

/** Decodes one line a client sent. `version` is the daemon's package version, for version errors. */
export function decodeClientLine(line: string, version: string): DecodedClientLine {
  // A message starts with "{": only other lines need the (copying) whitespace check.
  if (line.charCodeAt(0) !== 0x7b && line.trim() === '') return { kind: 'empty' };
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reply: wireError(null, 'bad-json', 'the message is not valid JSON') };
  }
  if (!isObj(msg)) return { kind: 'invalid', reply: wireError(null, 'bad-message', 'a message must be a JSON object') };
  const id = isValidId(msg.id) ? msg.id : null;
  // The version is checked before anything else: a message of another version is never interpreted.
  if (msg.v !== PROTOCOL_VERSION) {
    const got = typeof msg.v === 'number' || typeof msg.v === 'string' ? ` ${JSON.stringify(msg.v)}` : msg.v === undefined ? ' (none)' : '';
    return {
      kind: 'invalid',
      reply: wireError(id, 'version', `protocol version${got} not spoken here: this daemon speaks ${PROTOCOL_VERSION}`, {
        protocol: PROTOCOL_VERSION,
        version,
      }),
    };
  }
  if (id === null) return { kind: 'invalid', reply: wireError(null, 'bad-message', 'id must be a non-negative integer') };
  const bad = (problem: string): DecodedClientLine => ({ kind: 'invalid', reply: wireError(id, 'bad-message', problem) });
  if ('ctl' in msg) {
    const extra = onlyKeys(msg, CONTROL_FIELDS, '');
    if (extra) return bad(extra);
    if (msg.ctl !== 'ping' && msg.ctl !== 'status' && msg.ctl !== 'shutdown') return bad('ctl must be one of ping, status, shutdown');
    return { kind: 'control', id, ctl: msg.ctl };
  }
  if ('req' in msg) {
    const extra = onlyKeys(msg, REQUEST_FIELDS, '');
    if (extra) return bad(extra);
    if (msg.ctx !== undefined && typeof msg.ctx !== 'string') return bad('ctx must be a string');
    if (msg.deadline !== undefined && !isValidId(msg.deadline)) return bad('deadline must be a non-negative integer (ms on the monotonic clock)');
    const env = checkCallerEnv(msg.env);
    if (typeof env === 'string') return bad(env);
    const checked = checkEngineRequest(msg.req);
    if (!checked.ok) return bad(checked.problem);
    const request: DecodedClientLine & { kind: 'request' } = { kind: 'request', id, req: checked.req };
    if (msg.ctx !== undefined) request.ctx = msg.ctx as string;
    if (env) request.env = env;
    if (msg.deadline !== undefined) request.deadline = msg.deadline as number;
    return request;
  }
  return bad('a message needs req or ctl');
}

/** The client's check of a daemon reply: well-formed enough to act on, else treated as no answer. */
export function decodeDaemonLine(line: string): DaemonMessage | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObj(msg) || typeof msg.v !== 'number') return undefined;
  if (isObj(msg.error) && typeof msg.error.code === 'string') return msg as DaemonMessage;
  if (msg.v !== PROTOCOL_VERSION || !isValidId(msg.id)) return undefined;
  if (isObj(msg.res) && typeof msg.res.op === 'string') return msg as DaemonMessage;
  if (isObj(msg.pong) || isObj(msg.status) || msg.shutdown === true || msg.progress === true) return msg as DaemonMessage;
  return undefined;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ENV_NAMES = 256;

/**
 * Names already checked against ENV_NAME: every request carries the same few (those env-names.json
 * lists), so the daemon tests each once. Bounded, as a client may send any names it likes.
 */
const goodNames = new Set<string>();
const GOOD_NAMES_MAX = 1024;

function isEnvName(name: string): boolean {
  if (goodNames.has(name)) return true;
  if (!ENV_NAME.test(name)) return false;
  if (goodNames.size >= GOOD_NAMES_MAX) goodNames.clear();
  goodNames.add(name);
  return true;
}

/**
 * The caller's values of the variables the rules read: names → string, or null when unset. Checked in
 * place and handed on as JSON.parse made it: every key is the object's own data property (even
 * "__proto__"), and the engine reads only names it finds with Object.hasOwn.
 */
function checkCallerEnv(v: unknown): CallerEnv | undefined | string {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'env must be an object';
  let n = 0;
  // for…in: a JSON.parse result has only own keys (its prototype adds none), and no arrays are built.
  for (const name in v) {
    if (++n > MAX_ENV_NAMES) return `env holds more than ${MAX_ENV_NAMES} names`;
    if (!isEnvName(name)) return 'env has a name that is not an environment variable name';
    const value = (v as Record<string, unknown>)[name];
    if (value !== null && typeof value !== 'string') return 'env values must be strings or null';
  }
  return v as CallerEnv;
}
