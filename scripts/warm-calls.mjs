// One warm call of each helper entry, as its tool makes it, and code caches trained on them.
//
// The bench times these calls (scripts/bench.mjs); the build trains each entry's V8 code cache on
// one of them (scripts/build.mjs). A cache made with every function compiled (`--no-lazy`) holds the
// cold path, the in-process path and every error path too, and V8 deserializes all of it on every
// call: trained on a warm answer, it holds what a warm answer runs. Anything else a call needs
// compiles from source as it runs, as it would without a cache.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `host` has a credential stored for user alice whose secret is `secret`. `expect`: what the answer
 * holds when it served that credential (the secret itself, or a Basic header made of it).
 */
export function warmCalls(host, secret) {
  return [
    { entry: 'credmux-bazel', argv: ['get'], input: `{"uri":"https://${host}/repo/file.tar.gz"}`, expect: 'Basic' },
    { entry: 'git-credential-credmux', argv: ['get'], input: `protocol=https\nhost=${host}\n\n`, expect: secret },
    { entry: 'docker-credential-credmux', argv: ['get'], input: host, expect: secret },
    { entry: 'keyring', argv: ['get', `https://${host}/simple/`, 'alice'], expect: secret },
    // Go's call after a 4xx: the URL as argument, the failed response on stdin (docs/protocols.md §9).
    {
      entry: 'credmux-go',
      argv: [`https://${host}/mod/@v/list`],
      input: 'HTTP/1.1 401 Unauthorized\nWww-Authenticate: Basic realm="proxy"\n\n',
      expect: 'Basic',
    },
    // kubectl hands its plugin the cluster in KUBERNETES_EXEC_INFO (docs/protocols.md §11).
    {
      entry: 'credmux-kube',
      argv: [],
      env: {
        KUBERNETES_EXEC_INFO: JSON.stringify({
          kind: 'ExecCredential',
          apiVersion: 'client.authentication.k8s.io/v1',
          spec: { interactive: false, cluster: { server: `https://${host}` } },
        }),
      },
      expect: secret,
    },
    // The kubelet sends a request on stdin (docs/protocols.md §12).
    {
      entry: 'credmux-kubelet',
      argv: [],
      input: JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: `${host}/team/app` }),
      expect: secret,
    },
    { entry: 'credmux-pnpm', argv: [`https://${host}/`], expect: 'Basic' },
    { entry: 'terraform-credentials-credmux', argv: ['get', host], expect: secret },
    // cargo writes one request line and closes stdin (rust-lang/cargo src/util/credential/process.rs).
    {
      entry: 'cargo-credential-credmux',
      argv: ['--cargo-plugin'],
      input: `${JSON.stringify({ v: 1, registry: { 'index-url': `sparse+https://${host}/index/`, name: 'corp' }, kind: 'get', operation: 'read' })}\n`,
      expect: 'Basic',
    },
  ];
}

const HOST = 'warm.example.com';
const SECRET = 'warm-secret';

/**
 * Trains the code caches of `entries` (bundle names in `lib`) for the Node at `node`: a private home
 * with one stored credential, a daemon from `lib`, one warm call of each entry with its cache removed
 * (boot.cjs saves one of what the call compiled as it exits: src/client/code-cache.ts). An entry it
 * cannot train (no warm call for it, or the call failed) gets a cache of every function instead;
 * returns those entries.
 */
export function trainCodeCaches(lib, entries, node = process.execPath) {
  if (!entries.length) return [];
  const key = spawnSync(node, ['-p', 'process.version + "-" + process.arch'], { encoding: 'utf8' }).stdout.trim();
  const top = mkdtempSync(join(tmpdir(), 'credmux-train-'));
  const home = join(top, 'home');
  mkdirSync(join(home, '.run'), { recursive: true, mode: 0o700 });
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_RUNTIME_DIR: join(home, '.run'),
    CREDMUX_STORE: 'file',
    CREDMUX_DAEMON_BIN: join(lib, 'credmux-daemon.cjs'),
    CREDMUX_IDLE_TIMEOUT: '60',
  };
  const credmux = (args, input) => spawnSync(node, [join(lib, 'credmux.cjs'), ...args], { env, input, encoding: 'utf8' });
  const failed = [];
  try {
    const ready =
      credmux(['login', `https://${HOST}`, '--username', 'alice', '--password-stdin'], `${SECRET}\n`).status === 0 &&
      credmux(['daemon', 'start']).status === 0;
    const calls = new Map(warmCalls(HOST, SECRET).map((c) => [c.entry, c]));
    for (const entry of entries) {
      const bundle = join(lib, `${entry}.cjs`);
      const cache = `${bundle}.${key}.cache`;
      rmSync(cache, { force: true });
      const call = calls.get(entry);
      if (!ready || !call) {
        failed.push(entry);
        continue;
      }
      const r = spawnSync(node, [join(lib, 'boot.cjs'), bundle, ...call.argv], {
        env: { ...env, ...call.env },
        input: call.input ?? '',
        encoding: 'utf8',
      });
      if (r.status !== 0 || !r.stdout.includes(call.expect) || !existsSync(cache)) {
        rmSync(cache, { force: true });
        failed.push(entry);
      }
    }
  } finally {
    credmux(['daemon', 'stop']);
    rmSync(top, { recursive: true, force: true });
  }
  if (failed.length) spawnSync(node, [join(lib, 'boot.cjs'), '--make-code-cache', ...failed.map((n) => join(lib, `${n}.cjs`))], { stdio: 'ignore' });
  return failed;
}
