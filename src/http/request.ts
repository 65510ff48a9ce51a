// The one HTTP client of the token sources: undici, loaded on the first request (the protocol entries
// never load it), with every call bounded in time and size, TLS verified (undici's default, never
// switched off), proxies from HTTPS_PROXY/HTTP_PROXY/NO_PROXY of the resolving environment, and
// redirects followed by hand so each hop passes the same checks as the first.
//
// Errors never carry a secret or a query string: messages are built here from error codes, never
// copied from the library (whose messages may quote a URL).
import { readFileSync } from 'node:fs';
import type { Env } from '../platform/paths.js';
import { VERSION } from '../platform/version.js';
import { tokenDeps, type TokenDeps } from './deps.js';
import { displayEndpoint, endpointProblem, isMetadataEndpoint } from './policy.js';

export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: string;
  /** The rule's opt-in for plain http to loopback (policy.ts). */
  allowInsecureHttp?: boolean;
  /** A cloud metadata service, which speaks only plain http: allowed to its link-local address too (policy.ts). */
  metadataService?: boolean;
  /** Proxy variables are read from here (the daemon's or the helper's environment). */
  env: Env;
  /**
   * Connect to this Unix socket instead of the URL's host (a Vault Agent listener): the URL gives
   * only the path and the Host header, and no proxy applies. Whether the socket is trustworthy is the
   * caller's to check before.
   */
  socketPath?: string;
  limits?: Partial<HttpLimits>;
}

export interface HttpLimits {
  /** TCP + TLS handshake. */
  connectMs: number;
  /** Whole exchange including redirects and the body. */
  totalMs: number;
  /** A token response is small; anything bigger is refused rather than buffered. */
  maxBodyBytes: number;
  maxRedirects: number;
}

export const DEFAULT_LIMITS: HttpLimits = { connectMs: 5_000, totalMs: 10_000, maxBodyBytes: 1 << 20, maxRedirects: 3 };

export interface HttpResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  text: string;
  /** The URL that answered (after redirects). */
  url: string;
}

export type HttpFailureKind = 'refused-url' | 'timeout' | 'connect' | 'tls' | 'redirect' | 'too-large' | 'network';

/** A request that produced no HTTP answer. `message` is safe to show: no secret, no query string. */
export class HttpFailure extends Error {
  readonly kind: HttpFailureKind;
  /** scheme://host/path of the request that failed. */
  readonly endpoint: string;
  constructor(kind: HttpFailureKind, endpoint: string, message: string) {
    super(message);
    this.name = 'HttpFailure';
    this.kind = kind;
    this.endpoint = endpoint;
  }
}

type Undici = Pick<TokenDeps, 'EnvHttpProxyAgent' | 'Agent'>;
type Dispatcher = import('undici').Dispatcher;

/** One dispatcher per proxy setting, CA file and connect timeout: keep-alive connections are reused by the daemon. */
const dispatchers = new Map<string, { dispatcher: Dispatcher; caProblem?: string }>();

/**
 * The launchers (scripts/build.mjs) move NODE_EXTRA_CA_CERTS aside as CREDMUX_EXTRA_CA_CERTS so a
 * helper starts without parsing it; a helper that then resolves in process and makes a TLS connection
 * must trust those CAs again. Node's own roots stay (an explicit `ca` would replace them). The daemon
 * gets NODE_EXTRA_CA_CERTS back from spawn.ts, which Node applies by itself.
 */
function extraCa(env: Env): { ca?: string[]; problem?: string } {
  const file = env.CREDMUX_EXTRA_CA_CERTS;
  if (!file) return {};
  try {
    // tls only here: loading it costs every in-process helper call a few milliseconds.
    return { ca: [...process.getBuiltinModule('node:tls').rootCertificates, readFileSync(file, 'utf8')] };
  } catch (e) {
    // As Node does for NODE_EXTRA_CA_CERTS: go on with the default roots, and say so if TLS then fails.
    return { problem: `the extra CA file ${file} (NODE_EXTRA_CA_CERTS) could not be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

function dispatcherFor(u: Undici, env: Env, connectMs: number, socketPath: string | undefined): { dispatcher: Dispatcher; caProblem?: string } {
  if (socketPath !== undefined) {
    const key = JSON.stringify(['unix', socketPath, connectMs]);
    let entry = dispatchers.get(key);
    if (!entry) dispatchers.set(key, (entry = { dispatcher: new u.Agent({ connect: { socketPath, timeout: connectMs } }) }));
    return entry;
  }
  // '' (not undefined) when unset, so undici never falls back to process.env: `env` is the truth.
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY ?? '';
  const httpsProxy = env.https_proxy ?? env.HTTPS_PROXY ?? '';
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? '';
  const key = JSON.stringify([httpProxy, httpsProxy, noProxy, connectMs, env.CREDMUX_EXTRA_CA_CERTS ?? '']);
  let entry = dispatchers.get(key);
  if (!entry) {
    const { ca, problem } = extraCa(env);
    const tls = ca ? { timeout: connectMs, ca } : { timeout: connectMs };
    entry = {
      dispatcher: new u.EnvHttpProxyAgent({ httpProxy, httpsProxy, noProxy, connect: tls, requestTls: tls, proxyTls: tls }),
      caProblem: problem,
    };
    dispatchers.set(key, entry);
  }
  return entry;
}

/** Sends one request and reads the whole (capped) answer. Throws HttpFailure when there is no answer. */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const limits: HttpLimits = { ...DEFAULT_LIMITS, ...req.limits };
  const shownOf = (url: string) => (req.socketPath === undefined ? displayEndpoint(url) : `${displayEndpoint(url)} (over ${req.socketPath})`);
  const first = shownOf(req.url);
  const problem = req.metadataService && isMetadataEndpoint(req.url) ? undefined : endpointProblem(req.url, req.allowInsecureHttp);
  if (problem) throw new HttpFailure('refused-url', first, `${first} ${problem}`);
  const u: Undici = await tokenDeps();
  const { dispatcher, caProblem } = dispatcherFor(u, req.env, limits.connectMs, req.socketPath);
  const { signal, clear } = deadline(limits.totalMs);
  const headers: Record<string, string> = { 'user-agent': `credmux/${VERSION}`, accept: 'application/json', ...req.headers };

  let url = req.url;
  let method = req.method;
  let body = req.body;
  try {
    for (let hop = 0; ; hop++) {
      const shown = shownOf(url);
      let res: import('undici').Dispatcher.ResponseData;
      try {
        const target = new URL(url);
        res = await dispatcher.request({
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method,
          headers,
          body,
          signal,
          headersTimeout: limits.totalMs,
          bodyTimeout: limits.totalMs,
        });
      } catch (e) {
        const f = failureOf(e, shown, limits, signal);
        throw f.kind === 'tls' && caProblem ? new HttpFailure('tls', f.endpoint, `${f.message}; note: ${caProblem}`) : f;
      }
      if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304 && res.headers.location !== undefined) {
        res.body.resume(); // discard, let the connection be reused
        res.body.on('error', () => {});
        if (hop >= limits.maxRedirects) throw new HttpFailure('redirect', first, `${first} redirected more than ${limits.maxRedirects} times`);
        const next = nextHop(url, String(res.headers.location), req.allowInsecureHttp, first);
        // 301/302/303 turn a POST into a body-less GET (what browsers and curl do); 307/308 keep both.
        if (res.statusCode !== 307 && res.statusCode !== 308 && method === 'POST') {
          method = 'GET';
          body = undefined;
          delete headers['content-type'];
        }
        url = next;
        continue;
      }
      let text: string;
      try {
        text = await readCapped(res.body, limits.maxBodyBytes, shown);
      } catch (e) {
        if (e instanceof HttpFailure) throw e;
        throw failureOf(e, shown, limits, signal);
      }
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      return { status: res.statusCode, headers: flat, text, url };
    }
  } finally {
    clear();
  }
}

/**
 * An abort signal that fires after `ms`, and its clearing once the request is done. Not
 * AbortSignal.timeout(): its timer (with a weak reference to the signal) lives for the whole limit
 * after the answer came, and a daemon minting 5,000 tokens at once held 5,000 of them.
 */
function deadline(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('the request took too long', 'TimeoutError')), ms);
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/**
 * A redirect is followed only within the same origin: the request carries a secret (a header or the
 * body), and handing it to whatever host a Location names is how credentials leak. Same origin also
 * means the scheme never goes from https to http.
 */
function nextHop(current: string, location: string, allowInsecureHttp: boolean | undefined, first: string): string {
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    throw new HttpFailure('redirect', first, `${first} redirected to an unparsable location`);
  }
  const from = new URL(current);
  if (from.protocol === 'https:' && next.protocol !== 'https:') {
    throw new HttpFailure('redirect', first, `${first} redirected from https to ${next.protocol.replace(/:$/, '')}; refused`);
  }
  if (next.origin !== from.origin) {
    throw new HttpFailure(
      'redirect',
      first,
      `${first} redirected to another origin (${next.origin}); refused so no secret follows it — if that is the real endpoint, put ${displayEndpoint(next.href)} in the config`,
    );
  }
  const problem = endpointProblem(next.href, allowInsecureHttp);
  if (problem) throw new HttpFailure('redirect', first, `${first} redirected to ${displayEndpoint(next.href)}, which ${problem}`);
  return next.href;
}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy(e?: Error): unknown }, max: number, shown: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new HttpFailure('too-large', shown, `${shown} answered with more than ${max} bytes; refused`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Maps a library error to our own words; the library's message is never reused (it may quote the URL). */
function failureOf(e: unknown, shown: string, limits: HttpLimits, signal: AbortSignal): HttpFailure {
  const err = e as { code?: string; name?: string; cause?: { code?: string } };
  const code = err?.code ?? err?.cause?.code ?? '';
  if (signal.aborted || err?.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new HttpFailure('timeout', shown, `${shown} did not answer within ${limits.totalMs / 1000} s`);
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return new HttpFailure('timeout', shown, `could not connect to ${shown} within ${limits.connectMs / 1000} s`);
  if (TLS_CODES.has(code) || /^ERR_TLS_|^ERR_SSL_/.test(code)) {
    return new HttpFailure(
      'tls',
      shown,
      `TLS verification of ${shown} failed (${code}); if a proxy or private CA is in the way, add its certificate with NODE_EXTRA_CA_CERTS`,
    );
  }
  if (code === 'ECONNREFUSED') return new HttpFailure('connect', shown, `${shown} refused the connection`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new HttpFailure('connect', shown, `cannot resolve the host of ${shown} (${code})`);
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE')
    return new HttpFailure('network', shown, `the connection to ${shown} was reset`);
  if (code === 'UND_ERR_ABORTED') return new HttpFailure('timeout', shown, `${shown} did not answer within ${limits.totalMs / 1000} s`);
  return new HttpFailure('network', shown, `request to ${shown} failed (${code || err?.name || 'unknown error'})`);
}
