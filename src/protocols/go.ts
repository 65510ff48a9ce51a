// Go's GOAUTH command protocol (docs/protocols.md §9), Go ≥ 1.24. The go command runs the command
// twice over: once with no argument before its first HTTPS fetch, and again after any 4xx with the
// URL as the last argument and the failed response on stdin. The answer is credential sets: URL
// prefixes, a blank line, header lines, a blank line. Empty output means "nothing".
//
// credmux answers the first call with nothing: it cannot know which hosts this go command will
// fetch from, and handing it every stored secret (minting every token) up front would send the
// go process credentials for hosts it never asks (golang/go#71249). After a 4xx it answers for
// the URL asked, with the prefix of the rule that matched, so later fetches under it go out with
// the header at once.
import { IDENTITY_TOKEN_USERNAME, type EngineResult, type ProtocolAdapter, type ProtocolOutput, onlyBazelMessage } from '../model/types.js';
import { parsePattern, parseRequest } from '../model/url.js';
import { VERSION } from '../platform/version.js';
import { authorizationValue } from '../model/authorization.js';
import { line, output, reply, unexpectedResult } from './util.js';

const PROG = 'credmux-go';

const USAGE = `Usage: ${PROG} [URL]
Go GOAUTH command (Go 1.24 or later): prints the Authorization header credmux serves for URL, as
URL-prefix and header lines. Go runs it with no URL first (credmux answers nothing then), and with
the URL after a 4xx response. Use it with: go env -w GOAUTH='${PROG};netrc' (or: credmux setup go)
`;

/** The URL go asked about: the prefixes of the answer are cut from its own text. */
export interface GoCtx {
  url: string;
}

/** Mistakes in how we were called; Go itself only tells 0 from non-zero (then it goes on without credentials). */
const USAGE_EXIT = 2;

function fail(message: string, exitCode: number): ProtocolOutput {
  return output('', line(`${PROG}: ${message}`), exitCode);
}

export const go: ProtocolAdapter<GoCtx> = {
  name: 'go',

  // stdin (the 4xx response: status line and headers) is read to EOF but not used: the answer
  // depends on the URL alone, and a 404 from a private proxy can mean "log in" as well as a 401.
  parse(argv) {
    const first = argv[0];
    // Go's startup call: no argument, no input. Nothing to answer yet (see the top of this file).
    if (first === undefined) return reply('', '', 0);
    if (first === '--help' || first === '-h' || first === 'help') return reply(USAGE, '', 0);
    if (first === '--version' || first === 'version') return reply(`${PROG} ${VERSION}\n`, '', 0);
    if (argv.length > 1) {
      return reply('', `${PROG}: expected one argument, the URL go fetched (got ${argv.length}); GOAUTH appends it by itself\n${USAGE}`, USAGE_EXIT);
    }
    // Go attaches GOAUTH credentials to https requests only (src/cmd/go/internal/auth/auth.go panics otherwise).
    if (!/^https:\/\//i.test(first)) {
      return reply(
        '',
        `${PROG}: go asks GOAUTH only about https:// URLs; give one, e.g. ${PROG} https://goproxy.example.com/mod/@v/list\n`,
        USAGE_EXIT,
      );
    }
    return { kind: 'request', request: { op: 'get', url: first }, ctx: { url: first } };
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') return fail(result.error.message, result.error.code === 'bad-url' ? USAGE_EXIT : 1);
    if (result.op !== 'get') return fail(unexpectedResult(result), 1);
    const cred = result.credential;
    // A Docker identity token is a refresh token for a registry's token endpoint, not an HTTP credential.
    if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) return output('', '', 0);
    // Go applies a header to every URL under a prefix; an S3 signature holds for one URL only.
    if (cred.headers) return fail(onlyBazelMessage(result), 1);
    const header = authorizationValue(cred);
    if (header === undefined) {
      return fail('the token found for this URL contains control characters, which an HTTP header cannot carry; store it again', 1);
    }
    return output(`${goPrefixes(ctx.url, result.rule?.match).join('\n')}\n\nAuthorization: ${header}\n\n`, '', 0);
  },
};

/**
 * The URL lines of the answer: the requested URL cut to as many path segments as the matched rule's
 * pattern has (the whole host for a host rule or a wildcard), so the credential covers no more than
 * the rule does. Go keys its cache by `host + escaped path` of each request, exactly as the URL was
 * written (src/cmd/go/internal/auth/auth.go, loadCredential), so the first line keeps the request's
 * own spelling of host and port; a second line gives the canonical one (lower case, no `:443`) when
 * it differs, so other requests to the same host match too.
 */
export function goPrefixes(url: string, ruleMatch: string | undefined): string[] {
  const rest = url.slice('https://'.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1); // userinfo is no part of Go's key
  const afterAuthority = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const queryAt = afterAuthority.search(/[?#]/);
  const rawPath = queryAt < 0 ? afterAuthority : afterAuthority.slice(0, queryAt);

  let segments: number | undefined;
  try {
    if (ruleMatch !== undefined) segments = segmentCount(parsePattern(ruleMatch).path);
  } catch {
    segments = undefined; // cannot happen for a rule the engine matched; then only this URL's own path
  }
  const parts = rawPath.split('/');
  const path = segments === undefined || parts.length <= segments ? rawPath.replace(/\/+$/, '') : parts.slice(0, segments + 1).join('/');

  const prefixes = [`https://${hostPort}${path}`];
  try {
    const t = parseRequest(url);
    const canonical = `https://${t.host}${t.port === 443 || t.port === null ? '' : `:${t.port}`}${path}`;
    if (canonical !== prefixes[0]) prefixes.push(canonical);
  } catch {
    /* the engine parsed it to answer; nothing more to add */
  }
  return prefixes;
}

function segmentCount(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) n++;
  return n;
}
