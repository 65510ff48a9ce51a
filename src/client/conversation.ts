// The helper hot path for a protocol spoken as a conversation (cargo, docs/protocols.md §10): greet,
// then answer each request line with one line until stdin ends. Each request is still one question to
// the daemon (or the in-process engine), as in ./run.ts.
import type { Env } from '../platform/paths.js';
import type { LineProtocol, ProtocolOutput } from '../model/types.js';
import { writeAnswer, writeOutput } from './output.js';
import { resolveTracked } from './run.js';
import { STDIN_LIMIT } from './stdin.js';
import { StdinLines } from './stdin-lines.js';

/**
 * Answers one request line; `settled`: nothing of this process is left to finish for it (the daemon
 * answered, or the protocol replied without asking anyone).
 */
async function answer(protocol: LineProtocol, argv: readonly string[], line: Buffer, env: Env): Promise<{ out: ProtocolOutput; settled: boolean }> {
  const parsed = protocol.parse(argv, line);
  if (parsed.kind === 'reply') return { out: parsed.output, settled: true };
  // The process ends with stdin: each daemon connection is left for the kernel to close (pipe.ts, release).
  const { result, byDaemon } = await resolveTracked(parsed.request, env, { exitsAfter: true });
  return { out: protocol.format(parsed.ctx, result), settled: byDaemon };
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
    writeOutput(started.output);
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
        settled = writeOutput(protocol.tooLarge) && settled;
        break;
      }
      const answered = await answer(protocol, argv, next.line, env);
      out = answered.out;
      settled &&= answered.settled;
    } catch (e) {
      // A bug, not a protocol answer: say what kind without echoing data we were handed.
      out = { stdout: '', stderr: `credmux: internal error (${(e as Error)?.name ?? 'unknown'}); please report it\n`, exitCode: 70 };
      settled = false;
    }
    settled = writeOutput(out) && settled;
    if (out.exitCode !== 0) {
      code = out.exitCode;
      break;
    }
  }
  if (settled) process.exit(code);
  process.exitCode = code;
}
