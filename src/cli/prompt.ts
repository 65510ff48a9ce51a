// Reads a secret for `credmux login`: from stdin when asked (--password-stdin / --token-stdin), else
// from the terminal without echo. Never from argv: command lines are visible to every user.
import { readStdin } from '../client/stdin.js';
import { CredmuxError } from '../model/types.js';

/** All of stdin, minus exactly one trailing newline (CRLF too), like `docker login --password-stdin`. */
export async function secretFromStdin(): Promise<string> {
  const r = await readStdin();
  if (!r.ok) throw new CredmuxError('bad-request', 'the secret on stdin is larger than 1 MiB');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(r.data).replace(/\r?\n$/, '');
  } catch {
    // Decoding leniently would store U+FFFD in place of the bytes: a secret that never works.
    throw new CredmuxError('bad-request', 'the secret on stdin is not valid UTF-8');
  }
  if (text.includes('\n') || text.includes('\r') || text.includes('\0')) {
    throw new CredmuxError('bad-request', 'the secret on stdin spans several lines or holds a NUL byte; pipe exactly one line');
  }
  return text;
}

export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    return Promise.reject(new CredmuxError('bad-request', 'no terminal to prompt on: pass the secret with --password-stdin or --token-stdin'));
  }
  return new Promise((resolve, reject) => {
    let value = '';
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CredmuxError('bad-request', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
