// A fake Microsoft Entra ID authority and Azure Container Registry token service in one HTTPS server
// on 127.0.0.1 (certificate from tls.ts), for the azure source's tests. Request and response shapes:
// - POST /{tenant}/oauth2/v2.0/token, client-credentials grant with client_secret or a jwt-bearer
//   client_assertion; answer {"token_type","expires_in","ext_expires_in","access_token"}; errors
//   {"error","error_description":"AADSTS…","error_codes"}:
//   https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
//   (AADSTS codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
// - The federated assertion is a Kubernetes service-account token with audience
//   api://AzureADTokenExchange: https://azure.github.io/azure-workload-identity/docs/topics/service-account-labels-and-annotations.html
// - POST /oauth2/exchange (grant_type=access_token, service, tenant, access_token) → {"refresh_token"};
//   GET /oauth2/token with Basic 00000000-…:<refresh token> → {"access_token"}; GET /v2/ challenges
//   with Bearer realm=…/oauth2/token: Azure/acr docs/AAD-OAuth.md. Registry errors use the
//   distribution spec's {"errors":[{"code","message"}]}.
// Every token it issues is a JWT signed with jose and verified on the way back in.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { decodeJwt, jwtVerify, SignJWT } from 'jose';
import { makeTestTls, type TestTls } from './tls.js';

export const ACR_AUDIENCE = 'https://containerregistry.azure.net';
export const ARM_AUDIENCE = 'https://management.azure.com';
export const DEVOPS_AUDIENCE = '499b84ac-1321-427f-aa17-267ca6975798';
export const WORKLOAD_AUDIENCE = 'api://AzureADTokenExchange';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  form: URLSearchParams;
}

export type AzureMode = 'ok' | '500' | 'stall';

export interface AzureServer {
  /** https://localhost:PORT: the authority host (AZURE_AUTHORITY_HOST) and the registry's origin. */
  url: string;
  /** localhost:PORT: the registry's login server. */
  registry: string;
  tls: TestTls;
  tenant: string;
  clientId: string;
  clientSecret: string;
  /** Clients the registry grants pull to (AcrPull). */
  acrPull: Set<string>;
  /** The service-account token the "kubelet" projects (signed by the cluster's issuer key). */
  serviceAccountToken(opts?: { aud?: string; expSeconds?: number; sub?: string }): Promise<string>;
  /** Subject the federated credential trusts. */
  federatedSubject: string;
  entraTtl: number;
  acrTtl: number;
  issued: string[];
  requests(route: 'token' | 'exchange' | 'acr-token' | 'v2'): RecordedRequest[];
  setMode(route: 'token' | 'exchange', mode: AzureMode): void;
  reset(): void;
  close(): Promise<void>;
}

const ENTRA_KEY = new TextEncoder().encode('credmux-test-entra-signing-key-not-a-secret-0123');
const ACR_KEY = new TextEncoder().encode('credmux-test-acr-signing-key-not-a-secret-456789');
const CLUSTER_KEY = new TextEncoder().encode('credmux-test-cluster-issuer-key-not-a-secret-abc');
const CLUSTER_ISSUER = 'https://oidc.cluster.test';

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function aadError(res: ServerResponse, status: number, error: string, code: number, text: string): void {
  json(res, status, { error, error_description: `AADSTS${code}: ${text}`, error_codes: [code], timestamp: new Date().toISOString() });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export async function startAzureServer(): Promise<AzureServer> {
  const tls = makeTestTls();
  const sockets = new Set<Socket>();
  const recorded = new Map<string, RecordedRequest[]>();
  const modes = new Map<string, AzureMode>();
  let serial = 0;

  const state: AzureServer = {
    url: '',
    registry: '',
    tls,
    tenant: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    clientId: '11111111-2222-3333-4444-555555555555',
    clientSecret: 'azure-client-secret-0123456789abcdef',
    acrPull: new Set(),
    federatedSubject: 'system:serviceaccount:build:credmux',
    entraTtl: 3599,
    acrTtl: 3 * 3600,
    issued: [],
    requests: (route) => recorded.get(route) ?? [],
    setMode: (route, mode) => void modes.set(route, mode),
    reset() {
      recorded.clear();
      modes.clear();
      state.issued.length = 0;
      state.acrPull = new Set([state.clientId]);
      state.entraTtl = 3599;
      state.acrTtl = 3 * 3600;
    },
    serviceAccountToken: ({ aud, expSeconds, sub } = {}) =>
      new SignJWT({ kubernetes: { namespace: 'build', serviceaccount: { name: 'credmux' } } })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(CLUSTER_ISSUER)
        .setSubject(sub ?? state.federatedSubject)
        .setAudience(aud ?? WORKLOAD_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + (expSeconds ?? 3600))
        .sign(CLUSTER_KEY),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  state.acrPull.add(state.clientId);

  async function sign(key: Uint8Array, claims: Record<string, unknown>, ttl: number, aud: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ n: ++serial, ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(key === ENTRA_KEY ? `${state.url}/${state.tenant}/v2.0` : state.registry)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(key);
    state.issued.push(jwt);
    return jwt;
  }

  async function verified(token: string | null, key: Uint8Array, opts: { issuer: string; audience: string | string[] }) {
    if (!token) return undefined;
    try {
      return (await jwtVerify(token, key, opts)).payload;
    } catch {
      return undefined;
    }
  }

  async function entraToken(tenant: string, form: URLSearchParams, res: ServerResponse): Promise<void> {
    if (tenant !== state.tenant) return aadError(res, 400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials')
      return aadError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const clientId = form.get('client_id');
    if (clientId !== state.clientId) {
      return aadError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
    }
    const scope = form.get('scope') ?? '';
    if (!scope.endsWith('/.default')) return aadError(res, 400, 'invalid_scope', 1002012, 'The provided value for scope is not valid.');
    if (form.has('client_secret')) {
      if (form.get('client_secret') !== state.clientSecret) return aadError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    } else if (form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      const assertion = form.get('client_assertion');
      const claims = await verified(assertion, CLUSTER_KEY, { issuer: CLUSTER_ISSUER, audience: WORKLOAD_AUDIENCE });
      if (!claims) {
        const expired = assertion !== null && (decodeJwt(assertion).exp ?? 0) <= Date.now() / 1000;
        return expired
          ? aadError(res, 400, 'invalid_client', 700024, 'Client assertion is not within its valid time range.')
          : aadError(res, 400, 'invalid_client', 700211, 'No matching federated identity record found for presented assertion issuer.');
      }
      if (claims.sub !== state.federatedSubject) {
        return aadError(res, 400, 'invalid_client', 70021, 'No matching federated identity record found for presented assertion.');
      }
    } else {
      return aadError(
        res,
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    const resource = scope.slice(0, -'/.default'.length);
    const token = await sign(ENTRA_KEY, { tid: tenant, appid: clientId, oid: `oid-${clientId}` }, state.entraTtl, resource);
    return json(res, 200, { token_type: 'Bearer', expires_in: state.entraTtl, ext_expires_in: state.entraTtl, access_token: token });
  }

  async function acrExchange(form: URLSearchParams, host: string, res: ServerResponse): Promise<void> {
    if (form.get('grant_type') !== 'access_token')
      return json(res, 400, { errors: [{ code: 'UNSUPPORTED', message: 'grant_type must be access_token' }] });
    if (form.get('service') !== host) return json(res, 400, { errors: [{ code: 'DENIED', message: `service must be ${host}` }] });
    const claims = await verified(form.get('access_token'), ENTRA_KEY, {
      issuer: `${state.url}/${state.tenant}/v2.0`,
      audience: [ACR_AUDIENCE, ARM_AUDIENCE],
    });
    if (!claims || form.get('tenant') !== claims.tid) {
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required, visit https://aka.ms/acr/authorization' }] });
    }
    if (!state.acrPull.has(String(claims.appid))) {
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'the identity has no role assignment on this registry' }] });
    }
    return json(res, 200, {
      refresh_token: await sign(ACR_KEY, { grant_type: 'refresh_token', tenant: claims.tid, appid: claims.appid }, state.acrTtl, host),
    });
  }

  /** Docker token auth with the refresh token as the password of the null GUID (what docker, skopeo do). */
  async function acrToken(req: IncomingMessage, u: URL, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization ?? '';
    const [user, pass] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':') : [];
    const claims =
      user === '00000000-0000-0000-0000-000000000000'
        ? await verified(pass ?? null, ACR_KEY, { issuer: state.registry, audience: state.registry })
        : undefined;
    if (!claims) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    const scope = u.searchParams.get('scope') ?? '';
    return json(res, 200, { access_token: await sign(ACR_KEY, { scope }, 300, `${state.registry}/v2`) });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', state.url);
    const body = await readBody(req);
    const form = new URLSearchParams(body);
    const tokenRoute = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(u.pathname);
    const route = tokenRoute
      ? 'token'
      : u.pathname === '/oauth2/exchange'
        ? 'exchange'
        : u.pathname === '/oauth2/token'
          ? 'acr-token'
          : u.pathname.startsWith('/v2/')
            ? 'v2'
            : 'other';
    const list = recorded.get(route) ?? [];
    list.push({ method: req.method ?? '', path: u.pathname, headers: req.headers, form });
    recorded.set(route, list);
    const mode = modes.get(route) ?? 'ok';
    if (mode === 'stall') return; // never answered: the client's time bound ends it
    if (mode === '500')
      return json(res, 500, { error: 'temporarily_unavailable', error_description: 'AADSTS90033: A transient error has occurred.' });
    if (tokenRoute && req.method === 'POST') return entraToken(decodeURIComponent(tokenRoute[1]!), form, res);
    if (route === 'exchange' && req.method === 'POST') return acrExchange(form, req.headers.host ?? '', res);
    if (route === 'acr-token') return acrToken(req, u, res);
    if (route === 'v2') return registryApi(req, u, res);
    return json(res, 404, { error: 'not_found' });
  }

  /** Just enough of the registry API for `skopeo inspect --raw`: the challenge and one manifest. */
  async function registryApi(req: IncomingMessage, u: URL, res: ServerResponse): Promise<void> {
    const challenge = { 'www-authenticate': `Bearer realm="${state.url}/oauth2/token",service="${state.registry}"` };
    const auth = req.headers.authorization ?? '';
    const ok = auth.startsWith('Bearer ') && (await verified(auth.slice(7), ACR_KEY, { issuer: state.registry, audience: `${state.registry}/v2` }));
    if (!ok) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, challenge);
    if (u.pathname === '/v2/') return json(res, 200, {});
    if (/^\/v2\/team\/app\/manifests\/v1$/.test(u.pathname)) {
      const manifest = JSON.stringify(MANIFEST);
      res.writeHead(200, {
        'content-type': MANIFEST.mediaType,
        'docker-content-digest': MANIFEST_DIGEST,
        'content-length': Buffer.byteLength(manifest),
      });
      return void res.end(req.method === 'HEAD' ? undefined : manifest);
    }
    return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
  }

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'test server bug' });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.url = `https://localhost:${port}`;
  state.registry = `localhost:${port}`;
  return state;
}

/** An OCI image manifest (https://github.com/opencontainers/image-spec/blob/main/manifest.md). */
export const MANIFEST = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    size: 2,
  },
  layers: [],
};
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(JSON.stringify(MANIFEST)).digest('hex')}`;
