// A cargo sparse registry that requires authentication, serving one crate (`dep` 0.1.0) on 127.0.0.1.
// Shapes from rust-lang/cargo `doc/book/src/reference/registry-index.md` (config.json, index paths,
// index lines), `…/registry-authentication.md` (`auth-required`, the 401 and its
// `www-authenticate: Cargo login_url=…`) and `crates/cargo-test-support/src/registry.rs`, which
// serves its authenticated test registries the same way over plain http.
//
// Every request — config.json included — needs `Authorization` to equal the expected token exactly
// (cargo sends the provider's token verbatim, with no scheme); anything else is a 401. It runs in the
// test's own process (node:http), so it ends with it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, removeDir } from './process.js';

export interface CargoRequestLine {
  path: string;
  status: number;
  /** Whether the request carried the expected Authorization value (never the value itself). */
  authorized: boolean;
  /** Whether it carried an Authorization header at all. */
  sentAuthorization: boolean;
}

export interface CargoRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `sparse+http://127.0.0.1:PORT/index/`: what cargo's config names. */
  indexUrl: string;
  /** `http://127.0.0.1:PORT/index/`: the same as credmux keys it (no `sparse+`). */
  credmuxUrl: string;
  crate: string;
  version: string;
  /** Every request so far, in order (a promise, as the other servers' logs, for scripts/servers/run.mjs). */
  requestLog(): Promise<CargoRequestLine[]>;
  /** The token the registry accepts from now on (as `cargo login` would be given a new one). */
  setToken(token: string): void;
  stop(): Promise<void>;
}

const CRATE = 'dep';
const VERSION = '0.1.0';

/** `dep-0.1.0.crate`: a gzip tar of `dep-0.1.0/Cargo.toml` and `dep-0.1.0/src/lib.rs`, as `cargo package` lays it out. */
function buildCrate(dir: string): Buffer {
  const root = join(dir, 'src-crate', `${CRATE}-${VERSION}`);
  mkdirSync(join(root, 'src'), { recursive: true });
  writeFileSync(join(root, 'Cargo.toml'), `[package]\nname = "${CRATE}"\nversion = "${VERSION}"\nedition = "2021"\n`);
  writeFileSync(join(root, 'src', 'lib.rs'), 'pub fn answer() -> u32 {\n    42\n}\n');
  const out = join(dir, `${CRATE}-${VERSION}.crate`);
  execFileSync('tar', ['-czf', out, '-C', join(dir, 'src-crate'), `${CRATE}-${VERSION}`]);
  return readFileSync(out);
}

export async function startCargoRegistry(opts: { token: string }): Promise<CargoRegistry> {
  const dir = await makeTempDir('cargo-registry');
  let token = opts.token;
  const log: CargoRequestLine[] = [];
  let server: Server | undefined;
  try {
    const crate = buildCrate(dir);
    const cksum = createHash('sha256').update(crate).digest('hex');
    // Index path of a 3-character name: `3/<first char>/<name>` (registry-index.md, "Index files").
    const indexLine = `${JSON.stringify({ name: CRATE, vers: VERSION, deps: [], cksum, features: {}, yanked: false })}\n`;
    let base = '';
    const files = (): Record<string, { body: Buffer | string; type: string }> => ({
      '/index/config.json': {
        body: JSON.stringify({ dl: `${base}/dl/{crate}/{version}.crate`, api: base, 'auth-required': true }),
        type: 'application/json',
      },
      [`/index/3/${CRATE[0]}/${CRATE}`]: { body: indexLine, type: 'text/plain' },
      [`/dl/${CRATE}/${VERSION}.crate`]: { body: crate, type: 'application/octet-stream' },
    });
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const auth = req.headers.authorization;
      const authorized = auth === token;
      const entry = files()[path];
      const status = !authorized ? 401 : entry ? 200 : 404;
      log.push({ path, status, authorized, sentAuthorization: auth !== undefined });
      if (status === 401) {
        res.writeHead(401, { 'www-authenticate': `Cargo login_url="${base}/me"`, 'content-type': 'text/plain' });
        res.end('authentication required\n');
        return;
      }
      if (!entry) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': entry.type });
      res.end(entry.body);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(0, '127.0.0.1', () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const s = server;
    return {
      url: base,
      indexUrl: `sparse+${base}/index/`,
      credmuxUrl: `${base}/index/`,
      crate: CRATE,
      version: VERSION,
      requestLog: async () => [...log],
      setToken(t) {
        token = t;
      },
      async stop() {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
        await removeDir(dir);
      },
    };
  } catch (e) {
    server?.close();
    await removeDir(dir);
    throw e;
  }
}
