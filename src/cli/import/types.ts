import type { Env } from '../../platform/paths.js';
import type { Credential, ProtocolName } from '../../model/types.js';

export const SOURCE_NAMES = ['netrc', 'docker', 'git', 'pypirc', 'uv', 'rattler'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** A credential found in a file, with the URL credmux stores it under. */
export interface Candidate {
  /** What `credmux login` would be given: a URL, a `host[:port]` (stored as https) or a `*.domain` pattern. */
  url: string;
  credential: Credential;
  /** Where in the file it came from, for messages. Never holds a secret. */
  where: string;
}

/** Something in the file credmux cannot represent, and why. */
export interface Skipped {
  where: string;
  reason: string;
}

export interface Parsed {
  candidates: Candidate[];
  skipped: Skipped[];
}

export interface ImportSource {
  name: SourceName;
  /**
   * The tools an imported credential is for, so `credmux setup` wires its host only where it can be
   * used: the tool whose file it came from; 'all' for a file every HTTP client reads (netrc).
   */
  protocols: ProtocolName[] | 'all';
  /** The files this format lives in, in the order the owning tool reads them. */
  files(env: Env): string[];
  /** Throws FormatError for a file that is not in the format; its message must not quote a secret. */
  parse(text: string): Parsed;
}

export class FormatError extends Error {
  override name = 'FormatError';
}

/** The file's text as a JSON object (docker's config.json, rattler's credentials.json), or a FormatError. */
export function parseJsonObject(text: string, shape = 'a JSON object'): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new FormatError('not valid JSON'); // never JSON.parse's message: V8 quotes the text, secrets included
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new FormatError(`not ${shape}`);
  return data as Record<string, unknown>;
}
