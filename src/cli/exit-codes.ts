// Documented exit codes of the human CLI (README "Exit codes"). Protocol entries use their protocol's own.
import type { ErrorCode } from '../model/types.js';

export const EXIT = {
  ok: 0,
  notFound: 1,
  usage: 2,
  config: 3,
  store: 4,
  source: 5,
  /** doctor found something broken; import left conflicts or unreadable files */
  problems: 6,
  internal: 70,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'bad-request':
    case 'bad-url':
      return EXIT.usage;
    case 'config':
      return EXIT.config;
    case 'store':
      return EXIT.store;
    case 'source':
      return EXIT.source;
    default:
      return EXIT.internal;
  }
}
