// Bazel credential helper protocol (docs/protocols.md §1): `get` + `{"uri": …}` on stdin →
// `{"headers": {...}, "expires": "…Z"}` on stdout. Bazel treats any non-zero exit, empty stdout or
// unparsable JSON as a failure, so every success prints a JSON object, even when nothing matched.
import { IDENTITY_TOKEN_USERNAME, type EngineResult, type ProtocolAdapter, type ProtocolOutput } from '../model/types.js';
import { VERSION } from '../platform/version.js';
import { authorizationValue } from '../model/authorization.js';
import { decodeUtf8, line, output, own, parseJsonObject, reply, rfc3339Seconds, unexpectedResult } from './util.js';

const PROG = 'credmux-bazel';

const USAGE = `Usage: ${PROG} get
Bazel credential helper: reads {"uri": "<url>"} on stdin, prints {"headers": {...}} for that URL.
Use it with: bazel build --credential_helper=${PROG} …  (or --credential_helper=*.example.com=${PROG})
`;

const EXAMPLE = 'expected {"uri": "https://…"} on stdin, as Bazel sends it';

/** Nothing from the request is needed to format the answer. */
export type BazelCtx = Record<string, never>;

/** Exit 2 for every mistake in how we were called (as uv's helper does); 1 for failures behind us. */
const USAGE_EXIT = 2;

function fail(message: string, exitCode: number): ProtocolOutput {
  return output('', line(`${PROG}: ${message}`), exitCode);
}

/** Bad input: a message that says what Bazel sends, never the input (it may hold a password). */
function badRequest(message: string) {
  return reply('', `${PROG}: ${message}; ${EXAMPLE}\n`, USAGE_EXIT);
}

export const bazel: ProtocolAdapter<BazelCtx> = {
  name: 'bazel',

  parse(argv, stdin) {
    const command = argv[0];
    if (command === undefined) return reply('', USAGE, USAGE_EXIT); // spec: no command → usage and fail
    if (command === 'help' || command === '--help' || command === '-h') return reply(USAGE, '', 0);
    if (command === 'version' || command === '--version') return reply(`${PROG} ${VERSION}\n`, '', 0);
    if (command !== 'get') {
      return reply('', `${PROG}: unknown command ${JSON.stringify(command)}; the only command is "get"\n${USAGE}`, USAGE_EXIT);
    }
    // Further parameters are optional by spec ("MUST NOT require them"); Bazel passes none: ignored.

    const text = decodeUtf8(stdin);
    if (text === undefined) return badRequest('the request on stdin is not valid UTF-8');
    if (text.trim() === '') return badRequest('no request on stdin');
    // A real JSON parser: Bazel's Gson escapes `=`, `&`, `<`, `>`, `'` as \u003d etc.
    const parsed = parseJsonObject(text);
    if (!parsed.ok) {
      if (parsed.reason === 'duplicate') return badRequest(`the request names ${JSON.stringify(parsed.key)} twice in one object`);
      return badRequest(parsed.reason === 'syntax' ? 'the request on stdin is not valid JSON' : 'the request must be a JSON object');
    }
    const uri = own(parsed.value, 'uri'); // other fields are ignored (spec: additionalProperties)
    if (uri === undefined) return badRequest('the request has no "uri" field');
    if (typeof uri !== 'string') return badRequest('the request\'s "uri" must be a string');
    if (uri === '') return badRequest('the request\'s "uri" is empty');
    // Userinfo stays inside the URL: the engine reads its username as a filter and drops any password.
    return { kind: 'request', request: { op: 'get', url: uri }, ctx: {} };
  },

  format(_ctx, result: EngineResult) {
    if (result.op === 'error') return fail(result.error.message, 1);
    if (result.op !== 'get') return fail(unexpectedResult(result), 1);
    const cred = result.credential;
    // A Docker identity token is a refresh token for a registry's token endpoint, not an HTTP credential.
    if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) return output('{"headers":{}}\n', '', 0);
    if (cred.headers) return answer(cred.headers, cred.expiresAt);
    const header = authorizationValue(cred);
    if (header === undefined) {
      return fail('the token found for this URL contains control characters, which an HTTP header cannot carry; store it again', 1);
    }
    return answer({ Authorization: [header] }, cred.expiresAt);
  },
};

/** The answer: the headers, and `expires` when known (Bazel caches them for the URI until then, docs/protocols.md §1.2). */
function answer(headers: Record<string, string[]>, expiresAt: number | undefined): ProtocolOutput {
  const body: { headers: Record<string, string[]>; expires?: string } = { headers };
  const expires = expiresAt === undefined ? undefined : rfc3339Seconds(expiresAt);
  if (expires !== undefined) body.expires = expires;
  return output(`${JSON.stringify(body)}\n`, '', 0);
}
