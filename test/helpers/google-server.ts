// A fake of the Google endpoints the google source calls, on 127.0.0.1 (http, or https with a test CA),
// checking each request as Google does and answering in Google's shapes:
//
// - POST /token — oauth2.googleapis.com/token. jwt-bearer grant: the assertion's RS256 signature is
//   verified with the service account's public key (jose jwtVerify), and its claims: iss = client_email,
//   aud = https://oauth2.googleapis.com/token, scope, iat/exp at most an hour apart, header kid =
//   private_key_id (https://developers.google.com/identity/protocols/oauth2/service-account#httprest;
//   googleapis/google-auth-library-python google/oauth2/service_account.py, google/oauth2/_client.py).
//   refresh_token grant with client_id/client_secret in the form (google/oauth2/_client.py refresh_grant).
//   → {"access_token":"ya29…","expires_in":N,"token_type":"Bearer"}; refusals {"error":"invalid_grant",…}.
// - POST /v1/token — sts.googleapis.com token exchange (google/oauth2/sts.py;
//   https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token): the subject token is an
//   OIDC JWT of this server's "CI" issuer, verified, with the pool audience.
//   → {"access_token","issued_token_type","token_type":"Bearer","expires_in"}.
// - POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken — iamcredentials
//   (google/auth/impersonated_credentials.py; https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken):
//   Bearer must be a token this server issued; JSON {"scope":[…],"lifetime":"3600s"} → {"accessToken","expireTime"}.
// - GET /computeMetadata/v1/instance/service-accounts/default/token — the metadata server
//   (google/auth/compute_engine/_metadata.py; https://cloud.google.com/compute/docs/access/authenticate-workloads#applications):
//   needs `Metadata-Flavor: Google`, answers with it.
// - GET /subject — a credential_source URL: {"value": <OIDC JWT>} for the right header (the shape
//   google-github-actions/auth points an external_account file at: GitHub's ID-token endpoint).
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { TestTls } from './tls.js';

export const GOOGLE_ROUTES = {
  token: '/token',
  sts: '/v1/token',
  impersonate: '/v1/projects/-/serviceAccounts/',
  metadata: '/computeMetadata/v1/instance/service-accounts/default/token',
  subject: '/subject',
} as const;
export type GoogleRoute = keyof typeof GOOGLE_ROUTES;

/**
 * ok; deny (the route's refusal); not-google (metadata: an answer without Metadata-Flavor); 500;
 * no-account (metadata 404); echo (a hostile token endpoint: a 400 whose error_description is the form it was sent).
 */
export type GoogleMode = 'ok' | 'deny' | 'not-google' | '500' | 'no-account' | 'echo';

export interface GoogleRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface GoogleServer {
  url: string;
  /** A service-account key JSON whose token_uri is this server. */
  serviceAccountKey(): Record<string, string>;
  /** An authorized_user JSON (what gcloud auth application-default login writes) pointing here. */
  authorizedUser(): Record<string, string>;
  clientEmail: string;
  privateKeyId: string;
  poolAudience: string;
  impersonatedAccount: string;
  /** A valid OIDC token of the CI issuer, for the pool audience unless told otherwise. */
  ciToken(opts?: { aud?: string; expSeconds?: number }): Promise<string>;
  /** The header the /subject route requires (as a CI's ID-token endpoint does). */
  subjectHeader: string;
  ttl: number;
  /** The claims of the last verified assertion. */
  lastAssertion?: Record<string, unknown>;
  /** Every access token issued, by route. */
  issued: Record<GoogleRoute, string[]>;
  count(route: GoogleRoute): number;
  requests(route: GoogleRoute): GoogleRequest[];
  setMode(route: GoogleRoute, mode: GoogleMode): void;
  reset(): void;
  close(): Promise<void>;
}

const CI_KEY = new TextEncoder().encode('credmux-test-google-ci-issuer-key-not-a-secret-0123');
const CI_ISSUER = 'https://ci.example.test';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function routeOf(path: string): GoogleRoute | undefined {
  if (path === GOOGLE_ROUTES.token) return 'token';
  if (path === GOOGLE_ROUTES.sts) return 'sts';
  if (path.startsWith(GOOGLE_ROUTES.impersonate) && path.endsWith(':generateAccessToken')) return 'impersonate';
  if (path === GOOGLE_ROUTES.metadata) return 'metadata';
  if (path === GOOGLE_ROUTES.subject) return 'subject';
  return undefined;
}

/**
 * tls: serve https with this certificate. accessToken: issue this one token (opaque, ya29.-style) on
 * every route, so a real server (git over nginx, with an htpasswd made in advance) can be told which
 * token to accept.
 */
export async function startGoogleServer(opts: { tls?: TestTls; accessToken?: string } = {}): Promise<GoogleServer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const counts = new Map<GoogleRoute, number>();
  const recorded = new Map<GoogleRoute, GoogleRequest[]>();
  const modes = new Map<GoogleRoute, GoogleMode>();
  const sockets = new Set<Socket>();
  const issuedBy = (): Record<GoogleRoute, string[]> => ({ token: [], sts: [], impersonate: [], metadata: [], subject: [] });

  const state: GoogleServer = {
    url: '',
    clientEmail: 'builder@credmux-test.iam.gserviceaccount.com',
    privateKeyId: randomBytes(20).toString('hex'),
    poolAudience: '//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/ci/providers/test',
    impersonatedAccount: 'deployer@credmux-test.iam.gserviceaccount.com',
    subjectHeader: `Bearer subject-request-${randomBytes(8).toString('hex')}`,
    ttl: 3599,
    issued: issuedBy(),
    serviceAccountKey: () => ({
      type: 'service_account',
      project_id: 'credmux-test',
      private_key_id: state.privateKeyId,
      private_key: pem,
      client_email: state.clientEmail,
      client_id: '1234567890',
      token_uri: `${state.url}${GOOGLE_ROUTES.token}`,
    }),
    authorizedUser: () => ({
      type: 'authorized_user',
      client_id: 'credmux-test.apps.googleusercontent.com',
      client_secret: 'test-client-secret-0123456789',
      refresh_token: 'test-refresh-token-1//0123456789abcdef',
      token_uri: `${state.url}${GOOGLE_ROUTES.token}`,
    }),
    ciToken: ({ aud, expSeconds = 600 } = {}) =>
      new SignJWT({ repository: 'acme/app' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(CI_ISSUER)
        .setSubject('repo:acme/app:ref:refs/heads/main')
        .setAudience(aud ?? state.poolAudience)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
        .sign(CI_KEY),
    count: (r) => counts.get(r) ?? 0,
    requests: (r) => recorded.get(r) ?? [],
    setMode: (r, m) => void modes.set(r, m),
    reset() {
      counts.clear();
      recorded.clear();
      modes.clear();
      state.issued = issuedBy();
      state.lastAssertion = undefined;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  const issue = (route: GoogleRoute): string => {
    const t = opts.accessToken ?? `ya29.${route}-${randomBytes(16).toString('base64url')}`;
    state.issued[route].push(t);
    return t;
  };
  const allIssued = () => Object.values(state.issued).flat();

  async function verifyAssertion(assertion: string, key: KeyObject): Promise<string | undefined> {
    try {
      const header = decodeProtectedHeader(assertion);
      if (header.kid !== state.privateKeyId || header.typ !== 'JWT') return 'bad header';
      const { payload } = await jwtVerify(assertion, key, {
        algorithms: ['RS256'],
        issuer: state.clientEmail,
        audience: 'https://oauth2.googleapis.com/token',
      });
      const now = Math.floor(Date.now() / 1000);
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') return 'no iat/exp';
      if (payload.exp - payload.iat > 3600 || Math.abs(payload.iat - now) > 300) return 'iat/exp out of range';
      if (typeof payload.scope !== 'string' || payload.scope === '') return 'no scope';
      state.lastAssertion = payload as Record<string, unknown>;
      return undefined;
    } catch (e) {
      return (e as Error).name;
    }
  }

  async function handle(route: GoogleRoute, req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const mode = modes.get(route) ?? 'ok';
    if (mode === '500') return json(res, 500, { error: 'internal' });
    if (mode === 'echo')
      return json(res, 400, { error: 'invalid_grant', error_description: `you sent ${body} with ${req.headers.authorization ?? ''}` });
    switch (route) {
      case 'token': {
        const form = new URLSearchParams(body);
        if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return json(res, 400, { error: 'invalid_request' });
        const grant = form.get('grant_type');
        if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
          const problem = await verifyAssertion(form.get('assertion') ?? '', publicKey);
          if (problem || mode === 'deny') return json(res, 400, { error: 'invalid_grant', error_description: problem ?? 'Invalid JWT Signature.' });
        } else if (grant === 'refresh_token') {
          const u = state.authorizedUser();
          if (form.get('client_id') !== u.client_id || form.get('client_secret') !== u.client_secret)
            return json(res, 401, { error: 'invalid_client' });
          if (form.get('refresh_token') !== u.refresh_token || mode === 'deny') {
            return json(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
          }
        } else return json(res, 400, { error: 'unsupported_grant_type' });
        return json(res, 200, { access_token: issue('token'), expires_in: state.ttl, token_type: 'Bearer', scope: CLOUD_PLATFORM });
      }
      case 'sts': {
        const form = new URLSearchParams(body);
        const want: Record<string, string> = {
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          audience: state.poolAudience,
        };
        for (const [k, v] of Object.entries(want))
          if (form.get(k) !== v) return json(res, 400, { error: 'invalid_request', error_description: `bad ${k}` });
        if (!form.get('scope')) return json(res, 400, { error: 'invalid_scope' });
        try {
          await jwtVerify(form.get('subject_token') ?? '', CI_KEY, { issuer: CI_ISSUER, audience: state.poolAudience });
        } catch {
          return json(res, 400, { error: 'invalid_grant', error_description: 'The audience in ID Token does not match the expected audience.' });
        }
        if (mode === 'deny')
          return json(res, 403, { error: 'unauthorized_client', error_description: 'The given credential is rejected by the attribute condition.' });
        return json(res, 200, {
          access_token: issue('sts'),
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: 'Bearer',
          expires_in: state.ttl,
        });
      }
      case 'impersonate': {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!bearer || !allIssued().includes(bearer))
          return json(res, 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
        const email = decodeURIComponent(req.url!.slice(GOOGLE_ROUTES.impersonate.length).replace(/:generateAccessToken$/, ''));
        let parsed: { scope?: unknown; lifetime?: unknown };
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          return json(res, 400, { error: { code: 400, status: 'INVALID_ARGUMENT' } });
        }
        if (!Array.isArray(parsed.scope) || parsed.scope.length === 0 || typeof parsed.lifetime !== 'string' || !/^\d+s$/.test(parsed.lifetime)) {
          return json(res, 400, { error: { code: 400, status: 'INVALID_ARGUMENT' } });
        }
        if (email !== state.impersonatedAccount || mode === 'deny') {
          return json(res, 403, {
            error: {
              code: 403,
              message: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
              status: 'PERMISSION_DENIED',
            },
          });
        }
        const lifetime = Math.min(Number(parsed.lifetime.slice(0, -1)), state.ttl);
        const expireTime = new Date(Date.now() + lifetime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        return json(res, 200, { accessToken: issue('impersonate'), expireTime });
      }
      case 'metadata': {
        if (mode === 'not-google') return json(res, 404, { message: 'not here' });
        if (req.headers['metadata-flavor'] !== 'Google')
          return json(res, 403, { error: 'Missing Metadata-Flavor:Google header.' }, { 'metadata-flavor': 'Google' });
        if (mode === 'no-account') return json(res, 404, { error: 'not found' }, { 'metadata-flavor': 'Google' });
        return json(res, 200, { access_token: issue('metadata'), expires_in: state.ttl, token_type: 'Bearer' }, { 'metadata-flavor': 'Google' });
      }
      case 'subject': {
        if (req.headers.authorization !== state.subjectHeader) return json(res, 401, { message: 'no' });
        return json(res, 200, { count: 1, value: await state.ciToken() });
      }
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '').split('?')[0]!;
      const route = routeOf(path);
      if (!route) return json(res, 404, { error: 'no such route' });
      counts.set(route, (counts.get(route) ?? 0) + 1);
      recorded.set(route, [...(recorded.get(route) ?? []), { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }]);
      await handle(route, req, res, body);
    })();
  };
  const server: Server = opts.tls ? createHttps({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttp(listener);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.url = opts.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  return state;
}
