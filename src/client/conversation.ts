// The helper hot path for a protocol spoken as a conversation (cargo, docs/protocols.md §10): greet,
// then answer each request line with one line until stdin ends. Each request is still one question to
// the daemon (or the in-process engine), as in ./run.ts.
import type { Env } from '../platform/paths.js';
import type { LineProtocol, ProtocolOutput } from '../model/types.js';
import { writeAnswer } from './output.js';
import { resolveRequest } from './run.js';
import { STDIN_LIMIT } from './stdin.js';
import { StdinLines } from './stdin-lines.js';

function write(out: ProtocolOutput): void {
  if (out.stdout) writeAnswer(1, out.stdout);
  if (out.stderr) writeAnswer(2, out.stderr);
}

/** Answers one request line. */
async function answer(protocol: LineProtocol, argv: readonly string[], line: Buffer, env: Env): Promise<ProtocolOutput> {
  const parsed = protocol.parse(argv, line);
  if (parsed.kind === 'reply') return parsed.output;
  return protocol.format(parsed.ctx, await resolveRequest(parsed.request, env));
}

/** An executable's whole body: the greeting, one answer per line, and the exit code (never process.exit: let stdout drain). */
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
  writeAnswer(1, started.hello);
  const lines = new StdinLines(STDIN_LIMIT);
  let code = 0;
  for (;;) {
    let out: ProtocolOutput;
    try {
      const next = await lines.next();
      if (next.kind === 'eof') break;
      // The rest of an oversized line cannot be told from the next request: answer, and stop reading.
      if (next.kind === 'too-large') {
        write(protocol.tooLarge);
        break;
      }
      out = await answer(protocol, argv, next.line, env);
    } catch (e) {
      // A bug, not a protocol answer: say what kind without echoing data we were handed.
      out = { stdout: '', stderr: `credmux: internal error (${(e as Error)?.name ?? 'unknown'}); please report it\n`, exitCode: 70 };
    }
    write(out);
    if (out.exitCode !== 0) {
      code = out.exitCode;
      break;
    }
  }
  process.exitCode = code;
}
