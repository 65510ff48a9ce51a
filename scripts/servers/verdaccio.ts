// An auth-required npm registry: verdaccio (pinned in devDependencies) on 127.0.0.1, with one htpasswd
// user, no self-registration, no uplinks (nothing leaves the machine) and every package readable only
// when authenticated. Seeded with one package that npm publishes with the user's token, so pnpm has
// something to install. Config shape: verdaccio/verdaccio packages/config/src/conf/default.yaml and
// https://verdaccio.org/docs/authentication; the login request: packages/api/src/user.ts.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { writeHtpasswd } from './nginx.js';
import { makeTempDir, pollFor, readLines, removeDir, run, superviseProcess, waitReady, withFreePort, type Supervised } from './process.js';

export interface NpmLogLine {
  method: string;
  /** The path as requested, e.g. `/@credmux%2Fprobe` or `/@credmux/probe/-/probe-1.0.0.tgz`. */
  url: string;
  /** The user verdaccio authenticated, or null for an anonymous request. */
  user: string | null;
  status: number;
}

export interface NpmRegistry {
  /** The server's temp dir (config, storage, log); removed by stop(). */
  dir: string;
  port: number;
  /** `http://127.0.0.1:PORT/`: the registry URL as pnpm and npm name it. */
  url: string;
  /** A token verdaccio issued to the user at login (its legacy format: an encrypted user:password). */
  token: string;
  /** The seeded package, readable only when authenticated. */
  packageName: string;
  version: string;
  /** What the package's index.js exports: proves the bytes installed came from this registry. */
  marker: string;
  requestLog(): Promise<NpmLogLine[]>;
  waitForLog(pred: (lines: NpmLogLine[]) => boolean, timeoutMs?: number): Promise<NpmLogLine[]>;
  stop(): Promise<void>;
}

const PACKAGE = '@credmux/probe';
const VERSION = '1.0.0';

/** verdaccio's JSON log: one line per finished request carries the method, url, user and status. */
export function parseVerdaccioLog(lines: string[]): NpmLogLine[] {
  const out: NpmLogLine[] = [];
  for (const raw of lines) {
    if (!raw.startsWith('{')) continue; // Node's own warnings
    let e: { request?: { method?: unknown; url?: unknown }; user?: unknown; status?: unknown };
    try {
      e = JSON.parse(raw) as typeof e;
    } catch {
      continue;
    }
    if (typeof e.status !== 'number' || typeof e.request?.method !== 'string' || typeof e.request.url !== 'string') continue;
    out.push({ method: e.request.method, url: e.request.url, user: typeof e.user === 'string' ? e.user : null, status: e.status });
  }
  return out;
}

function config(dir: string, port: number): string {
  return `storage: ${join(dir, 'storage')}
auth:
  htpasswd:
    file: ${join(dir, 'htpasswd')}
    max_users: -1
uplinks: {}
packages:
  '@*/*':
    access: $authenticated
    publish: $authenticated
    unpublish: $authenticated
  '**':
    access: $authenticated
    publish: $authenticated
    unpublish: $authenticated
listen: 127.0.0.1:${port}
log: { type: stdout, format: json, level: http }
web: { enable: false }
`;
}

export async function startVerdaccio(opts: { user: string; password: string }): Promise<NpmRegistry> {
  const dir = await makeTempDir('verdaccio');
  let proc: Supervised | undefined;
  const stop = async () => {
    await proc?.stop();
    await removeDir(dir);
  };
  try {
    await writeHtpasswd(join(dir, 'htpasswd'), opts.user, opts.password);
    await mkdir(join(dir, 'storage'));
    const logFile = join(dir, 'verdaccio.log');
    const bin = createRequire(import.meta.url).resolve('verdaccio/bin/verdaccio');
    const port = await withFreePort(async (port) => {
      const file = join(dir, `config-${port}.yaml`);
      await writeFile(file, config(dir, port));
      const p = superviseProcess(process.execPath, [bin, '--config', file], { cwd: dir, logFile, rmOnOrphan: dir });
      // Our own log saying it listens on this port: the process is ours, and the port is its.
      const listening = `http address - http://127.0.0.1:${port}/`;
      const ok = await waitReady(p, async () => readLines(logFile).some((l) => l.includes(listening)), 30_000);
      if (ok) {
        proc = p;
        return port;
      }
      const exited = p.hasExited();
      await p.stop();
      const why = readLines(logFile).join('\n');
      if (!exited || why.includes('EADDRINUSE')) return undefined;
      throw new Error(`verdaccio did not start:\n${why}`);
    });
    const url = `http://127.0.0.1:${port}/`;
    const token = await login(url, opts);
    const marker = `probe-${randomBytes(6).toString('hex')}`;
    await publish(dir, url, token, marker);
    const requestLog = async () => parseVerdaccioLog(readLines(logFile));
    return {
      dir,
      port,
      url,
      token,
      packageName: PACKAGE,
      version: VERSION,
      marker,
      requestLog,
      waitForLog: (pred, timeoutMs) => pollFor(requestLog, pred, timeoutMs),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `npm login`'s request: an existing user must also prove its password with Basic (packages/api/src/user.ts). */
async function login(url: string, opts: { user: string; password: string }): Promise<string> {
  const res = await fetch(`${url}-/user/org.couchdb.user:${encodeURIComponent(opts.user)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}` },
    body: JSON.stringify({ name: opts.user, password: opts.password }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { token?: unknown };
  if (res.status !== 201 || typeof body.token !== 'string') throw new Error(`verdaccio login answered ${res.status}`);
  return body.token;
}

/** The real npm publishes the probe package with the token, from a private user config (never argv). */
async function publish(dir: string, url: string, token: string, marker: string): Promise<void> {
  const pkg = join(dir, 'probe');
  await mkdir(pkg);
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: PACKAGE, version: VERSION, main: 'index.js', license: 'MIT' }));
  await writeFile(join(pkg, 'index.js'), `module.exports = ${JSON.stringify(marker)};\n`);
  const npmrc = join(dir, 'publish.npmrc');
  await writeFile(npmrc, `${url.replace(/^https?:/, '')}:_authToken=${token}\n`, { mode: 0o600 });
  await run('npm', ['publish', '--registry', url, '--no-audit', '--no-fund'], {
    cwd: pkg,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      NPM_CONFIG_USERCONFIG: npmrc,
      NPM_CONFIG_GLOBALCONFIG: join(dir, 'no-global-npmrc'),
      NPM_CONFIG_CACHE: join(dir, 'npm-cache'),
      NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    },
  });
}
