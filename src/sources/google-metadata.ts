// The Compute Engine metadata server (also GKE's, Cloud Run's and Cloud Build's): GET
// /computeMetadata/v1/instance/service-accounts/default/token with `Metadata-Flavor: Google`, answered
// with {"access_token","expires_in","token_type"} and the same header (googleapis/google-auth-library-python
// google/auth/compute_engine/_metadata.py; https://cloud.google.com/compute/docs/metadata/querying-metadata).
//
// Plain http by design (the server is link-local and offers nothing else), so not through
// src/http/request.ts, whose policy refuses http off loopback; and never through a proxy. Nothing
// secret is sent. What comes back is trusted only with the `Metadata-Flavor: Google` header.
//
// Most machines have no metadata server, and a helper must not wait for one: the connection must be
// made within CONNECT_MS (a real one is a hop away), and a host found absent is remembered for
// ABSENT_FOR_S — in memory (the daemon) and in a marker file (helpers resolving without a daemon).
import { mkdirSync, openSync, closeSync, fstatSync, readFileSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Rule } from '../model/rule.js';
import { cacheDir, type Env } from '../platform/paths.js';
import { writeFileAtomic } from '../platform/atomic-write.js';
import type { HttpResponse } from '../http/request.js';
import { sourceError } from './errors.js';

/** google-auth's default (_metadata.py _METADATA_IP_ROOT): an address, so no DNS lookup can stall. */
export const DEFAULT_METADATA_HOST = '169.254.169.254';
/** The TCP connection, the probe: sub-second. */
export const CONNECT_MS = 500;
/** Once connected, the whole answer (GKE's metadata server may first exchange a federated token). */
const ANSWER_MS = 5_000;
const MAX_BODY = 64 * 1024;
/** How long a host that did not answer is not asked again. */
export const ABSENT_FOR_S = 60;

/** GCE_METADATA_HOST (host[:port], as google-auth reads it), else GCE_METADATA_IP, else the well-known address. */
export function metadataHost(env: Env): { host: string; from: string } {
  if (env.GCE_METADATA_HOST) return { host: env.GCE_METADATA_HOST, from: 'GCE_METADATA_HOST' };
  if (env.GCE_METADATA_IP) return { host: env.GCE_METADATA_IP, from: 'GCE_METADATA_IP' };
  return { host: DEFAULT_METADATA_HOST, from: 'the default address' };
}

/** Hosts found absent, with the Unix second until which they stay so. */
const absent = new Map<string, number>();

function markerFile(env: Env): string {
  return join(cacheDir(env), 'gce-metadata-absent.json');
}

/** The marker's entries, if it is a regular file of ours that no one else can write; else none. */
function readMarker(env: Env): Record<string, number> {
  let fd: number | undefined;
  try {
    fd = openSync(markerFile(env), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0 || st.size > 4096) return {};
    const v: unknown = JSON.parse(readFileSync(fd, 'utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, number>) : {};
  } catch {
    return {};
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function knownAbsent(env: Env, host: string, now: number): boolean {
  const until = absent.get(host) ?? readMarker(env)[host];
  return typeof until === 'number' && until > now;
}

async function rememberAbsent(env: Env, host: string, now: number): Promise<void> {
  const until = now + ABSENT_FOR_S;
  absent.set(host, until);
  try {
    const kept = Object.fromEntries(Object.entries(readMarker(env)).filter(([, t]) => typeof t === 'number' && t > now));
    mkdirSync(cacheDir(env), { recursive: true, mode: 0o700 });
    await writeFileAtomic(markerFile(env), JSON.stringify({ ...kept, [host]: until }), { durable: 'none' });
  } catch {
    // only a hint for the next process: the in-memory record stands
  }
}

/** For tests and `credmux doctor`-style retries: forget what was found absent. */
export function forgetAbsent(): void {
  absent.clear();
}

type Outcome = { res: HttpResponse } | { absent: string };

/** One GET to the metadata server, bounded as above. `absent` says why no Google metadata server answered. */
function metadataGet(host: string, path: string): Promise<Outcome> {
  const http = process.getBuiltinModule('node:http');
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    let url: URL;
    try {
      url = new URL(`http://${host}${path}`);
      if (url.host !== host.toLowerCase() || url.username || url.password) throw new Error('not host[:port]');
    } catch {
      resolve({ absent: `"${host}" is not a host[:port]` });
      return;
    }
    // agent: false, no proxy: the request goes straight to the link-local server.
    const req = http.request({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 80,
      path,
      method: 'GET',
      agent: false,
      headers: { 'metadata-flavor': 'Google' },
    });
    let timer = setTimeout(() => finish({ absent: `no connection within ${CONNECT_MS} ms` }), CONNECT_MS);
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        clearTimeout(timer);
        timer = setTimeout(() => finish({ absent: `no answer within ${ANSWER_MS / 1000} s` }), ANSWER_MS);
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ absent: e.code ? `connection failed (${e.code})` : 'connection failed' }));
    req.on('response', (res) => {
      if (String(res.headers['metadata-flavor'] ?? '').toLowerCase() !== 'google') {
        res.resume();
        finish({ absent: `HTTP ${res.statusCode} without "Metadata-Flavor: Google": not a Google metadata server` });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) finish({ absent: `an answer over ${MAX_BODY} bytes` });
        else chunks.push(c);
      });
      res.on('error', () => finish({ absent: 'the connection broke mid-answer' }));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        finish({ res: { status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8'), url: url.href } });
      });
    });
    req.end();
  });
}

/** What to do about a missing metadata server, for the error that names it. */
export const METADATA_FIX =
  'on Google Cloud, check the instance has a service account; elsewhere, set GOOGLE_APPLICATION_CREDENTIALS to a credentials file, run gcloud auth application-default login, or set "credentials" in the rule';

/**
 * The token response of the metadata server (the caller reads it with readTokenAnswer), or a source
 * error naming the host, why it counts as absent and what to configure. Absent hosts fail at once.
 */
export async function metadataToken(rule: Rule, env: Env, now: number, scopes: readonly string[] | undefined): Promise<HttpResponse> {
  const { host, from } = metadataHost(env);
  const where = `the metadata server at http://${host} (${from})`;
  if (knownAbsent(env, host, now)) {
    throw sourceError(rule, `${where} did not answer in the last ${ABSENT_FOR_S} s, so it is not asked again yet; ${METADATA_FIX}`);
  }
  const query = scopes ? `?scopes=${scopes.map(encodeURIComponent).join(',')}` : '';
  const out = await metadataGet(host, `/computeMetadata/v1/instance/service-accounts/default/token${query}`);
  if ('absent' in out) {
    await rememberAbsent(env, host, now);
    throw sourceError(rule, `no Google credentials: ${where} is not there (${out.absent}); ${METADATA_FIX}`);
  }
  if (out.res.status === 404) {
    throw sourceError(
      rule,
      `${where} has no service account for this instance (HTTP 404); attach one to the VM or workload, or set "credentials" in the rule`,
    );
  }
  return out.res;
}
