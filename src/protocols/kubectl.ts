// kubectl's exec credential plugin (client-go; docs/protocols.md §11). The request is not on stdin: it
// is argv plus KUBERNETES_EXEC_INFO, an ExecCredential whose spec.cluster.server names the API server
// when the kubeconfig sets provideClusterInfo. The answer is an ExecCredential on stdout, with the
// token and, when credmux knows it, status.expirationTimestamp (client-go reuses the token until then).
// Errors go to stderr with exit 1: kubectl shows them to the person. Nothing here ever prompts.
import { IDENTITY_TOKEN_USERNAME, type EngineResult, type ProtocolAdapter, onlyBazelMessage } from '../model/types.js';
import { parseRequest, redactUrl } from '../model/url.js';
import { VERSION } from '../platform/version.js';
import { line, output, own, parseJsonObject, reply, rfc3339Seconds, unexpectedResult, type JsonObject } from './util.js';

const PROG = 'credmux-kube';

export const EXEC_API_V1 = 'client.authentication.k8s.io/v1';
export const EXEC_API_V1BETA1 = 'client.authentication.k8s.io/v1beta1';
const EXEC_API_V1ALPHA1 = 'client.authentication.k8s.io/v1alpha1';
const API_VERSIONS: readonly string[] = [EXEC_API_V1, EXEC_API_V1BETA1];

const USAGE = `Usage: ${PROG} [--url URL]
kubectl exec credential plugin: prints an ExecCredential with the token credmux serves for the API
server kubectl names in KUBERNETES_EXEC_INFO (set provideClusterInfo: true in the kubeconfig's exec
section). --url names the server for clients that send no cluster information.
Wire a kubeconfig context with: credmux setup kubectl --context NAME
`;

/** What formatting needs: the apiVersion to answer in (client-go refuses any other) and the URL, for messages. */
export interface KubectlCtx {
  apiVersion: string;
  url: string;
}

function fail(message: string, exitCode = 1) {
  return reply('', line(`${PROG}: ${message}`), exitCode);
}

export const kubectl: ProtocolAdapter<KubectlCtx> = {
  name: 'kubectl',
  // stdin is the person's terminal when client-go runs a plugin interactively: never read it.
  readsStdin: false,

  parse(argv, _stdin, env) {
    let argUrl: string | undefined;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--help' || a === '-h' || a === 'help') return reply(USAGE, '', 0);
      if (a === '--version' || a === 'version') return reply(`${PROG} ${VERSION}\n`, '', 0);
      if (a === '--url' || a.startsWith('--url=')) {
        const value = a === '--url' ? argv[++i] : a.slice('--url='.length);
        if (value === undefined || value === '') return fail('--url needs the API server URL, e.g. --url https://k8s.example.com:6443', 2);
        argUrl = value;
        continue;
      }
      return fail(`unknown argument ${JSON.stringify(a.length > 40 ? `${a.slice(0, 40)}…` : a)}\n${USAGE}`, 2);
    }

    const info = readExecInfo(env?.KUBERNETES_EXEC_INFO);
    if ('error' in info) return fail(info.error);
    const url = info.server ?? argUrl;
    if (url === undefined) {
      return fail(
        'kubectl sent no cluster information, so there is no API server to look up: set provideClusterInfo: true in ' +
          "this user's exec section of the kubeconfig (credmux setup kubectl --context NAME writes it), or pass --url URL",
      );
    }
    if (info.server !== undefined && argUrl !== undefined && !sameServer(info.server, argUrl)) {
      // The token for --url would be sent to the cluster's server: refused, whichever is stale.
      return fail(
        `--url ${redactUrl(argUrl)} is not the server of this cluster (${redactUrl(info.server)}); ` +
          'the token would go to another server than it is for: drop --url from the kubeconfig',
      );
    }
    return { kind: 'request', request: { op: 'get', url }, ctx: { apiVersion: info.apiVersion, url } };
  },

  format(ctx, result: EngineResult) {
    if (result.op === 'error') return output('', line(`${PROG}: ${result.error.message}`), 1);
    if (result.op !== 'get') return output('', line(`${PROG}: ${unexpectedResult(result)}`), 1);
    const cred = result.credential;
    // A Docker identity token is a refresh token for a registry's token endpoint, never an API token.
    if (cred === null || cred.username === IDENTITY_TOKEN_USERNAME) {
      const url = redactUrl(ctx.url);
      return output('', `${PROG}: credmux has no credential for ${url}; store one with: credmux login ${url} --token-stdin\n`, 1);
    }
    if (cred.headers) return output('', line(`${PROG}: ${onlyBazelMessage(result)}`), 1);
    // Kubernetes authenticates with bearer tokens only (Basic was removed in 1.19): a stored
    // username/password serves its password, which is how such a token is usually stored.
    if (/[\u0000-\u001f\u007f]/.test(cred.secret) || cred.secret === '') {
      return output(
        '',
        `${PROG}: the token found for ${redactUrl(ctx.url)} is empty or has control characters, which a header cannot carry; store it again\n`,
        1,
      );
    }
    const status: { token: string; expirationTimestamp?: string } = { token: cred.secret };
    const expires = cred.expiresAt === undefined ? undefined : rfc3339Seconds(cred.expiresAt);
    if (expires !== undefined) status.expirationTimestamp = expires;
    return output(`${JSON.stringify({ apiVersion: ctx.apiVersion, kind: 'ExecCredential', status })}\n`, '', 0);
  },
};

type ExecInfo = { apiVersion: string; server?: string } | { error: string };

/**
 * KUBERNETES_EXEC_INFO, as client-go sets it. Absent: a v1beta1 client from before Kubernetes 1.20,
 * the only kind that sends none (docs/protocols.md §11.1), so the answer is v1beta1.
 */
function readExecInfo(text: string | undefined): ExecInfo {
  if (text === undefined || text.trim() === '') return { apiVersion: EXEC_API_V1BETA1 };
  const expected = 'expected an ExecCredential in KUBERNETES_EXEC_INFO, as kubectl sets it';
  const parsed = parseJsonObject(text);
  if (!parsed.ok) {
    if (parsed.reason === 'duplicate') return { error: `KUBERNETES_EXEC_INFO names ${JSON.stringify(parsed.key)} twice; ${expected}` };
    return { error: `KUBERNETES_EXEC_INFO is not ${parsed.reason === 'syntax' ? 'valid JSON' : 'a JSON object'}; ${expected}` };
  }
  const info = parsed.value;
  const apiVersion = own(info, 'apiVersion');
  if (apiVersion === EXEC_API_V1ALPHA1) {
    return { error: `${EXEC_API_V1ALPHA1} was removed in Kubernetes 1.24; set apiVersion: ${EXEC_API_V1} in the kubeconfig's exec section` };
  }
  if (typeof apiVersion !== 'string' || !API_VERSIONS.includes(apiVersion)) {
    return {
      error: `KUBERNETES_EXEC_INFO has an apiVersion credmux does not speak; set apiVersion: ${EXEC_API_V1} in the kubeconfig's exec section`,
    };
  }
  if (own(info, 'kind') !== 'ExecCredential') return { error: `KUBERNETES_EXEC_INFO's kind is not ExecCredential; ${expected}` };
  const spec = own(info, 'spec');
  if (spec === undefined || spec === null) return { apiVersion };
  if (!isObject(spec)) return { error: `KUBERNETES_EXEC_INFO's spec is not an object; ${expected}` };
  const cluster = own(spec, 'cluster');
  if (cluster === undefined || cluster === null) return { apiVersion };
  if (!isObject(cluster)) return { error: `KUBERNETES_EXEC_INFO's spec.cluster is not an object; ${expected}` };
  const server = own(cluster, 'server');
  if (typeof server !== 'string' || server === '') return { error: `KUBERNETES_EXEC_INFO's spec.cluster has no server; ${expected}` };
  return { apiVersion, server };
}

function isObject(x: unknown): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The same scheme, host, port and path (a trailing slash aside), as credmux matches URLs. */
function sameServer(a: string, b: string): boolean {
  try {
    const x = parseRequest(a);
    const y = parseRequest(b);
    const path = (p: string) => p.replace(/\/+$/, '');
    return x.scheme === y.scheme && x.host === y.host && x.port === y.port && path(x.path) === path(y.path);
  } catch {
    return false;
  }
}
