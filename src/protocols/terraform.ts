// Terraform / OpenTofu credentials helper protocol (docs/protocols.md §8): argv `get|store|forget HOST`.
// `get` prints `{"token":"…"}`, or `{}` for "no credentials" (exit 0 both); `store` reads
// `{"token":"…"}` on stdin; `forget` prints nothing. Every failure is text on stderr and a non-zero
// exit, which Terraform shows as `error in <helper path>: <stderr>`.
import {
  DEFAULT_TOKEN_USERNAME,
  IDENTITY_TOKEN_USERNAME,
  type EngineResult,
  type ProtocolAdapter,
  type ProtocolOutput,
  onlyBazelMessage,
} from '../model/types.js';
import { terraformHostUrl } from '../model/terraform.js';
import { VERSION } from '../platform/version.js';
import { decodeUtf8, line, output, own, parseJsonObject, reply, unexpectedResult } from './util.js';

const PROG = 'terraform-credentials-credmux';

const USAGE = `Usage: ${PROG} get|store|forget HOST
Terraform/OpenTofu credentials helper: \`get\` prints {"token": "…"} for HOST (or {} when there is none),
\`store\` keeps the {"token": "…"} on stdin for HOST, \`forget\` removes it. Terraform finds it in
~/.terraform.d/plugins once \`credmux setup terraform\` has put it there.
`;

const STORE_EXAMPLE = 'expected {"token": "…"} on stdin, as Terraform sends it';

/** Terraform reads no exit status but zero and non-zero; one code for every failure. */
const FAIL = 1;

export type TerraformCtx = { verb: 'get' | 'store' | 'forget' };

function fail(message: string): ProtocolOutput {
  return output('', line(`${PROG}: ${message}`), FAIL);
}

function refuse(message: string) {
  return reply('', line(`${PROG}: ${message}`), FAIL);
}

export const terraform: ProtocolAdapter<TerraformCtx> = {
  name: 'terraform',

  parse(argv, stdin) {
    const verb = argv[0];
    if (verb === undefined) return reply('', USAGE, FAIL);
    if (argv.length === 1 && (verb === '--help' || verb === '-h' || verb === 'help')) return reply(USAGE, '', 0);
    if (argv.length === 1 && (verb === '--version' || verb === 'version')) return reply(`${PROG} ${VERSION}\n`, '', 0);
    // Terraform may add verbs later; the protocol says a helper must fail on one it does not know.
    if (verb !== 'get' && verb !== 'store' && verb !== 'forget') {
      return reply('', `${PROG}: unknown verb ${JSON.stringify(verb)}; the verbs are get, store and forget\n${USAGE}`, FAIL);
    }
    // argv is [...args from the credentials_helper block, VERB, HOST]; `credmux setup terraform` writes none.
    if (argv.length !== 2) return reply('', `${PROG}: ${verb} takes exactly one HOST\n${USAGE}`, FAIL);
    const host = argv[1]!;
    const url = terraformHostUrl(host);
    if (url === undefined) {
      return refuse(
        `${JSON.stringify(host.length > 100 ? `${host.slice(0, 100)}…` : host)} is not a host name; Terraform passes one such as registry.example.com or localhost:8443`,
      );
    }
    switch (verb) {
      case 'get':
        return { kind: 'request', request: { op: 'get', url }, ctx: { verb } };
      case 'forget':
        // Every stored credential that answers this host, as `credmux logout` removes them: after a
        // `terraform logout`, a `get` must not find one.
        return { kind: 'request', request: { op: 'erase', url }, ctx: { verb } };
      case 'store': {
        const token = readToken(stdin);
        if (typeof token !== 'string') return refuse(token.problem);
        return {
          kind: 'request',
          request: { op: 'store', url, credential: { kind: 'bearer', username: DEFAULT_TOKEN_USERNAME, secret: token }, via: 'terraform' },
          ctx: { verb },
        };
      }
    }
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') return fail(result.error.message);
    const expected = ctx.verb === 'get' ? 'get' : ctx.verb === 'store' ? 'store' : 'erase';
    if (result.op !== expected) return fail(unexpectedResult(result));
    if (result.op !== 'get') return output('', '', 0); // store and forget print nothing; forgetting nothing is no error
    const cred = result.credential;
    // A Docker identity token is a refresh token for a registry's token endpoint, not an HTTP credential.
    if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) return output('{}\n', '', 0);
    if (cred.headers) return fail(onlyBazelMessage(result));
    // Terraform has one way to present a credential: `Authorization: Bearer <token>`. A password is
    // sent the same way (registries such as GitLab's take a personal access token so); it goes only
    // to the host it was stored for, as every other protocol sends it.
    if (/[\u0000-\u001f\u007f]/.test(cred.secret)) {
      return fail('the credential found for this host contains control characters, which an HTTP header cannot carry; store it again');
    }
    return output(`${JSON.stringify({ token: cred.secret })}\n`, '', 0);
  },
};

/**
 * `store`'s stdin: `{"token": "…"}`, as terraform-svchost's HostCredentialsToken.ToStore writes it. A
 * helper must keep an object with other properties whole or refuse it: credmux keeps a token, so it
 * refuses. Messages never quote the input (it holds the token).
 */
function readToken(stdin: Buffer): string | { problem: string } {
  const text = decodeUtf8(stdin);
  if (text === undefined) return { problem: `the credentials on stdin are not valid UTF-8; ${STORE_EXAMPLE}` };
  if (text.trim() === '') return { problem: `no credentials on stdin; ${STORE_EXAMPLE}` };
  const parsed = parseJsonObject(text);
  if (!parsed.ok) {
    if (parsed.reason === 'duplicate') return { problem: `the credentials on stdin name ${JSON.stringify(parsed.key)} twice; ${STORE_EXAMPLE}` };
    return { problem: `the credentials on stdin are not ${parsed.reason === 'syntax' ? 'valid JSON' : 'a JSON object'}; ${STORE_EXAMPLE}` };
  }
  const others = Object.keys(parsed.value).filter((k) => k !== 'token');
  if (others.length > 0) {
    const names = others.slice(0, 3).map((k) => JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k));
    return {
      problem: `credmux stores a token only, and the credentials on stdin also have ${names.join(', ')}${others.length > 3 ? ', …' : ''}; nothing was stored`,
    };
  }
  const token = own(parsed.value, 'token');
  if (typeof token !== 'string') return { problem: `the credentials on stdin have no "token" string; ${STORE_EXAMPLE}` };
  if (token === '') return { problem: 'the token on stdin is empty; nothing was stored' };
  if (/[\u0000-\u001f\u007f]/.test(token))
    return { problem: 'the token on stdin contains control characters, which an HTTP header cannot carry; nothing was stored' };
  return token;
}
