// Why the daemon could not be started, stopped or reached, for the human CLI. The message always
// says what to do about it, and never carries a secret.
import { CredmuxError } from '../model/types.js';

/** Exit code of a daemon that found another one holding the lock (EX_TEMPFAIL): not a failure. */
export const EXIT_BUSY = 75;

export type DaemonProblem =
  | 'insecure-dir' // the socket directory is reachable by others, or not ours
  | 'socket-path-too-long'
  | 'busy' // another daemon holds the lock
  | 'start-failed'
  | 'unsupported'; // no Unix sockets (Windows)

export class DaemonError extends CredmuxError {
  readonly problem: DaemonProblem;
  constructor(problem: DaemonProblem, message: string) {
    super('internal', message);
    this.name = 'DaemonError';
    this.problem = problem;
  }
}
