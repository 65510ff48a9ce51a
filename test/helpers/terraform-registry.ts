// A Terraform module registry on https://127.0.0.1:<port> for the terraform door's end-to-end tests:
// service discovery, the module registry protocol's `versions` and `download`, and the package the
// download points at. Discovery, versions and download demand `Authorization: Bearer <token>` (as a
// private registry does); the package URL is unguessable instead, because Terraform fetches it without
// the token (hashicorp/terraform#28659). Every request is recorded with the Authorization it carried.
//
// Shapes, from hashicorp/terraform website/docs/internals/remote-service-discovery.mdx and
// website/docs/internals/module-registry-protocol.mdx (also opentofu/opentofu website/docs/internals/):
//   GET /.well-known/terraform.json                  → 200 application/json {"modules.v1": "/v1/modules/"}
//   GET /v1/modules/NS/NAME/SYSTEM/versions          → 200 {"modules":[{"versions":[{"version":"1.0.0"}]}]}
//   GET /v1/modules/NS/NAME/SYSTEM/1.0.0/download    → 204, X-Terraform-Get: <package URL>
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeTestTls } from './tls.js';

export interface RegistryRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  status: number;
}

export interface TerraformRegistry {
  /** `127.0.0.1:<port>`: the host Terraform asks its credentials helper for. */
  host: string;
  /** PEM file of the CA that signed the server's certificate: hand it to terraform as SSL_CERT_FILE. */
  caFile: string;
  /** The module's registry address, `127.0.0.1:<port>/acme/hello/null`. */
  moduleSource: string;
  /** The output the module's package defines, so a test can see it arrived. */
  moduleOutput: string;
  /** Tokens the registry accepts; a test may change them. */
  tokens: Set<string>;
  requests: RegistryRequest[];
  stop(): Promise<void>;
}

const MODULE = { namespace: 'acme', name: 'hello', system: 'null', version: '1.0.0' };

export async function startTerraformRegistry(tokens: readonly string[]): Promise<TerraformRegistry> {
  const tls = makeTestTls();
  const packageKey = randomBytes(16).toString('hex');
  const moduleOutput = `from-registry-${randomBytes(4).toString('hex')}`;
  const pkgDir = join(tls.dir, 'module');
  mkdirSync(pkgDir);
  writeFileSync(join(pkgDir, 'main.tf'), `output "greeting" {\n  value = "${moduleOutput}"\n}\n`);
  execFileSync('tar', ['-czf', join(tls.dir, 'module.tar.gz'), '-C', pkgDir, 'main.tf']);
  const tarball = readFileSync(join(tls.dir, 'module.tar.gz'));

  const accepted = new Set(tokens);
  const requests: RegistryRequest[] = [];
  const base = `/v1/modules/${MODULE.namespace}/${MODULE.name}/${MODULE.system}`;
  let origin = '';

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const authorization = req.headers.authorization;
    const send = (status: number, headers: Record<string, string>, body?: string | Buffer) => {
      requests.push({ method: req.method ?? '', path, authorization, status });
      res.writeHead(status, headers).end(body);
    };
    const authorized = authorization !== undefined && authorization.startsWith('Bearer ') && accepted.has(authorization.slice('Bearer '.length));
    const protectedPath = path === '/.well-known/terraform.json' || path.startsWith('/v1/modules/');
    if (protectedPath && !authorized) return send(401, { 'content-type': 'application/json' }, '{"errors":["unauthorized"]}');
    // go-getter asks the package URL with HEAD before its GET; the registry API is GET only.
    if (req.method === 'HEAD' && path === `/pkg/${packageKey}/module.tar.gz`) return send(200, { 'content-type': 'application/gzip' });
    if (req.method !== 'GET') return send(405, {});
    if (path === '/.well-known/terraform.json')
      return send(200, { 'content-type': 'application/json' }, JSON.stringify({ 'modules.v1': '/v1/modules/' }));
    if (path === `${base}/versions`) {
      return send(200, { 'content-type': 'application/json' }, JSON.stringify({ modules: [{ versions: [{ version: MODULE.version }] }] }));
    }
    if (path === `${base}/${MODULE.version}/download`) return send(204, { 'x-terraform-get': `${origin}/pkg/${packageKey}/module.tar.gz` });
    if (path === `/pkg/${packageKey}/module.tar.gz`) return send(200, { 'content-type': 'application/gzip' }, tarball);
    return send(404, { 'content-type': 'application/json' }, '{"errors":["not found"]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // An IP address, not `localhost`: a registry host in a module source must contain a dot
  // (hashicorp/terraform internal/addrs/module_source.go, "must contain at least one dot").
  origin = `https://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    caFile: tls.caFile,
    moduleSource: `127.0.0.1:${port}/${MODULE.namespace}/${MODULE.name}/${MODULE.system}`,
    moduleOutput,
    tokens: accepted,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
