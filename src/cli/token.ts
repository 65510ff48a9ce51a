// `credmux token URL`: the secret credmux serves for URL, alone on stdout, for tools that take a
// secret from a variable or a file (`docker buildx build --secret id=npm,env=NPM_TOKEN`). It refuses
// a terminal unless told: a secret printed there stays on screen, in scrollback and in recordings.
import type { Env } from '../platform/paths.js';
import { CredmuxError } from '../model/types.js';
import type { Io } from './credentials.js';
import { EXIT } from './exit-codes.js';
import { servedCredential } from './served.js';

export interface TokenArgs {
  url: string;
  username?: string;
  forceTty?: boolean;
  /** Whether stdout is a terminal (process.stdout.isTTY; a parameter for tests). */
  stdoutIsTty: boolean;
}

export async function printToken(env: Env, io: Io, args: TokenArgs): Promise<number> {
  if (args.stdoutIsTty && !args.forceTty) {
    throw new CredmuxError(
      'bad-request',
      'stdout is a terminal, where the secret would stay on screen and in scrollback. Capture or pipe it ' +
        '(NPM_TOKEN=$(credmux token URL), credmux token URL | docker login … --password-stdin), or add --force-tty to print it here anyway',
    );
  }
  const cred = await servedCredential(env, args.url, args.username);
  if (/[\r\n\0]/.test(cred.secret)) {
    throw new CredmuxError('source', 'the secret served for this URL spans several lines or holds a NUL byte; a line-based reader would cut it');
  }
  io.out(`${cred.secret}\n`);
  return EXIT.ok;
}
