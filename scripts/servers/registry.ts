// A Docker registry v2 (Debian's docker-registry 2.8) on plain HTTP with htpasswd auth, seeded with
// one tiny image pushed by skopeo, so docker/skopeo have something to pull or inspect.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuthLogLine } from './nginx.js';
import { writeHtpasswd } from './nginx.js';
import { writeOciLayout } from './oci-image.js';
import { httpGet, makeTempDir, pollFor, readLines, removeDir, run, superviseProcess, waitReady, withFreePort, type Supervised } from './process.js';

export interface RegistryServer {
  /** The server's temp dir (config, logs, data); removed by stop(). */
  dir: string;
  /** `127.0.0.1:PORT`: the registry as docker, skopeo and credential helpers name it. */
  host: string;
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The seeded image, e.g. `credmux/probe:1.0` (repository:tag, no host). */
  image: string;
  /** `127.0.0.1:PORT/credmux/probe:1.0` */
  imageRef: string;
  /** `sha256:…` of the seeded manifest. */
  manifestDigest: string;
  /**
   * One line per request. The registry names the user only for reads on repository routes
   * (`/v2/<name>/manifests|blobs/…`); for `/v2/` and blob uploads `user` is '' even when
   * authenticated. A rejected request has status 401.
   */
  requestLog(): Promise<AuthLogLine[]>;
  waitForLog(pred: (lines: AuthLogLine[]) => boolean, timeoutMs?: number): Promise<AuthLogLine[]>;
  stop(): Promise<void>;
}

const REPO = 'credmux/probe';
const TAG = '1.0';

/**
 * The registry logs logrus JSON, several lines per request, joined here by `http.request.id`:
 * "response completed[ with error]" carries the status; only the repository handlers' own (debug)
 * lines carry `auth.user.name`; a rejected request logs "error authorizing context: basic
 * authentication challenge" and no status.
 */
export function parseRegistryLog(lines: string[]): AuthLogLine[] {
  const byId = new Map<string, AuthLogLine>();
  for (const raw of lines) {
    if (!raw.startsWith('{')) continue; // the Apache-style access log lines carry no request id
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      continue;
    }
    const id = e['http.request.id'];
    if (typeof id !== 'string') continue;
    const line = byId.get(id) ?? {
      user: '',
      status: 0,
      method: String(e['http.request.method'] ?? ''),
      uri: String(e['http.request.uri'] ?? ''),
    };
    byId.set(id, line);
    const msg = String(e.msg ?? '');
    if (typeof e['auth.user.name'] === 'string') line.user = e['auth.user.name'];
    if (typeof e['http.response.status'] === 'number') line.status = e['http.response.status'];
    else if (msg.startsWith('error authorizing context')) line.status = 401;
  }
  return [...byId.values()].filter((l) => l.status !== 0);
}

export async function startRegistry(opts: { user: string; password: string }): Promise<RegistryServer> {
  const dir = await makeTempDir('registry');
  let proc: Supervised | undefined;
  const stop = async () => {
    await proc?.stop();
    await removeDir(dir);
  };
  try {
    await writeHtpasswd(join(dir, 'htpasswd'), opts.user, opts.password);
    await mkdir(join(dir, 'data'));
    const logFile = join(dir, 'registry.log');
    // The realm doubles as a nonce: a 401 naming it proves the port is answered by this registry.
    const realm = `credmux-test-${randomBytes(6).toString('hex')}`;

    const port = await withFreePort(async (port) => {
      const config = join(dir, 'config.yml');
      await writeFile(
        config,
        `version: 0.1
log:
  level: debug # handler lines carry auth.user.name; "response completed" lines do not
  formatter: json
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${randomBytes(16).toString('hex')}
auth:
  htpasswd:
    realm: ${realm}
    path: ${join(dir, 'htpasswd')}
`,
      );
      const p = superviseProcess('docker-registry', ['serve', config], { cwd: dir, logFile, rmOnOrphan: dir });
      const ok = await waitReady(p, async () => {
        const r = await httpGet(`http://127.0.0.1:${port}/v2/`);
        return r.status === 401 && (r.headers.get('www-authenticate') ?? '').includes(realm);
      });
      if (ok) {
        proc = p;
        return port;
      }
      const exited = p.hasExited();
      await p.stop();
      const why = readLines(logFile).join('\n');
      if (!exited || why.includes('address already in use')) return undefined;
      throw new Error(`docker-registry did not start:\n${why}`);
    });

    const host = `127.0.0.1:${port}`;
    const manifestDigest = await seed(dir, host, opts);
    const requestLog = async () => parseRegistryLog(readLines(logFile));
    return {
      dir,
      host,
      port,
      url: `http://${host}`,
      image: `${REPO}:${TAG}`,
      imageRef: `${host}/${REPO}:${TAG}`,
      manifestDigest,
      requestLog,
      waitForLog: (pred, timeoutMs) => pollFor(requestLog, pred, timeoutMs),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Pushes the hand-made image with skopeo, credentials in a private auth file (never on argv). */
async function seed(dir: string, host: string, opts: { user: string; password: string }): Promise<string> {
  const layout = join(dir, 'seed-image');
  const digest = await writeOciLayout(layout, TAG);
  const authFile = join(dir, 'seed-auth.json');
  const auth = Buffer.from(`${opts.user}:${opts.password}`).toString('base64');
  await writeFile(authFile, JSON.stringify({ auths: { [host]: { auth } } }), { mode: 0o600 });
  await run(
    'skopeo',
    [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      '--dest-authfile',
      authFile,
      // keep the manifest as written (OCI), so the digest we return is the one the registry serves
      '--preserve-digests',
      `oci:${layout}:${TAG}`,
      `docker://${host}/${REPO}:${TAG}`,
    ],
    {
      // skopeo must not pick up credentials or settings from the machine
      env: {
        ...process.env,
        HOME: dir,
        XDG_RUNTIME_DIR: dir,
        XDG_CONFIG_HOME: join(dir, '.config'),
        DOCKER_CONFIG: join(dir, '.docker'),
        REGISTRY_AUTH_FILE: authFile,
      },
    },
  );
  return digest;
}
