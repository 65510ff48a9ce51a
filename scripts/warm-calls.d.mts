/** One warm call of a helper entry, as its tool makes it (scripts/warm-calls.mjs). */
export interface WarmCall {
  entry: string;
  argv: string[];
  input?: string;
  env?: Record<string, string>;
  /** What the answer holds when it served the stored credential. */
  expect: string;
}
export declare function warmCalls(host: string, secret: string): WarmCall[];
export declare function trainCodeCaches(lib: string, entries: string[], node?: string): string[];
