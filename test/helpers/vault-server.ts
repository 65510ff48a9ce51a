// A fake HashiCorp Vault on 127.0.0.1 (http, or https with test/helpers/tls.ts) implementing the calls
// the vault source makes, with the documented request and response shapes:
//
// - POST /v1/auth/<mount>/login, AppRole {"role_id","secret_id"}: hashicorp/vault
//   website/content/api-docs/auth/approle.mdx ("Login with AppRole"); a wrong pair answers 400
//   {"errors":["invalid role or secret ID"]} (builtin/credential/approle/path_login.go).
// - POST /v1/auth/<mount>/login, JWT {"role","jwt"}: api-docs/auth/jwt.mdx ("JWT login"); the JWT is
//   verified with jose against the configured public key (jwt_validation_pubkeys), its aud against
//   the role's bound_audiences and its sub against bound_subject.
// - POST /v1/auth/<mount>/login, Kubernetes {"role","jwt"}: api-docs/auth/kubernetes.mdx ("Login");
//   verified against the configured service-account signing key (the method's pem_keys), the
//   role's bound_service_account_names/namespaces against the token's sub
//   (system:serviceaccount:<ns>:<name>).
// - Login answer {"auth":{"client_token","accessor","policies","lease_duration","renewable"},…}:
//   api-docs/auth/approle.mdx sample response.
// - POST /v1/auth/token/renew-self {"increment"} → the auth block: api-docs/auth/token.mdx.
// - GET /v1/<mount>/data/<path>[?version=N] → {"data":{"data":{…},"metadata":{…}}}: api-docs/secret/kv/kv-v2.mdx
//   ("Read secret version"); a deleted version answers 404 with its metadata.
// - GET /v1/database/creds/<role> → {"lease_id","renewable","lease_duration","data":{"username","password"}}:
//   api-docs/secret/databases/index.mdx ("Generate credentials").
// - POST /v1/aws/sts/<role> {"ttl"} → {"lease_id","lease_duration","data":{"access_key","secret_key","security_token"}}:
//   api-docs/secret/aws.mdx ("Generate credentials", POST with parameters).
// - PUT /v1/sys/leases/renew {"lease_id","increment"} → {"lease_id","renewable","lease_duration"}:
//   api-docs/system/leases.mdx ("Renew lease"); leases end with the token that created them
//   (docs/concepts/lease.mdx, "lease hierarchies and revocation").
// - Errors {"errors":[…]}: 403 "permission denied", 404 with an empty list, 503 "Vault is sealed":
//   api-docs/index.mdx ("HTTP status codes").
// - A Vault Agent listener "unix" with api_proxy use_auto_auth_token: a request without X-Vault-Token
//   is sent on with the agent's own token (docs/agent-and-proxy/agent/apiproxy.mdx);
//   require_request_header refuses one without X-Vault-Request: true with 412
//   (docs/agent-and-proxy/agent/index.mdx, listener "require_request_header").
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { json, readBody } from './token-server.js';
import type { TestTls } from './tls.js';

export interface VaultRecorded {
  method: string;
  path: string;
  query: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Which listener: the server's TCP one or the agent socket. */
  via: 'tcp' | 'agent';
}

interface TokenEntry {
  policies: string[];
  /** ms on the server clock; Infinity = never. */
  expiresAt: number;
  /** Renewals stop here. */
  maxEnd: number;
  ttlS: number;
  renewable: boolean;
}

interface LeaseEntry {
  token: string;
  expiresAt: number;
  maxEnd: number;
}

export interface VaultRole {
  /** Path prefixes the role's token may read (its policy, reduced to what the tests need). */
  paths: string[];
  /** Seconds. */
  tokenTtl: number;
  tokenMaxTtl: number;
  renewable?: boolean;
}

export interface FakeVault {
  url: string;
  /** The Unix socket of the fake Vault Agent, after `listenAgent`. */
  agentSocket?: string;
  /** The server's clock (ms). Tests moving a fake clock make the server agree with it. */
  now: () => number;
  sealed: boolean;
  /** Required X-Vault-Namespace (mounts exist only there), when set. */
  namespace?: string;
  approle: { mount: string; roleId: string; secretId: string; role: VaultRole };
  jwt: { mount: string; role: string; boundAudience: string; boundSubject: string; vaultRole: VaultRole };
  kubernetes: { mount: string; role: string; serviceAccount: string; namespace: string; vaultRole: VaultRole };
  /** KV v2 mount "secret": path → versions (1-based); a version set to null was deleted. */
  kv: Map<string, (Record<string, string> | null)[]>;
  /** database/creds/<role>: lease length and max TTL (s). */
  dbLease: { ttl: number; maxTtl: number; renewable: boolean };
  /** A token made directly (what `vault token create` prints). */
  rootToken: string;
  /** The agent's auto-auth token. */
  agentToken?: string;
  /** Every dynamic credential issued, newest last. */
  issued: { username: string; password: string; leaseId: string }[];
  /** Every client token issued by a login, newest last. */
  logins: string[];
  requests: VaultRecorded[];
  count(method: string, path: string): number;
  /** A token with these paths, as `vault token create -policy=…` would give. */
  makeToken(paths: string[], ttlS?: number): string;
  revoke(token: string): void;
  /** A JWT from the CI issuer whose public key the jwt method trusts. */
  ciJwt(opts?: { aud?: string; sub?: string; expSeconds?: number }): Promise<string>;
  /** A service-account token as the kubelet projects it. */
  serviceAccountJwt(opts?: { sub?: string; expSeconds?: number }): Promise<string>;
  /** Also serve as a Vault Agent on this Unix socket (mode 0600 unless `mode`). */
  listenAgent(path: string, opts?: { requireRequestHeader?: boolean; mode?: number }): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

const denied = (res: ServerResponse) => json(res, 403, { errors: ['permission denied'] });

export async function startVaultServer(opts: { tls?: TestTls } = {}): Promise<FakeVault> {
  const ci = await generateKeyPair('ES256');
  const sa = await generateKeyPair('RS256');
  // What an operator configures: the public halves only (jwt_validation_pubkeys, pem_keys).
  const ciPublic = ci.publicKey;
  const saPublic = sa.publicKey;
  const tokens = new Map<string, TokenEntry>();
  const leases = new Map<string, LeaseEntry>();
  const sockets = new Set<Socket>();
  const servers: Server[] = [];

  const role = (paths: string[], tokenTtl = 3600, tokenMaxTtl = 7200): VaultRole => ({ paths, tokenTtl, tokenMaxTtl, renewable: true });

  const state: FakeVault = {
    url: '',
    now: () => Date.now(),
    sealed: false,
    approle: {
      mount: 'approle',
      roleId: 'db02de05-fa39-4855-059b-67221c5c2f63',
      secretId: '6a174c20-f6de-a53c-74d2-6018fcceff64',
      role: role(['secret/data/ci/', 'database/creds/']),
    },
    jwt: {
      mount: 'jwt',
      role: 'ci',
      boundAudience: 'https://vault.example.test',
      boundSubject: 'repo:acme/app:ref:refs/heads/main',
      vaultRole: role(['secret/data/ci/', 'database/creds/']),
    },
    kubernetes: {
      mount: 'kubernetes',
      role: 'app',
      serviceAccount: 'builder',
      namespace: 'ci',
      vaultRole: role(['secret/data/ci/', 'database/creds/']),
    },
    kv: new Map(),
    dbLease: { ttl: 3600, maxTtl: 86400, renewable: true },
    rootToken: `hvs.${randomBytes(18).toString('base64url')}`,
    issued: [],
    logins: [],
    requests: [],
    count: (method, path) => state.requests.filter((r) => r.method === method && r.path === path).length,
    makeToken(paths, ttlS) {
      const t = `hvs.${randomBytes(18).toString('base64url')}`;
      const now = state.now();
      tokens.set(t, {
        policies: paths,
        expiresAt: ttlS === undefined ? Infinity : now + ttlS * 1000,
        maxEnd: ttlS === undefined ? Infinity : now + ttlS * 1000,
        ttlS: ttlS ?? 0,
        renewable: false,
      });
      return t;
    },
    revoke(token) {
      tokens.delete(token);
      for (const [id, l] of leases) if (l.token === token) leases.delete(id);
    },
    ciJwt: ({ aud, sub, expSeconds } = {}) =>
      new SignJWT({ repository: 'acme/app' })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
        .setIssuer('https://ci.example.test')
        .setSubject(sub ?? state.jwt.boundSubject)
        .setAudience(aud ?? state.jwt.boundAudience)
        .setIssuedAt(Math.floor(state.now() / 1000))
        .setExpirationTime(Math.floor(state.now() / 1000) + (expSeconds ?? 300))
        .sign(ci.privateKey),
    serviceAccountJwt: ({ sub, expSeconds } = {}) =>
      new SignJWT({ 'kubernetes.io': { namespace: state.kubernetes.namespace, serviceaccount: { name: state.kubernetes.serviceAccount } } })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
        .setIssuer('https://kubernetes.default.svc.cluster.local')
        .setSubject(sub ?? `system:serviceaccount:${state.kubernetes.namespace}:${state.kubernetes.serviceAccount}`)
        .setAudience('vault')
        .setIssuedAt(Math.floor(state.now() / 1000))
        .setExpirationTime(Math.floor(state.now() / 1000) + (expSeconds ?? 3600))
        .sign(sa.privateKey),
    async listenAgent(path, o = {}) {
      state.agentToken = state.makeToken(['secret/data/ci/', 'database/creds/']);
      const agent = createHttpServer((req, res) => {
        if (o.requireRequestHeader !== false && req.headers['x-vault-request'] !== 'true') {
          return json(res, 412, { errors: ["missing 'X-Vault-Request' header"] });
        }
        // use_auto_auth_token: a request without a token of its own goes on with the agent's.
        if (req.headers['x-vault-token'] === undefined) req.headers['x-vault-token'] = state.agentToken;
        handle(req, res, 'agent').catch(() => res.headersSent || json(res, 500, { errors: ['test server bug'] }));
      });
      track(agent);
      await new Promise<void>((resolve) => agent.listen(path, resolve));
      chmodSync(path, o.mode ?? 0o600);
      state.agentSocket = path;
    },
    reset() {
      state.approle.role = role(['secret/data/ci/', 'database/creds/']);
      state.jwt.vaultRole = role(['secret/data/ci/', 'database/creds/']);
      state.kubernetes.vaultRole = role(['secret/data/ci/', 'database/creds/']);
      state.requests.length = 0;
      state.issued.length = 0;
      state.logins.length = 0;
      state.sealed = false;
      state.namespace = undefined;
      state.now = () => Date.now();
      state.dbLease = { ttl: 3600, maxTtl: 86400, renewable: true };
      state.kv.clear();
      state.kv.set('ci/registry', [
        { username: 'ci-bot', password: 'kv-password-v1' },
        { username: 'ci-bot', password: 'kv-password-v2' },
      ]);
      tokens.clear();
      leases.clear();
      tokens.set(state.rootToken, { policies: [''], expiresAt: Infinity, maxEnd: Infinity, ttlS: 0, renewable: false });
      if (state.agentToken)
        tokens.set(state.agentToken, {
          policies: ['secret/data/ci/', 'database/creds/'],
          expiresAt: Infinity,
          maxEnd: Infinity,
          ttlS: 0,
          renewable: false,
        });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        let open = servers.length;
        for (const s of servers) s.close(() => --open === 0 && resolve());
      }),
  };

  function track(s: Server): void {
    servers.push(s);
    s.on('connection', (c: Socket) => {
      sockets.add(c);
      c.on('close', () => sockets.delete(c));
    });
  }

  function issueToken(r: VaultRole): Record<string, unknown> {
    const t = `hvs.${randomBytes(18).toString('base64url')}`;
    const now = state.now();
    tokens.set(t, {
      policies: r.paths,
      expiresAt: now + r.tokenTtl * 1000,
      maxEnd: now + r.tokenMaxTtl * 1000,
      ttlS: r.tokenTtl,
      renewable: r.renewable !== false,
    });
    state.logins.push(t);
    return {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      auth: {
        client_token: t,
        accessor: randomUUID(),
        policies: ['default', 'ci'],
        token_policies: ['default', 'ci'],
        metadata: {},
        lease_duration: r.tokenTtl,
        renewable: r.renewable !== false,
      },
    };
  }

  /** The token's entry when it is live; a dead one is forgotten with its leases. */
  function live(token: string | undefined): TokenEntry | undefined {
    if (token === undefined) return undefined;
    const t = tokens.get(token);
    if (t && t.expiresAt <= state.now()) {
      state.revoke(token);
      return undefined;
    }
    return t;
  }

  const may = (t: TokenEntry, path: string) => t.policies.some((p) => path.startsWith(p));

  async function handle(req: IncomingMessage, res: ServerResponse, via: 'tcp' | 'agent'): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://vault');
    const body = await readBody(req);
    const method = req.method ?? '';
    state.requests.push({ method, path: u.pathname, query: u.search, headers: req.headers, body, via });
    if (state.sealed) return json(res, 503, { errors: ['Vault is sealed'] });
    if (!u.pathname.startsWith('/v1/')) return json(res, 404, { errors: [] });
    if (state.namespace !== undefined && req.headers['x-vault-namespace'] !== state.namespace) return json(res, 404, { errors: [] });
    const path = u.pathname.slice(4);
    let input: Record<string, unknown> = {};
    if (body !== '') {
      try {
        input = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return json(res, 400, { errors: ['failed to parse JSON input'] });
      }
    }
    const token = req.headers['x-vault-token'] as string | undefined;
    const write = method === 'POST' || method === 'PUT'; // Vault maps both to "update"

    if (write && path === `auth/${state.approle.mount}/login`) {
      if (input.role_id !== state.approle.roleId || input.secret_id !== state.approle.secretId) {
        return json(res, 400, { errors: ['invalid role or secret ID'] });
      }
      return json(res, 200, issueToken(state.approle.role));
    }
    if (write && path === `auth/${state.jwt.mount}/login`) {
      if ((input.role ?? 'ci') !== state.jwt.role) return json(res, 400, { errors: [`role "${String(input.role)}" could not be found`] });
      try {
        const { payload } = await jwtVerify(String(input.jwt ?? ''), ciPublic, {
          audience: state.jwt.boundAudience,
          currentDate: new Date(state.now()),
        });
        if (payload.sub !== state.jwt.boundSubject) return json(res, 400, { errors: ['sub claim does not match expected value'] });
      } catch (e) {
        return json(res, 400, { errors: [`error validating token: ${(e as Error).name}`] });
      }
      return json(res, 200, issueToken(state.jwt.vaultRole));
    }
    if (write && path === `auth/${state.kubernetes.mount}/login`) {
      if (input.role !== state.kubernetes.role) return json(res, 400, { errors: [`invalid role name "${String(input.role)}"`] });
      try {
        const { payload } = await jwtVerify(String(input.jwt ?? ''), saPublic, { currentDate: new Date(state.now()) });
        if (payload.sub !== `system:serviceaccount:${state.kubernetes.namespace}:${state.kubernetes.serviceAccount}`) return denied(res);
      } catch {
        return denied(res);
      }
      return json(res, 200, issueToken(state.kubernetes.vaultRole));
    }

    const t = live(token);
    if (!t) return denied(res);

    if (write && path === 'auth/token/renew-self') {
      if (!t.renewable) return json(res, 400, { errors: ['lease is not renewable'] });
      const now = state.now();
      t.expiresAt = Math.min(now + t.ttlS * 1000, t.maxEnd);
      return json(res, 200, {
        auth: { client_token: token, policies: ['default', 'ci'], lease_duration: Math.floor((t.expiresAt - now) / 1000), renewable: true },
      });
    }
    if (method === 'PUT' && path === 'sys/leases/renew') {
      const id = String(input.lease_id ?? '');
      const l = leases.get(id);
      const now = state.now();
      if (!l || l.expiresAt <= now || !live(l.token)) {
        leases.delete(id);
        return json(res, 400, { errors: ['lease not found'] });
      }
      const inc = typeof input.increment === 'number' ? input.increment : state.dbLease.ttl;
      l.expiresAt = Math.min(now + inc * 1000, l.maxEnd);
      return json(res, 200, { lease_id: id, renewable: true, lease_duration: Math.floor((l.expiresAt - now) / 1000), data: null, warnings: null });
    }
    if (method === 'GET' && path.startsWith('secret/data/')) {
      if (!may(t, path)) return denied(res);
      const versions = state.kv.get(decodeURIComponent(path.slice('secret/data/'.length)));
      if (!versions) return json(res, 404, { errors: [] });
      const n = u.searchParams.has('version') ? Number(u.searchParams.get('version')) : versions.length;
      const data = versions[n - 1];
      if (data === undefined) return json(res, 404, { errors: [] });
      const metadata = { created_time: '2018-03-22T02:24:06.945319214Z', custom_metadata: null, destroyed: false, version: n };
      if (data === null) return json(res, 404, { data: { data: null, metadata: { ...metadata, deletion_time: '2018-03-22T02:30:00Z' } } });
      return json(res, 200, {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: { data, metadata: { ...metadata, deletion_time: '' } },
      });
    }
    if (method === 'GET' && path.startsWith('database/creds/')) {
      if (!may(t, path)) return denied(res);
      const now = state.now();
      const leaseId = `${path}/${randomUUID()}`;
      // A lease never outlives the token that created it.
      const maxEnd = Math.min(now + state.dbLease.maxTtl * 1000, t.maxEnd);
      const end = Math.min(now + state.dbLease.ttl * 1000, t.expiresAt, maxEnd);
      leases.set(leaseId, { token: token!, expiresAt: end, maxEnd });
      const cred = {
        username: `v-approle-readonly-${randomBytes(6).toString('hex')}`,
        password: `A1a-${randomBytes(15).toString('base64url')}`,
        leaseId,
      };
      state.issued.push(cred);
      return json(res, 200, {
        request_id: randomUUID(),
        lease_id: leaseId,
        renewable: state.dbLease.renewable,
        lease_duration: Math.floor((end - now) / 1000),
        data: { username: cred.username, password: cred.password },
        warnings: null,
      });
    }
    if (write && path.startsWith('aws/sts/')) {
      if (!may(t, path)) return denied(res);
      const ttl = Number(/^(\d+)s?$/.exec(String(input.ttl ?? '3600'))?.[1] ?? 3600);
      return json(res, 200, {
        lease_id: `${path}/${randomUUID()}`,
        renewable: false,
        lease_duration: ttl,
        data: {
          access_key: 'ASIAFAKEACCESSKEY123',
          secret_key: randomBytes(30).toString('base64url'),
          security_token: randomBytes(60).toString('base64url'),
        },
      });
    }
    return json(res, 404, { errors: [] });
  }

  const server: Server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => {
        handle(req, res, 'tcp').catch(() => res.headersSent || json(res, 500, { errors: ['test server bug'] }));
      })
    : createHttpServer((req, res) => {
        handle(req, res, 'tcp').catch(() => res.headersSent || json(res, 500, { errors: ['test server bug'] }));
      });
  track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.reset();
  return state;
}
