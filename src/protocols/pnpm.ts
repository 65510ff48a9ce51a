// pnpm's `tokenHelper` (docs/protocols.md §13): pnpm runs the helper with no stdin, reads stdout,
// `trimEnd()`s it, and sends it as the registry's `Authorization` value. pnpm passes no argument, so
// `credmux setup pnpm` writes one tiny wrapper per registry that runs `credmux-pnpm <registry-url>`.
// pnpm ≤ 10 uses the output VERBATIM as the header value; pnpm 11 prepends `Bearer ` only when the
// output has no scheme. So credmux always prints the whole value, `Bearer <token>` or
// `Basic <base64>`: the one answer both read the same way. Any exit but 0 fails the pnpm command.
import { IDENTITY_TOKEN_USERNAME, type EngineResult, type ProtocolAdapter, type ProtocolOutput } from '../model/types.js';
import { VERSION } from '../platform/version.js';
import { base64, line, output, reply, unexpectedResult } from './util.js';

const PROG = 'credmux-pnpm';

const USAGE = `Usage: ${PROG} <registry-url>
pnpm tokenHelper: prints the Authorization value ("Bearer …" or "Basic …") credmux holds for the registry.
pnpm runs a tokenHelper without arguments: \`credmux setup pnpm\` writes a wrapper per registry that runs
${PROG} with the registry's URL, and names it in ~/.npmrc as //host/path/:tokenHelper=<wrapper>.
`;

/** The URL as messages may show it: no userinfo (where a password could be). */
export interface PnpmCtx {
  shown: string;
}

/** Mistakes in how we were called (as the Bazel entry does); 1 for everything behind us. */
const USAGE_EXIT = 2;

function fail(message: string, exitCode: number): ProtocolOutput {
  return output('', line(`${PROG}: ${message}`), exitCode);
}

/** `https://user:pw@host/x` → `https://***@host/x`: a password in the wrapper's URL never reaches stderr. */
export function shownUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, '$1***@');
}

export const pnpm: ProtocolAdapter<PnpmCtx> = {
  name: 'pnpm',

  parse(argv) {
    // stdin is ignored: pnpm sends nothing (and a person at a terminal is never made to type EOF).
    const first = argv[0];
    if (first === undefined) return reply('', `${PROG}: name the registry URL\n${USAGE}`, USAGE_EXIT);
    if (first === '--help' || first === '-h' || first === 'help') return reply(USAGE, '', 0);
    if (first === '--version' || first === 'version') return reply(`${PROG} ${VERSION}\n`, '', 0);
    if (argv.length > 1) return reply('', `${PROG}: expected one argument, the registry URL, got ${argv.length}\n${USAGE}`, USAGE_EXIT);
    if (!/^https?:\/\/[^/?#\s]/i.test(first) || /[\s\u0000-\u001f\u007f]/.test(first)) {
      return reply(
        '',
        `${PROG}: ${JSON.stringify(shownUrl(first).slice(0, 80))} is not a registry URL; expected e.g. https://registry.example.com/\n`,
        USAGE_EXIT,
      );
    }
    // Userinfo stays inside the URL: the engine reads its username as a filter and drops any password.
    return { kind: 'request', request: { op: 'get', url: first }, ctx: { shown: shownUrl(first) } };
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') return fail(result.error.message, 1);
    if (result.op !== 'get') return fail(unexpectedResult(result), 1);
    const cred = result.credential;
    // pnpm fails the whole command on a non-zero exit: say which registry and what fixes it. (An empty
    // answer would fail too, TOKEN_HELPER_EMPTY_TOKEN on pnpm 11, a blank header on pnpm 10.)
    // A Docker identity token is a refresh token for a registry's token endpoint, not an HTTP credential.
    if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) {
      return fail(`no credential for ${ctx.shown}; store one with: credmux login ${ctx.shown} --token-stdin (then: credmux setup pnpm)`, 1);
    }
    if (cred.kind === 'basic') return output(`Basic ${base64(`${cred.username}:${cred.secret}`)}\n`, '', 0);
    // A CR/LF would split the header, and pnpm trims only the end: refuse rather than send half a token.
    if (/[\u0000-\u001f\u007f]/.test(cred.secret) || cred.secret.trim() === '') {
      return fail('the token found for this registry is empty or contains control characters, which an HTTP header cannot carry; store it again', 1);
    }
    return output(`Bearer ${cred.secret}\n`, '', 0);
  },
};
