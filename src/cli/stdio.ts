// The human CLI's stdout and stderr. A reader that stops early (`credmux list | head`) closes the
// pipe, and Node reports the next write as an EPIPE 'error' event which, unhandled, prints a stack
// trace and exits 1. git and coreutils are killed by SIGPIPE there, which a shell shows as exit 141;
// Node ignores SIGPIPE, so the CLI ends the same way by hand: it stops writing, finishes what it was
// doing (a write to the store is never cut in half), says nothing, and exits 141.
import type { Io } from './credentials.js';

/** 128 + SIGPIPE: what a shell reports for `git log | head` or `seq 1 1000000 | head`. */
export const EXIT_PIPE = 141;
/** A write that failed for another reason (a full disk under `credmux list > file`): said, not hidden. */
export const EXIT_WRITE_FAILED = 74;

export interface CliStdio {
  io: Io;
  /** The exit code a closed or failed stdout imposes, or undefined when output went through. */
  outcome(): number | undefined;
}

/** Wraps process.stdout/stderr once per process; every CLI command writes through it. */
export function cliStdio(proc: NodeJS.Process = process): CliStdio {
  let outcome: number | undefined;
  let outOpen = true;
  let errOpen = true;
  const fail = (code: number) => {
    if (outcome === undefined || code === EXIT_PIPE) outcome = code;
  };
  // The error event can come after main() returned its code (a write completes on a later turn): it
  // still decides how the process ends.
  proc.on('exit', () => {
    if (outcome !== undefined) proc.exitCode = outcome;
  });
  proc.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (!outOpen) return;
    outOpen = false;
    if (e.code === 'EPIPE') return fail(EXIT_PIPE);
    if (errOpen) proc.stderr.write(`credmux: cannot write the output (${e.code ?? e.name})\n`);
    fail(EXIT_WRITE_FAILED);
  });
  proc.stderr.on('error', () => {
    // Nowhere left to say anything; stdout (if still open) decides the exit code.
    errOpen = false;
  });
  return {
    io: {
      out: (s) => void (outOpen && proc.stdout.write(s)),
      err: (s) => void (errOpen && proc.stderr.write(s)),
    },
    outcome: () => outcome,
  };
}
