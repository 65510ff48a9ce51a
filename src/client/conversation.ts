// The helper hot path for a protocol spoken as a conversation (cargo, docs/protocols.md §10): greet,
// then answer each request line with one line until stdin ends. Each request is still one question to
// the daemon (or the in-process engine), as in ./run.ts.
import type { Env } from '../platform/paths.js';
import type { LineProtocol, ProtocolOutput } from '../model/types.js';
import { writeAnswer } from './output.js';
import { resolveTracked } from './run.js';
import { STDIN_LIMIT } from './stdin.js';
import { StdinLines } from './stdin-lines.js';

/** Writes an answer; false when part of it was left to a stream to drain (output.ts). */
function write(out: ProtocolOutput): boolean {
  const outDone = out.stdout ? writeAnswer(1, out.stdout) : true;
  const errDone = out.stderr ? writeAnswer(2, out.stderr) : true;
  return outDone && errDone;
}

/** Answers one request line, and says whether the daemon answered it. */
async function answer(protocol: LineProtocol, argv: readonly string[], line: Buffer, env: Env): Promise<{ out: ProtocolOutput; byDaemon: boolean }> {
  const parsed = protocol.parse(argv, line);
  if (parsed.kind === 'reply') return { out: parsed.output, byDaemon: true }; // nothing started: as good as the daemon's
  // The process ends with stdin: each daemon connection is left for the kernel to close (pipe.ts, release).
  const { result, byDaemon } = await resolveTracked(parsed.request, env, { exitsAfter: true });
  return { out: protocol.format(parsed.ctx, result), byDaemon };
}

/**
 * An executable's whole body: the greeting, one answer per line, and the exit code. As runEntry
 * (run.ts): when every answer came from the daemon and was written whole, the process exits at once;
 * otherwise it lets the event loop empty (an in-process engine may still write, a stream drain).
 */
export async function runConversation(
  protocol: LineProtocol,
  argv: readonly string[] = process.argv.slice(2),
  env: Env = process.env,
): Promise<void> {
  const started = protocol.start(argv);
  if (started.kind === 'reply') {
    write(started.output);
    process.exitCode = started.output.exitCode;
    return;
  }
  let settled = writeAnswer(1, started.hello);
  const lines = new StdinLines(STDIN_LIMIT);
  let code = 0;
  for (;;) {
    let out: ProtocolOutput;
    try {
      const next = await lines.next();
      if (next.kind === 'eof') break;
      // The rest of an oversized line cannot be told from the next request: answer, and stop reading.
      if (next.kind === 'too-large') {
        settled = write(protocol.tooLarge) && settled;
        break;
      }
      const answered = await answer(protocol, argv, next.line, env);
      out = answered.out;
      settled &&= answered.byDaemon;
    } catch (e) {
      // A bug, not a protocol answer: say what kind without echoing data we were handed.
      out = { stdout: '', stderr: `credmux: internal error (${(e as Error)?.name ?? 'unknown'}); please report it\n`, exitCode: 70 };
      settled = false;
    }
    settled = write(out) && settled;
    if (out.exitCode !== 0) {
      code = out.exitCode;
      break;
    }
  }
  if (settled) process.exit(code);
  process.exitCode = code;
}
