// A real token server on 127.0.0.1 for the token-source tests: every shape credmux speaks (pyx-style
// API-key exchange, JSON/form exchange, OAuth refresh with rotation, the device flow, a GitHub
// Actions OIDC endpoint, a Trusted-Access-style mint, RFC 8693 token exchange), issuing JWTs signed
// with jose that expire soon. Each route counts its requests and can be told to misbehave: fail
// (500), answer garbage or a non-JWT, refuse (401/403), or stall until the client gives up.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { jwtVerify, SignJWT } from 'jose';

export type Mode = 'ok' | '500' | '503' | 'garbage' | 'not-jwt' | 'empty' | '401' | '403' | 'stall' | 'redirect-away' | EchoMode;
/**
 * A hostile endpoint: it answers with what it was sent (the body and the Authorization header),
 * spelled as `echoEncoding` says. 'echo-401': as an OAuth error_description in a 401; 'echo-fields':
 * as a field name of a 200 without a token; 'echo-type': as the content type of a 200 that is not JSON.
 */
export type EchoMode = 'echo-401' | 'echo-fields' | 'echo-type';
export type EchoEncoding = 'raw' | 'base64' | 'base64url';

export const ROUTES = {
  /** pyx: POST, Authorization: Bearer <api key>, empty body → {"access_token": jwt} */
  pyx: '/auth/cli/access-token',
  /** JSON body {"api_key": …} → {"token": jwt, "expires_in": n} */
  exchangeJson: '/exchange/json',
  /** form body key=… → {"access_token": jwt, "expires_in": n} */
  exchangeForm: '/exchange/form',
  /** OAuth token endpoint: refresh_token, device_code and token-exchange grants */
  token: '/oauth/token',
  /** RFC 8628 device authorization */
  device: '/oauth/device',
  /** GitHub Actions: GET ?api-version=2.0&audience=… with the request token → {"value": jwt} */
  github: '/_apis/pipelines/idtoken',
  /** Trusted-Access-style mint: POST {"token": oidc jwt} → {"token": jwt} */
  mint: '/v1/trusted-access/mint-token',
} as const;
export type Route = (typeof ROUTES)[keyof typeof ROUTES];

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface DeviceScript {
  /** What each poll answers, in order; the last repeats. */
  polls: ('authorization_pending' | 'slow_down' | 'access_denied' | 'expired_token' | 'ok')[];
  interval?: number;
  /** Issue a refresh token on success (default true). */
  refreshToken?: boolean;
}

export interface TokenServer {
  url: string;
  /** Secrets the server accepts. */
  apiKey: string;
  githubRequestToken: string;
  clientId: string;
  clientSecret: string;
  /** The refresh token currently valid (rotates on every refresh when `rotate` is on). */
  refreshToken: string;
  rotate: boolean;
  /** Lifetime of issued access tokens, seconds. */
  ttl: number;
  /** The server's clock (ms): tests that move a fake clock make the server agree with it. */
  now: () => number;
  /** Also send expires_in (seconds) with access tokens, when set. */
  expiresIn?: number;
  /** Delay before answering, per route (ms). */
  delayMs: Partial<Record<Route, number>>;
  device: DeviceScript;
  /** The audience the mint and token-exchange routes require of an OIDC token. */
  oidcAudience: string;
  /** How the echo modes spell what they were sent. */
  echoEncoding: EchoEncoding;
  count(route: Route): number;
  total(): number;
  requests(route: Route): RecordedRequest[];
  /** Every token this server issued, newest last. */
  issued: string[];
  setMode(route: Route, mode: Mode): void;
  reset(): void;
  /** A valid OIDC identity JWT from this server's "CI" issuer (for env/file/gitlab providers). */
  oidcToken(opts?: { aud?: string; expSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

const SIGNING_KEY = new TextEncoder().encode('credmux-test-signing-key-not-a-secret-0123456789');
const OIDC_KEY = new TextEncoder().encode('credmux-test-oidc-issuer-key-not-a-secret-9876543210');

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startTokenServer(): Promise<TokenServer> {
  const counts = new Map<string, number>();
  const recorded = new Map<string, RecordedRequest[]>();
  const modes = new Map<string, Mode>();
  const sockets = new Set<Socket>();
  let serial = 0;
  const devicePolls = new Map<string, number>();

  const state: TokenServer = {
    url: '',
    apiKey: 'pyx_test_apikey_0123456789abcdef',
    githubRequestToken: 'gh-request-token-0123456789abcdef',
    clientId: 'credmux-test-client',
    clientSecret: 'client-secret-0123456789abcdef',
    refreshToken: 'rt-initial-0123456789abcdef',
    rotate: true,
    ttl: 120,
    now: () => Date.now(),
    delayMs: {},
    device: { polls: ['ok'], interval: 1 },
    oidcAudience: 'credmux-test',
    echoEncoding: 'raw',
    issued: [],
    count: (route) => counts.get(route) ?? 0,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    requests: (route) => recorded.get(route) ?? [],
    setMode: (route, mode) => void modes.set(route, mode),
    reset() {
      counts.clear();
      recorded.clear();
      modes.clear();
      devicePolls.clear();
      state.issued.length = 0;
      state.delayMs = {};
      state.expiresIn = undefined;
      state.ttl = 120;
      state.now = () => Date.now();
      state.echoEncoding = 'raw';
    },
    oidcToken: ({ aud, expSeconds } = {}) =>
      new SignJWT({ repository: 'acme/app', ref: 'refs/heads/main' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('https://ci.test')
        .setSubject('repo:acme/app:ref:refs/heads/main')
        .setAudience(aud ?? state.oidcAudience)
        .setIssuedAt()
        .setExpirationTime(Math.floor(state.now() / 1000) + (expSeconds ?? 300))
        .sign(OIDC_KEY),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  async function issue(claims: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(state.now() / 1000);
    const jwt = await new SignJWT({ n: ++serial, ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(state.url)
      .setSubject('test-user')
      .setIssuedAt(now)
      .setExpirationTime(now + state.ttl)
      .sign(SIGNING_KEY);
    state.issued.push(jwt);
    return jwt;
  }

  function tokenBody(field: string, jwt: string): Record<string, unknown> {
    return state.expiresIn !== undefined
      ? { [field]: jwt, expires_in: state.expiresIn, token_type: 'Bearer' }
      : { [field]: jwt, token_type: 'Bearer' };
  }

  /** Misbehaviour shared by every route; returns true when it answered. */
  async function misbehave(route: string, res: ServerResponse, field: string, sent = ''): Promise<boolean> {
    const mode = modes.get(route) ?? 'ok';
    const echo = state.echoEncoding === 'raw' ? sent : Buffer.from(sent, 'utf8').toString(state.echoEncoding);
    switch (mode) {
      case 'echo-401':
        json(res, 401, { error: 'invalid_client', error_description: `you sent: ${echo}` });
        return true;
      case 'echo-fields':
        json(res, 200, { [echo]: 1 });
        return true;
      case 'echo-type':
        res.writeHead(200, { 'content-type': echo.replace(/[^\x21-\x7e]/g, '_') });
        res.end('not json');
        return true;
      case 'ok':
        return false;
      case '500':
      case '503':
        json(res, Number(mode), { error: 'server_error' });
        return true;
      case '401':
      case '403':
        json(res, Number(mode), { error: 'invalid_token', error_description: 'the credential was refused' });
        return true;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
        return true;
      case 'empty':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('');
        return true;
      case 'not-jwt':
        json(res, 200, { [field]: 'opaque-not-a-jwt-token' });
        return true;
      case 'redirect-away':
        res.writeHead(307, { location: `http://localhost:1${route}` });
        res.end();
        return true;
      case 'stall':
        return true; // never answered: the client's time bound must end it (sockets are destroyed on close)
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', state.url);
    const route = u.pathname;
    const body = await readBody(req);
    counts.set(route, (counts.get(route) ?? 0) + 1);
    const list = recorded.get(route) ?? [];
    list.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    recorded.set(route, list);
    const delay = state.delayMs[route as Route];
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const auth = req.headers.authorization ?? '';

    switch (route) {
      case ROUTES.pyx: {
        if (await misbehave(route, res, 'access_token', `${body} ${auth}`)) return;
        if (req.method !== 'POST') return json(res, 405, { error: 'method' });
        if (auth !== `Bearer ${state.apiKey}`) return json(res, 401, { detail: 'invalid API key' });
        return json(res, 200, tokenBody('access_token', await issue()));
      }
      case ROUTES.exchangeJson: {
        if (await misbehave(route, res, 'token', `${body} ${auth}`)) return;
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(body) as Record<string, unknown>;
        } catch {
          return json(res, 400, { error: 'invalid_request' });
        }
        if (parsed.api_key !== state.apiKey) return json(res, 401, { error: 'invalid_token' });
        return json(res, 200, { token: await issue({ client: parsed.client }), expires_in: state.expiresIn ?? state.ttl });
      }
      case ROUTES.exchangeForm: {
        if (await misbehave(route, res, 'access_token', `${body} ${auth}`)) return;
        const form = new URLSearchParams(body);
        if (form.get('key') !== state.apiKey) return json(res, 401, { error: 'invalid_token' });
        return json(res, 200, tokenBody('access_token', await issue()));
      }
      case ROUTES.device: {
        if (await misbehave(route, res, 'device_code')) return;
        const form = new URLSearchParams(body);
        if (form.get('client_id') !== state.clientId) return json(res, 401, { error: 'invalid_client' });
        const code = `device-code-${++serial}-0123456789abcdef`;
        devicePolls.set(code, 0);
        return json(res, 200, {
          device_code: code,
          user_code: 'WDJB-MJHT',
          verification_uri: `${state.url}/device`,
          verification_uri_complete: `${state.url}/device?user_code=WDJB-MJHT`,
          expires_in: 600,
          interval: state.device.interval ?? 1,
        });
      }
      case ROUTES.token:
        return tokenEndpoint(route, body, auth, res);
      case ROUTES.github: {
        if (await misbehave(route, res, 'value')) return;
        if (auth !== `Bearer ${state.githubRequestToken}`) return json(res, 401, { message: 'bad request token' });
        if (u.searchParams.get('api-version') !== '2.0') return json(res, 400, { message: 'api-version missing' });
        return json(res, 200, { count: 1, value: await state.oidcToken({ aud: u.searchParams.get('audience') ?? 'https://github.com/acme' }) });
      }
      case ROUTES.mint: {
        if (await misbehave(route, res, 'token')) return;
        let subject: string | undefined;
        try {
          subject = (JSON.parse(body) as { token?: string }).token;
        } catch {
          return json(res, 400, { message: 'not JSON' });
        }
        if (!(await validOidc(subject))) return json(res, 403, { message: 'identity not trusted' });
        return json(res, 200, { token: await issue({ via: 'mint' }) });
      }
      default:
        return json(res, 404, { error: 'not_found' });
    }
  }

  async function validOidc(token: string | undefined | null): Promise<boolean> {
    if (!token) return false;
    try {
      await jwtVerify(token, OIDC_KEY, { issuer: 'https://ci.test', audience: state.oidcAudience });
      return true;
    } catch {
      return false;
    }
  }

  function clientOk(form: URLSearchParams, auth: string): boolean {
    if (auth.startsWith('Basic ')) {
      const [id, secret] = Buffer.from(auth.slice(6), 'base64')
        .toString('utf8')
        .split(':')
        .map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
      return id === state.clientId && secret === state.clientSecret;
    }
    if (form.has('client_secret')) return form.get('client_id') === state.clientId && form.get('client_secret') === state.clientSecret;
    return form.get('client_id') === state.clientId;
  }

  async function tokenEndpoint(route: string, body: string, auth: string, res: ServerResponse): Promise<void> {
    if (await misbehave(route, res, 'access_token', `${body} ${auth}`)) return;
    const form = new URLSearchParams(body);
    const grant = form.get('grant_type');
    if (grant === 'urn:ietf:params:oauth:grant-type:token-exchange') {
      if (form.get('subject_token_type') !== 'urn:ietf:params:oauth:token-type:jwt') return json(res, 400, { error: 'invalid_request' });
      if (!(await validOidc(form.get('subject_token'))))
        return json(res, 400, { error: 'invalid_grant', error_description: 'subject token not trusted' });
      return json(res, 200, {
        ...tokenBody('access_token', await issue({ via: 'token-exchange', aud: form.get('audience') })),
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      });
    }
    if (!clientOk(form, auth)) return json(res, 401, { error: 'invalid_client' });
    if (grant === 'refresh_token') {
      if (form.get('refresh_token') !== state.refreshToken)
        return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token is invalid or was already used' });
      const out: Record<string, unknown> = tokenBody('access_token', await issue({ scope: form.get('scope') }));
      if (state.rotate) {
        state.refreshToken = `rt-${++serial}-0123456789abcdef`;
        out.refresh_token = state.refreshToken;
      }
      return json(res, 200, out);
    }
    if (grant === 'urn:ietf:params:oauth:grant-type:device_code') {
      const code = form.get('device_code') ?? '';
      const n = devicePolls.get(code);
      if (n === undefined) return json(res, 400, { error: 'invalid_grant' });
      devicePolls.set(code, n + 1);
      const polls = state.device.polls;
      const step = polls[Math.min(n, polls.length - 1)];
      if (step !== 'ok') return json(res, 400, { error: step });
      const out: Record<string, unknown> = tokenBody('access_token', await issue());
      if (state.device.refreshToken !== false) {
        state.refreshToken = `rt-${++serial}-0123456789abcdef`;
        out.refresh_token = state.refreshToken;
      }
      return json(res, 200, out);
    }
    return json(res, 400, { error: 'unsupported_grant_type' });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'test server bug' });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
