// Signs of life for a helper waiting on a slow answer (a token exchange, a command, a keychain that
// takes its time): while a request is being worked out, its connection gets {"v":2,"id":n,"progress":true}
// every PROGRESS_EVERY_MS. A helper tells a daemon that is working from one that is stopped or stuck by
// these (src/client/patience.ts), instead of waiting out a fixed 20 s. They come from the event loop,
// so a daemon stopped, or stuck in a loop or a blocking call, sends none.
//
// One timer for all waiting requests, running only while there are some: answers from memory (nearly
// every request) never register, and an idle daemon wakes for nothing. Every 250 ms, not faster: each
// line wakes its helper, and a burst of 200 helpers waiting on one exchange, woken every 100 ms, took
// a good part of a 2-core machine from the daemon they waited for.
import { PROTOCOL_VERSION, type DaemonMessage } from '../ipc/codec.js';

/** Often enough that a helper's patience (src/client/patience.ts, 750 ms of quiet) sees several. */
export const PROGRESS_EVERY_MS = 250;

interface Waiting {
  id: number;
  send: (msg: DaemonMessage) => void;
}

export class ProgressTicker {
  private readonly waiting = new Set<Waiting>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly everyMs = PROGRESS_EVERY_MS,
    /** After each tick's progress went out. */
    private readonly onTick: () => void = () => {},
  ) {}

  /** Request `id` is being worked out; `send` writes to its connection. Returns the call that ends it. */
  track(id: number, send: (msg: DaemonMessage) => void): () => void {
    const w: Waiting = { id, send };
    this.waiting.add(w);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.everyMs);
      this.timer.unref();
    }
    return () => {
      this.waiting.delete(w);
      if (this.waiting.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  // Every waiting request, however recently it came: its first sign comes within one interval.
  private tick(): void {
    for (const w of this.waiting) w.send({ v: PROTOCOL_VERSION, id: w.id, progress: true });
    this.onTick();
  }
}
