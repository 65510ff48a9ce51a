// The token sources' HTTP client: time bounds, a body cap, redirects (≤ 3, same origin only, never
// to plain http), TLS verified, plain http only to loopback and only when allowed, proxies from
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY — each shown against real local servers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHook } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayEndpoint, endpointProblem, isLoopbackHost } from '../../src/http/policy.js';
import { HttpFailure, httpRequest } from '../../src/http/request.js';

const sockets = new Set<Socket>();
function track(server: Server): Server {
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return server;
}
async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

let origin = '';
let port = 0;
let server: Server;
const seen: { method: string; url: string; body: string; auth?: string }[] = [];

function app(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = (req.url ?? '/').split('?')[0]!;
    seen.push({ method: req.method ?? '', url, body: Buffer.concat(chunks).toString(), auth: req.headers.authorization });
    const redirect = (status: number, to: string) => {
      res.writeHead(status, { location: to });
      res.end();
    };
    if (url === '/ok') return void res.end('{"ok":true}');
    if (/^\/hop\/[123]$/.test(url)) return redirect(302, `/hop/${Number(url.slice(-1)) + 1}`);
    if (url === '/hop/4') return redirect(302, '/ok');
    if (url === '/loop') return redirect(302, '/loop');
    if (url === '/see-other') return redirect(303, '/ok');
    if (url === '/temporary') return redirect(307, '/ok');
    if (url === '/away') return redirect(307, `http://localhost:${port}/ok`);
    if (url === '/big') return void res.end(Buffer.alloc(2 * 1024 * 1024, 0x61));
    if (url === '/stall') return; // never answers
    res.writeHead(404);
    res.end();
  });
}

beforeAll(async () => {
  server = track(createServer(app));
  port = await listen(server);
  origin = `http://127.0.0.1:${port}`;
});
afterAll(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

const base = { env: {}, allowInsecureHttp: true } as const;

async function failure(p: Promise<unknown>): Promise<HttpFailure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HttpFailure) return e;
    throw e;
  }
  throw new Error('expected an HttpFailure');
}

describe('http policy', () => {
  it('loopback is 127.0.0.0/8, ::1 and localhost — nothing that merely looks like them', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '[::1]', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['128.0.0.1', '10.0.0.1', 'localhost.evil.net', '127.0.0.1.nip.io', '[::2]', '0.0.0.0']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('https anywhere; http only to loopback and only with the opt-in; nothing else', () => {
    expect(endpointProblem('https://api.pyx.dev/x', false)).toBeUndefined();
    expect(endpointProblem('http://127.0.0.1:9/x', true)).toBeUndefined();
    expect(endpointProblem('http://127.0.0.1:9/x', false)).toMatch(/allowInsecureHttp/);
    expect(endpointProblem('http://api.pyx.dev/x', true)).toMatch(/not this machine/);
    expect(endpointProblem('ftp://x/y', true)).toMatch(/uses ftp/);
  });

  it('endpoints are shown without userinfo, query or fragment', () => {
    expect(displayEndpoint('https://u:p@api.test:8443/a/b?sig=secret#frag')).toBe('https://api.test:8443/a/b');
  });
});

describe('httpRequest', () => {
  it('follows up to 3 same-origin redirects, refuses a fourth', async () => {
    seen.length = 0;
    const r = await httpRequest({ ...base, url: `${origin}/hop/2`, method: 'GET' });
    expect(r.status).toBe(200);
    expect(r.url).toBe(`${origin}/ok`);
    const e = await failure(httpRequest({ ...base, url: `${origin}/hop/1`, method: 'GET' }));
    expect(e.kind).toBe('redirect');
    expect(e.message).toBe(`${origin}/hop/1 redirected more than 3 times`);
  });

  it('303 turns a POST into a body-less GET; 307 keeps method and body', async () => {
    seen.length = 0;
    await httpRequest({
      ...base,
      url: `${origin}/see-other`,
      method: 'POST',
      body: 'a=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['POST', '/see-other', 'a=1'],
      ['GET', '/ok', ''],
    ]);
    seen.length = 0;
    await httpRequest({ ...base, url: `${origin}/temporary`, method: 'POST', body: 'a=1' });
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['POST', '/temporary', 'a=1'],
      ['POST', '/ok', 'a=1'],
    ]);
  });

  it('never follows a redirect to another origin: the secret in the request would go with it', async () => {
    seen.length = 0;
    const e = await failure(httpRequest({ ...base, url: `${origin}/away`, method: 'POST', headers: { authorization: 'Bearer s3cr3t-value' } }));
    expect(e.kind).toBe('redirect');
    expect(e.message).toContain(`redirected to another origin (http://localhost:${port})`);
    expect(seen.filter((s) => s.auth === 'Bearer s3cr3t-value')).toHaveLength(1); // sent once, to the configured origin only
  });

  it('caps the body (1 MiB)', async () => {
    const e = await failure(httpRequest({ ...base, url: `${origin}/big`, method: 'GET' }));
    expect(e.kind).toBe('too-large');
    expect(e.message).toBe(`${origin}/big answered with more than 1048576 bytes; refused`);
  });

  it('leaves no timer behind once the answer is in (a daemon minting thousands at once held one each)', async () => {
    const live = new Set<number>();
    const hook = createHook({
      init: (id, type) => void (type === 'Timeout' && live.add(id)),
      destroy: (id) => void live.delete(id),
    }).enable();
    try {
      // One after another, so undici keeps one connection (and its few timers) for all of them.
      for (let i = 0; i < 20; i++) expect((await httpRequest({ ...base, url: `${origin}/ok`, method: 'GET' })).status).toBe(200);
      await new Promise((r) => setImmediate(r)); // destroy hooks run after the timers are cleared
    } finally {
      hook.disable();
    }
    // undici keeps a few for its one connection; a timer kept per request would make it 20 more.
    expect(live.size).toBeLessThan(10);
  });

  it('bounds the whole exchange in time', async () => {
    const t0 = Date.now();
    const e = await failure(httpRequest({ ...base, url: `${origin}/stall?x=1`, method: 'GET', limits: { totalMs: 300 } }));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(e.kind).toBe('timeout');
    expect(e.message).toBe(`${origin}/stall did not answer within 0.3 s`);
  });

  it('refuses plain http before connecting unless the endpoint is loopback and allowed', async () => {
    const e = await failure(httpRequest({ env: {}, url: `${origin}/ok`, method: 'GET' }));
    expect(e.kind).toBe('refused-url');
    const far = await failure(httpRequest({ env: {}, url: 'http://example.com/token', method: 'GET', allowInsecureHttp: true }));
    expect(far.message).toMatch(/not this machine/);
  });

  it('verifies TLS: an unknown CA is refused with the fix; the CA handed over by the launcher (CREDMUX_EXTRA_CA_CERTS) is trusted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-tls-'));
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    const tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(cert) }, (_q, s) => s.end('{"ok":true}'));
    const tlsPort = await listen(tls as unknown as Server);
    const url = `https://localhost:${tlsPort}/token`;
    try {
      const e = await failure(httpRequest({ env: {}, url, method: 'POST' }));
      expect(e.kind).toBe('tls');
      expect(e.message).toMatch(new RegExp(`^TLS verification of ${url} failed \\(DEPTH_ZERO_SELF_SIGNED_CERT\\); .*NODE_EXTRA_CA_CERTS`));
      const ok = await httpRequest({ env: { CREDMUX_EXTRA_CA_CERTS: cert }, url, method: 'POST' });
      expect(ok.status).toBe(200);
      const unreadable = await failure(httpRequest({ env: { CREDMUX_EXTRA_CA_CERTS: join(dir, 'absent.pem') }, url, method: 'POST' }));
      expect(unreadable.message).toContain(`note: the extra CA file ${join(dir, 'absent.pem')} (NODE_EXTRA_CA_CERTS) could not be read (ENOENT)`);
    } finally {
      tls.close();
    }
  });

  it('goes through HTTP(S)_PROXY from the resolving environment, and around it for NO_PROXY hosts', async () => {
    const tunnels: string[] = [];
    const proxy = track(createServer((_q, s) => s.writeHead(405).end()));
    // A CONNECT proxy, as corporate proxies are; plain requests through it would be absolute-form.
    proxy.on('connect', (req: IncomingMessage, client: Socket) => {
      tunnels.push(req.url ?? '');
      const [host, p] = (req.url ?? '').split(':');
      const up = connect(Number(p), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => client.destroy());
    });
    const proxyPort = await listen(proxy);
    try {
      const viaProxy = { http_proxy: `http://127.0.0.1:${proxyPort}`, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` };
      const r = await httpRequest({ ...base, env: viaProxy, url: `${origin}/ok`, method: 'GET' });
      expect(r.status).toBe(200);
      expect(tunnels).toEqual([`127.0.0.1:${port}`]);
      await httpRequest({ ...base, env: { ...viaProxy, NO_PROXY: '127.0.0.1' }, url: `${origin}/ok`, method: 'GET' });
      expect(tunnels).toHaveLength(1); // bypassed
    } finally {
      proxy.close();
    }
  });
});
