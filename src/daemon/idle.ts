// Idle exit: the daemon leaves after `idleMs` without engine requests (CREDMUX_IDLE_TIMEOUT), never
// while one is being answered. One timer, re-armed for the remaining time: requests only stamp a time.
export interface IdleSource {
  inflight(): number;
  /** performance.now() of the last engine request. */
  lastActivity(): number;
}

/** Calls onIdle once the daemon has been quiet for idleMs (0 = never). Returns a cancel function. */
export function watchIdle(idleMs: number, src: IdleSource, onIdle: (quietMs: number) => void): () => void {
  if (idleMs <= 0) return () => {};
  let timer: NodeJS.Timeout;
  const arm = (ms: number) => {
    timer = setTimeout(
      () => {
        const quiet = performance.now() - src.lastActivity();
        if (src.inflight() === 0 && quiet >= idleMs) onIdle(quiet);
        else arm(src.inflight() > 0 ? idleMs : idleMs - quiet);
      },
      Math.max(ms, 10),
    );
  };
  arm(idleMs);
  return () => clearTimeout(timer);
}
