// The kubelet's image credential provider protocol (docs/protocols.md §12): a CredentialProviderRequest
// naming the image on stdin, a CredentialProviderResponse on stdout, in the request's apiVersion (the
// kubelet discards any other). The image maps to its registry as the Docker door maps a server URL;
// `cacheDuration` is how long the credential has left to live, so the kubelet asks again in time.
import { DOCKER_HUB_URL, IDENTITY_TOKEN_USERNAME, isDockerHub, type EngineResult, type ProtocolAdapter, onlyBazelMessage } from '../model/types.js';
import { VERSION } from '../platform/version.js';
import { decodeUtf8, line, output, own, parseJsonObject, reply, unexpectedResult } from './util.js';

const PROG = 'credmux-kubelet';

const GROUP = 'credentialprovider.kubelet.k8s.io';
/** Every version the kubelet still speaks has the same request and response fields (kubernetes/kubelet pkg/apis/credentialprovider). */
export const PROVIDER_API_VERSIONS: readonly string[] = [`${GROUP}/v1`, `${GROUP}/v1beta1`, `${GROUP}/v1alpha1`];

const USAGE = `Usage: ${PROG}
kubelet image credential provider: reads a CredentialProviderRequest on stdin and prints a
CredentialProviderResponse with the registry credential credmux serves for that image.
Configure it in the kubelet's --image-credential-provider-config (see docs/protocols.md §12).
`;

/**
 * Seconds taken off a credential's remaining life: the kubelet uses a cached answer until
 * cacheDuration ends, and a pull that starts then must not carry a token that runs out on the way.
 */
export const CACHE_MARGIN_SECONDS = 60;
/** The longest duration Go can hold (math.MaxInt64 nanoseconds), in whole seconds. */
const GO_MAX_DURATION_SECONDS = 9_223_372_036;

export interface KubeletCtx {
  apiVersion: string;
  /** The `auth` key: the image's repository, as the kubelet matches it against later images. */
  repository: string;
}

function fail(message: string) {
  return reply('', line(`${PROG}: ${message}`), 1);
}

/** The adapter, with the clock that turns an expiry into a cache duration (Unix seconds). */
export function kubeletAdapter(now: () => number = () => Date.now() / 1000): ProtocolAdapter<KubeletCtx> {
  return {
    name: 'kubelet',

    parse(argv, stdin) {
      const first = argv[0];
      if (first === '--help' || first === '-h' || first === 'help') return reply(USAGE, '', 0);
      if (first === '--version' || first === 'version') return reply(`${PROG} ${VERSION}\n`, '', 0);
      // The provider's `args` are ours to define, and we define none: a typo must not pass silently.
      if (first !== undefined) return fail(`unknown argument ${JSON.stringify(first.length > 40 ? `${first.slice(0, 40)}…` : first)}\n${USAGE}`);

      const expected = 'expected a CredentialProviderRequest on stdin, as the kubelet sends it';
      const text = decodeUtf8(stdin);
      if (text === undefined) return fail(`the request on stdin is not valid UTF-8; ${expected}`);
      if (text.trim() === '') return fail(`no request on stdin; ${expected}`);
      const parsed = parseJsonObject(text);
      if (!parsed.ok) {
        if (parsed.reason === 'duplicate') return fail(`the request names ${JSON.stringify(parsed.key)} twice in one object; ${expected}`);
        return fail(`the request on stdin is not ${parsed.reason === 'syntax' ? 'valid JSON' : 'a JSON object'}; ${expected}`);
      }
      const apiVersion = own(parsed.value, 'apiVersion');
      if (typeof apiVersion !== 'string' || !PROVIDER_API_VERSIONS.includes(apiVersion)) {
        return fail(`the request's apiVersion is not one of ${PROVIDER_API_VERSIONS.join(', ')}; ${expected}`);
      }
      if (own(parsed.value, 'kind') !== 'CredentialProviderRequest') return fail(`the request's kind is not CredentialProviderRequest; ${expected}`);
      // serviceAccountToken and serviceAccountAnnotations (1.33+) are ignored: credmux's credential
      // does not depend on the pod, and the token is never repeated anywhere.
      const image = own(parsed.value, 'image');
      if (typeof image !== 'string' || image === '') return fail(`the request has no "image"; ${expected}`);
      const ref = parseImage(image);
      if (ref === undefined) return fail('the request\'s "image" is not an image reference like registry.example.com/team/app:1.0');
      return { kind: 'request', request: { op: 'get', url: ref.lookupUrl }, ctx: { apiVersion, repository: ref.repository } };
    },

    format(ctx, result: EngineResult) {
      if (result.op === 'error') return output('', line(`${PROG}: ${result.error.message}`), 1);
      if (result.op !== 'get') return output('', line(`${PROG}: ${unexpectedResult(result)}`), 1);
      const cred = result.credential;
      if (cred?.headers) return output('', line(`${PROG}: ${onlyBazelMessage(result)}`), 1);
      const served = cred !== null && cred.username !== IDENTITY_TOKEN_USERNAME ? cred : null;
      // Nothing to give: "0s", so that a credential stored later is asked for on the next pull. No
      // expiry known (a stored secret): no cacheDuration, and the kubelet's defaultCacheDuration applies.
      let cacheDuration: string | undefined = '0s';
      if (served) cacheDuration = served.expiresAt === undefined ? undefined : goDuration(served.expiresAt - now() - CACHE_MARGIN_SECONDS);
      // `Image`: credmux may hold different credentials for two paths of one registry (the most
      // specific rule wins), so an answer is cached for this repository, never for the whole registry.
      const response = {
        apiVersion: ctx.apiVersion,
        kind: 'CredentialProviderResponse',
        cacheKeyType: 'Image',
        ...(cacheDuration !== undefined ? { cacheDuration } : {}),
        auth: served ? { [ctx.repository]: { username: served.username, password: served.secret } } : {},
      };
      return output(`${JSON.stringify(response)}\n`, '', 0);
    },
  };
}

export const kubelet = kubeletAdapter();

/** Whole seconds as Go's time.Duration.String() writes them: "0s", "45s", "1m30s", "1h0m0s". */
export function goDuration(seconds: number): string {
  const s = Math.min(GO_MAX_DURATION_SECONDS, Math.max(0, Math.floor(seconds)));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}

/** A path component of a repository name (distribution/reference's grammar). */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** `algorithm:hex`, and a tag (distribution/reference regexp.go): anything else after `@` or `:` is no reference. */
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
/** host[:port]: DNS labels or an IPv6 literal in brackets. */
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * An image reference (`registry/path[:tag][@digest]`; the kubelet sends the normalized repository,
 * `docker.io/library/nginx`) → the repository, the key the kubelet caches and matches the answer by,
 * and the URL credmux looks up: Docker Hub under its one name, as the Docker door does; any other
 * registry as `host[:port]/path`, schemeless like Docker's server names, so a path-scoped rule can win.
 * Follows docker's splitDockerDomain (distribution/reference normalize.go). Undefined when malformed.
 */
export function parseImage(image: string): { repository: string; lookupUrl: string } | undefined {
  if (image.length > 4096) return undefined;
  let name = image;
  const at = name.indexOf('@');
  if (at >= 0) {
    if (!DIGEST.test(name.slice(at + 1))) return undefined;
    name = name.slice(0, at);
  }
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) {
    if (!TAG.test(name.slice(colon + 1))) return undefined;
    name = name.slice(0, colon);
  }
  const first = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const head = first < 0 ? '' : name.slice(0, first);
  if (first < 0 || (!/[.:]/.test(head) && head !== 'localhost' && head.toLowerCase() === head)) {
    domain = 'docker.io';
    remainder = name;
  } else {
    domain = head;
    remainder = name.slice(first + 1);
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !remainder.includes('/')) remainder = `library/${remainder}`;
  if (!DOMAIN.test(domain) || !remainder.split('/').every((c) => PATH_COMPONENT.test(c))) return undefined;
  const repository = `${domain}/${remainder}`;
  return { repository, lookupUrl: isDockerHub(domain) ? DOCKER_HUB_URL : repository };
}
