// Small helpers the four adapters share. They run on every helper call, so: no dependencies, no I/O.
import { isUtf8 } from 'node:buffer';
import type { EngineResult, Parsed, ProtocolOutput } from '../model/types.js';
import { findDuplicateKey } from '../formats/json.js';

export function output(stdout: string, stderr: string, exitCode: number): ProtocolOutput {
  return { stdout, stderr, exitCode };
}

export type Reply = Extract<Parsed<never>, { kind: 'reply' }>;

/** An answer the adapter gives by itself, without asking the engine. */
export function reply(stdout: string, stderr: string, exitCode: number): Reply {
  return { kind: 'reply', output: output(stdout, stderr, exitCode) };
}

/**
 * The text of stdin, or undefined when it is not valid UTF-8: malformed bytes are refused, not turned
 * into U+FFFD (which would make two different byte strings ask for the same thing), and a BOM stays
 * data, so nothing is silently dropped. isUtf8 + toString, not a fatal TextDecoder: the decoder is
 * built on every helper start and runs four more of Node's functions for the first time, ~0.1 ms of
 * a warm answer on Node 20; this is one check and the plain decode (test/unit/protocols-util.test.ts holds
 * both to the same answers).
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isUtf8(buf) ? buf.toString('utf8') : undefined;
}

export type JsonObject = { readonly [key: string]: unknown };

/**
 * Parses text that must hold one JSON object. The parser's own message is never passed on: it quotes
 * the input, and the input may be a secret (Docker's `store` carries one).
 */
export function parseJsonObject(
  text: string,
): { ok: true; value: JsonObject } | { ok: false; reason: 'syntax' | 'not-object' } | { ok: false; reason: 'duplicate'; key: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'syntax' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not-object' };
  // JSON.parse keeps the last of two equal keys, other readers the first: a request that names a key
  // twice means two different things to two parsers, and no real client sends one. Refused.
  const dup = findDuplicateKey(text);
  if (dup) return { ok: false, reason: 'duplicate', key: dup.key.length > 40 ? `${dup.key.slice(0, 40)}…` : dup.key };
  return { ok: true, value: value as JsonObject };
}

/**
 * An own property only: `obj.uri` on a parsed object could otherwise come from Object.prototype
 * (if anything ever polluted it), and JSON's `"__proto__"` key is an own property to look past.
 */
export function own(obj: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Year 9999-12-31T23:59:59Z: the last instant a four-digit RFC 3339 year can spell. */
const MAX_RFC3339_SECONDS = 253402300799;

/** Whole-second UTC RFC 3339 (`2030-01-01T00:00:00Z`); undefined when the time cannot be written so. */
export function rfc3339Seconds(unixSeconds: number): string | undefined {
  if (!Number.isFinite(unixSeconds)) return undefined;
  const s = Math.floor(unixSeconds);
  if (s < 0 || s > MAX_RFC3339_SECONDS) return undefined;
  // Bazel parses with `yyyy-MM-dd'T'HH:mm:ssXXX`: a fractional part would fail the whole response.
  return new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Python's `json.dumps` string with its default `ensure_ascii=True`: everything outside printable
 * ASCII as a lower-case `\uXXXX` (UTF-16 code units, so astral characters become surrogate pairs).
 */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** For a result that cannot answer this protocol's request: a bug in the caller, said without data. */
export function unexpectedResult(result: EngineResult): string {
  return `internal error: unexpected ${result.op} result`;
}

/** Engine messages end up on one stream of a terminal: make sure they end with exactly one newline. */
export function line(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
