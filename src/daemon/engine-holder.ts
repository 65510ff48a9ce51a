// The daemon's engine: opened on first use (and once before the socket exists), opened again on the
// next request when opening failed (a store briefly unavailable), and after each request the variables
// its rules read published in env-names.json for the clients.
import type { EngineLike } from './dispatch.js';
import type { Logger } from './log.js';

export class EngineHolder {
  private engine: Promise<EngineLike> | undefined;
  private openedEngine: EngineLike | undefined;
  private published: string[] | undefined;

  constructor(
    private readonly open: () => Promise<EngineLike>,
    private readonly publish: (names: string[]) => void,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  /** The engine, opening it if no open is under way or done. */
  get(): Promise<EngineLike> {
    return (this.engine ??= this.open().then(
      (e) => (this.openedEngine = e),
      (e: unknown) => {
        this.engine = undefined; // try again on the next request
        throw e;
      },
    ));
  }

  /** The engine once it is open; undefined before. */
  opened(): EngineLike | undefined {
    return this.openedEngine;
  }

  /** After every request: the engine hands back the same array while its rules are unchanged. */
  publishEnvNames(e: EngineLike): void {
    try {
      const names = e.envNames?.();
      if (names === undefined || names === this.published) return;
      this.publish(names);
      this.published = names;
    } catch (err) {
      this.log.warn('cannot publish env-names.json', { error: (err as Error)?.name });
    }
  }
}
