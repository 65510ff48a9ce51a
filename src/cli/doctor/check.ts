/** One finding of `credmux doctor`. Never carries a secret. */
export interface Check {
  /** Heading it is shown under: credmux, tools, tokens. */
  section: 'credmux' | 'tools' | 'tokens';
  /** What was checked: config, store, daemon, bazel, git, docker, pip, uv, or a rule. */
  area: string;
  /** ok: fine; info: worth knowing, nothing broken; warn: works, but not fully; error: broken. */
  status: 'ok' | 'info' | 'warn' | 'error';
  summary: string;
  details?: string[];
  /** The exact command(s) that fix it. */
  fix?: string;
}

/** Resolves within `ms`, or rejects with a message naming what did not answer. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    t.unref?.();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
