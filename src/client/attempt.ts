// One helper call's conversation with the daemon: every ask() with its own patience (patience.ts),
// and what the helper owes before it resolves in process after giving up:
// - a write that may have reached the daemon (sent, then no answer) waits out its deadline first, so
//   the daemon, which refuses a write after its deadline, can no longer carry it out after the helper
//   did it itself (docs/architecture.md, "Deadlines");
// - a daemon found stuck for long is replaced (replace-stuck.ts).
import type { ClientMessage } from '../ipc/codec.js';
import { untilPassed } from '../ipc/deadline.js';
import type { DaemonFiles } from '../ipc/paths.js';
import { ask, type AskOutcome } from './connection.js';
import { daemonPatience, type Judgement } from './patience.js';
import { replaceIfLongStuck } from './replace-stuck.js';

export class Attempt {
  /** A request went out and no answer came back: the daemon may still read it. */
  private reached = false;
  private judgement: Judgement | undefined;

  constructor(
    private readonly files: DaemonFiles,
    private readonly t: { connectMs: number; answerMs: number; capMs: number; leaveOpen?: boolean },
    /** Monotonic ms (src/ipc/deadline.ts): set for writes, and sent with them. */
    readonly deadline?: number,
  ) {}

  async ask(msg: ClientMessage): Promise<AskOutcome> {
    const patience = daemonPatience({ dir: this.files.dir, socket: this.files.socket, until: this.deadline, capMs: this.t.capMs });
    const o = await ask(this.files.socket, msg, { connectMs: this.t.connectMs, answerMs: this.t.answerMs, patience, leaveOpen: this.t.leaveOpen });
    if (o.kind === 'lost' || o.kind === 'stuck') this.reached = true;
    if (o.kind === 'stuck') this.judgement = patience.judgement;
    return o;
  }

  /** Why the last silent daemon was given up on, if one was. */
  get gaveUp(): Judgement | undefined {
    return this.judgement;
  }

  /** Before the caller resolves in process. `start` brings up a daemon in the background. */
  async settle(start: () => Promise<unknown>): Promise<void> {
    if (this.judgement) await replaceIfLongStuck(this.files.dir, this.judgement, start).catch(() => false);
    if (this.reached && this.deadline !== undefined) await untilPassed(this.deadline);
  }
}
