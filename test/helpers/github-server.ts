// A fake GitHub REST API for GitHub App installation tokens, on 127.0.0.1, served under a path prefix
// (GitHub Enterprise Server's /api/v3) so the tests go through the `apiUrl` setting. It verifies the
// app JWT as GitHub does: RS256 signature with the app's public key (jose jwtVerify), `iss` the app's
// client ID or app ID, `iat` not in the future, `exp` at most 10 minutes ahead.
// Shapes:
// - JWT rules: https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
// - GET /repos/{owner}/{repo}/installation, /orgs/{org}/installation, /users/{username}/installation
//   → {"id", "account", "app_id", "permissions", …}: https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app
// - POST /app/installations/{id}/access_tokens {"repositories"?, "permissions"?} → 201 {"token",
//   "expires_at", "permissions", "repository_selection", "repositories"?}; 401/403/404/422 {"message",
//   "documentation_url"}: https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { jwtVerify } from 'jose';

export const API_PREFIX = '/api/v3';

export interface Installation {
  id: number;
  account: string;
  repositories: string[];
  permissions: Record<string, 'read' | 'write' | 'admin'>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The verified JWT claims, when the JWT verified. */
  claims?: Record<string, unknown>;
}

export type GitHubMode = 'ok' | '500' | 'stall';

export interface GitHubServer {
  /** http://127.0.0.1:PORT/api/v3: what a rule's apiUrl says. */
  apiUrl: string;
  appId: number;
  clientId: string;
  /** The app's private key as GitHub hands it out: PKCS#1 PEM. */
  privateKeyPem: string;
  /** Another RSA key: what GitHub refuses. */
  wrongKeyPem: string;
  installations: Installation[];
  /** The token the next mint issues, when a test needs to know it in advance (a git server's password). */
  nextToken?: string;
  issued: string[];
  /** The 201 bodies of the mints, in order. */
  answers: Record<string, unknown>[];
  requests(): RecordedRequest[];
  setMode(mode: GitHubMode): void;
  reset(): void;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const DOCS = 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app';
const RANK = { read: 1, write: 2, admin: 3 } as const;

function pkcs1(key: KeyObject): string {
  return key.export({ type: 'pkcs1', format: 'pem' }) as string;
}

export async function startGitHubServer(): Promise<GitHubServer> {
  const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const wrong = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sockets = new Set<Socket>();
  let recorded: RecordedRequest[] = [];
  let mode: GitHubMode = 'ok';
  const defaults = (): Installation[] => [
    { id: 4242, account: 'acme', repositories: ['app', 'lib', 'site'], permissions: { contents: 'write', metadata: 'read', packages: 'read' } },
    { id: 5151, account: 'alice', repositories: ['dotfiles'], permissions: { contents: 'read', metadata: 'read' } },
  ];

  const state: GitHubServer = {
    apiUrl: '',
    appId: 123456,
    clientId: 'Iv23liCredmuxTest01',
    privateKeyPem: pkcs1(app.privateKey),
    wrongKeyPem: pkcs1(wrong.privateKey),
    installations: defaults(),
    issued: [],
    answers: [],
    requests: () => recorded,
    setMode: (m) => void (mode = m),
    reset() {
      recorded = [];
      mode = 'ok';
      state.installations = defaults();
      state.issued.length = 0;
      state.answers.length = 0;
      state.nextToken = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  /** GitHub's checks of the app JWT; the claims, or the message GitHub answers 401 with. */
  async function appClaims(auth: string): Promise<Record<string, unknown> | string> {
    if (!auth.startsWith('Bearer ')) return 'A JSON web token could not be decoded';
    let payload: Record<string, unknown>;
    try {
      payload = (await jwtVerify(auth.slice(7), app.publicKey, { algorithms: ['RS256'] })).payload;
    } catch {
      return 'A JSON web token could not be decoded';
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.iss !== state.appId && payload.iss !== String(state.appId) && payload.iss !== state.clientId) return 'Integration not found';
    if (typeof payload.iat !== 'number' || payload.iat > now + 1)
      return "'Issued at' claim ('iat') must be an Integer representing a time in the past.";
    if (typeof payload.exp !== 'number' || payload.exp > now + 600) return "'Expiration time' claim ('exp') is too far in the future";
    return payload;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const body = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    const entry: RecordedRequest = { method: req.method ?? '', path: u.pathname, headers: req.headers, body };
    recorded.push(entry);
    if (mode === 'stall') return;
    if (mode === '500') return json(res, 500, { message: 'Server Error' });
    if (!u.pathname.startsWith(`${API_PREFIX}/`)) return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
    const path = u.pathname.slice(API_PREFIX.length);
    const claims = await appClaims(req.headers.authorization ?? '');
    if (typeof claims === 'string') return json(res, 401, { message: claims, documentation_url: DOCS });
    entry.claims = claims;

    const lookup = /^\/(?:repos\/([^/]+)\/([^/]+)|orgs\/([^/]+)|users\/([^/]+))\/installation$/.exec(path);
    if (lookup && req.method === 'GET') {
      const [, owner, repo, org, user] = lookup;
      const account = owner ?? org ?? user;
      const inst = state.installations.find((i) => i.account === account && (repo === undefined || i.repositories.includes(repo)));
      if (!inst) return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
      return json(res, 200, {
        id: inst.id,
        account: { login: inst.account },
        app_id: state.appId,
        permissions: inst.permissions,
        repository_selection: 'selected',
      });
    }
    const mint = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (mint && req.method === 'POST') {
      const inst = state.installations.find((i) => i.id === Number(mint[1]));
      if (!inst) return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
      let asked: { repositories?: string[]; permissions?: Record<string, keyof typeof RANK> };
      try {
        asked = body === '' ? {} : (JSON.parse(body) as typeof asked);
      } catch {
        return json(res, 400, { message: 'Problems parsing JSON', documentation_url: DOCS });
      }
      const unknownRepo = asked.repositories?.find((r) => !inst.repositories.includes(r));
      if (unknownRepo)
        return json(res, 422, {
          message: 'There is at least one repository that does not exist or is not accessible to the parent installation.',
          documentation_url: DOCS,
        });
      for (const [name, level] of Object.entries(asked.permissions ?? {})) {
        const has = inst.permissions[name];
        if (!has || RANK[has] < RANK[level]) {
          return json(res, 422, { message: 'The permissions requested are not granted to this installation.', documentation_url: DOCS });
        }
      }
      // Opaque, and since 2026 of no fixed length: never a JWT the client could read an exp from.
      const token = state.nextToken ?? `ghs_${randomBytes(18).toString('hex')}`;
      state.nextToken = undefined;
      state.issued.push(token);
      const out: Record<string, unknown> = {
        token,
        expires_at: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        permissions: asked.permissions ?? inst.permissions,
        repository_selection: asked.repositories ? 'selected' : 'all',
      };
      if (asked.repositories) out.repositories = asked.repositories.map((name) => ({ name, full_name: `${inst.account}/${name}` }));
      state.answers.push(out);
      return json(res, 201, out);
    }
    return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { message: 'test server bug' });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${API_PREFIX}`;
  return state;
}
