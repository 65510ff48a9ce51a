// Writes a helper's answer straight to fd 1 / fd 2. Touching process.stdout or process.stderr
// creates a stream (for a pipe: a net.Socket, with all of net and stream loaded), which costs a
// helper several milliseconds, more than the rest of a warm answer; a blocking write costs nothing.
import { writeSync } from 'node:fs';
import type { ProtocolOutput } from '../model/types.js';

/**
 * Writes all of `text` to fd 1 or 2. A reader that went away (EPIPE) is not our failure. Returns false
 * when part of it was left to a stream to write later: the process must then not exit before it drains.
 */
export function writeAnswer(fd: 1 | 2, text: string): boolean {
  // The common case, the whole answer in one write of the string itself: no Buffer made for it.
  let first: number;
  try {
    first = writeSync(fd, text);
  } catch (e) {
    return afterWriteError(e, fd, Buffer.from(text, 'utf8'));
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (first === bytes) return true;
  // A short write (a pipe that took part of a long answer): the rest, by bytes.
  const buf = Buffer.from(text, 'utf8');
  let off = first;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      return afterWriteError(e, fd, buf.subarray(off));
    }
  }
  return true;
}

/** What a failed write means: `rest` is what was not written. */
function afterWriteError(e: unknown, fd: 1 | 2, rest: Buffer): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  // A reader that went away (EPIPE) is not our failure.
  if (code === 'EPIPE') return true;
  // The parent gave us a non-blocking pipe that is full: let the stream wait for it to drain. A
  // reader that leaves meanwhile is no more our failure than above (unhandled, it would print a trace).
  if (code === 'EAGAIN') {
    const stream = fd === 1 ? process.stdout : process.stderr;
    stream.on('error', () => {});
    stream.write(rest);
    return false;
  }
  throw e;
}

/** Writes a protocol's stdout and stderr; false when part of either was left to a stream to drain. */
export function writeOutput(out: ProtocolOutput): boolean {
  const outDone = out.stdout ? writeAnswer(1, out.stdout) : true;
  const errDone = out.stderr ? writeAnswer(2, out.stderr) : true;
  return outDone && errDone;
}
