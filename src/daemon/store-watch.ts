// In CREDMUX_STORE=auto on Linux the secret store depends on the session: the OS keychain while an
// unlocked Secret Service answers on the session bus, else the file store. The CLI and a helper
// resolving in process choose at every call; a daemon chooses when it opens its engine. So that a
// daemon never keeps serving one store while the session's processes use the other — `credmux login`
// storing to a keychain that appeared, helpers answered "not found" from the file store — it chooses
// again: at once when the session bus signals a change (src/store/session-watch.ts), and at most every
// RECHECK_MS on requests in case a change came without a signal. While it chooses, requests wait; when
// the choice differs, they are declined (the helper resolves in process, with the session's store) and
// the daemon stops, so the next helper starts one on the right store.
export interface StoreChoice {
  kind: string;
  location: string;
}

/** A change the bus did not signal (a keyring unlocked by a tool that emits nothing) is seen this soon. */
export const RECHECK_MS = 5_000;

export interface StoreWatchOptions {
  /** The store the engine serves, once open. */
  current: () => StoreChoice | undefined;
  /** What the session's store is now (src/store/select.ts, without opening it). */
  choose: () => Promise<StoreChoice>;
  onChanged: (from: StoreChoice, to: StoreChoice) => void;
  everyMs?: number;
  now?: () => number;
}

export class StoreWatch {
  private checking: Promise<boolean> | undefined;
  private changed = false;
  private last: number;
  private readonly now: () => number;

  constructor(private readonly o: StoreWatchOptions) {
    this.now = o.now ?? (() => performance.now());
    this.last = this.now();
  }

  /**
   * On every request. Undefined: serve it now (the hot path: one comparison). Else a promise: true
   * when the store is still the session's, false when it changed (decline the request).
   */
  gate(): Promise<boolean> | undefined {
    if (this.changed) return Promise.resolve(false);
    if (this.checking) return this.checking;
    if (this.now() - this.last < (this.o.everyMs ?? RECHECK_MS)) return undefined;
    return this.check();
  }

  /** Chooses again now (a signal from the bus), unless a look is under way. */
  check(): Promise<boolean> {
    return (this.checking ??= this.look().finally(() => {
      this.checking = undefined;
      this.last = this.now();
    }));
  }

  private async look(): Promise<boolean> {
    const from = this.o.current();
    if (!from) return true; // not open yet: it will open on the session's store
    let to: StoreChoice;
    try {
      to = await this.o.choose();
    } catch {
      return true; // e.g. CREDMUX_STORE became invalid: the engine reports that itself
    }
    if (to.kind === from.kind && to.location === from.location) return true;
    this.changed = true;
    this.o.onChanged(from, to);
    return false;
  }
}
