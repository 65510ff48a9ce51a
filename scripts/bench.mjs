#!/usr/bin/env node
// npm run bench: per-call cost of each credmux entry against the floor every Node helper pays, and
// against the peers (git's helpers, the Python keyring CLI, Docker's Go helpers), as MEDIANS OF
// INTERLEAVED RUNS in one process: every round runs every command once in a shuffled order, so a
// noisy neighbour slows all of them alike and the ratios stay honest. Then the daemon's throughput,
// p99 and memory under 64 concurrent connections. Needs no network beyond loopback.
//
//   node scripts/bench.mjs [--rounds N] [--seconds S] [--json FILE] [--daemon-only] [--save] [--node 20,22,24,26]
//
// --node runs the whole bench once per Node major listed (scripts/with-node.sh brings each), one after
// the other; --save writes the report to bench/results/<date>-node<major>.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { secretServicePeer } from './bench/secret-service.mjs';
import { checkTargets, printTargets } from './bench/targets.mjs';
import { trainCodeCaches, warmCalls } from './warm-calls.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (n) => join(root, n === 'keyring' ? 'dist/keyring-bin' : 'dist/bin', n);
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
// 40 rounds: on this shared 2-core host, 25 moved a median by ±0.03-0.05 of the floor between runs
// of the same code, as much as the margin a target is judged on; 40 take ~3.5 minutes per Node.
const ROUNDS = Number(opt('--rounds', '40'));
const LOAD_SECONDS = Number(opt('--seconds', '5'));
const JSON_OUT = opt('--json', undefined);
const NODES = opt('--node', undefined);
const SAVE = args.includes('--save');

if (NODES) {
  // One bench per Node, each in its own process on that Node: the floor, the helpers and the daemon all run on it.
  const rest = args.filter((a, i) => a !== '--node' && args[i - 1] !== '--node');
  let failed = false;
  for (const major of NODES.split(',')) {
    const r = spawnSync('bash', [join(root, 'scripts/with-node.sh'), major, 'node', join(root, 'scripts/bench.mjs'), ...rest], { stdio: 'inherit' });
    failed ||= r.status !== 0;
  }
  process.exit(failed ? 1 : 0);
}

// Everything printed, for --save.
const report = [];
const log = console.log;
console.log = (...xs) => {
  report.push(xs.join(' '));
  log(...xs);
};

if (!existsSync(bin('credmux'))) {
  console.error('dist/bin is missing: run `npm ci` (or `npm run build`) first');
  process.exit(1);
}

// The helpers' V8 code caches are per Node (src/client/code-cache.ts): made for this one if the
// build's Node was another, as the build makes them, so each Node is measured at its best.
{
  const lib = join(root, 'dist/lib');
  // The bundles the build made a cache for (scripts/build.mjs picks them), not a second list of names;
  // for this Node, as the build makes them: the entries trained on a warm answer, the engine whole.
  const cached = new Set(readdirSync(lib).flatMap((f) => /^(.+)\.cjs\.v[^/]+\.cache$/.exec(f)?.[1] ?? []));
  const missing = [...cached].filter((n) => !existsSync(join(lib, `${n}.cjs.${process.version}-${process.arch}.cache`)));
  trainCodeCaches(
    lib,
    missing.filter((n) => n !== 'engine'),
  );
  if (missing.includes('engine')) execFileSync(process.execPath, [join(lib, 'boot.cjs'), '--make-code-cache', join(lib, 'engine.cjs')]);
}

const work = mkdtempSync(join(tmpdir(), 'credmux-bench-'));
process.on('exit', () => {
  try {
    spawnSync(bin('credmux'), ['daemon', 'stop'], { env: baseEnv(), stdio: 'ignore' });
  } catch {}
  spawnSync('git', ['credential-cache', '--socket', join(work, 'git-cache.sock'), 'exit'], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
});

const HOME = join(work, 'home');
mkdirSync(join(HOME, '.run'), { recursive: true, mode: 0o700 });
const SECRET = 'bench-secret';
const HOST = 'bench.example.com';

/** The environment the tools would hand a helper: the machine's, with our HOME and store. */
function baseEnv(extra = {}) {
  const env = { ...process.env, HOME, XDG_RUNTIME_DIR: join(HOME, '.run'), CREDMUX_STORE: 'file', ...extra };
  for (const k of [
    'XDG_CONFIG_HOME',
    'XDG_DATA_HOME',
    'XDG_STATE_HOME',
    'XDG_CACHE_HOME',
    'CREDMUX_CONFIG',
    'CREDMUX_DAEMON',
    'DBUS_SESSION_BUS_ADDRESS',
  ]) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}

function sh(cmd, argv, input, env = baseEnv()) {
  const r = spawnSync(cmd, argv, { input, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

// ---- fixtures -------------------------------------------------------------------------------------
sh(bin('credmux'), ['login', `https://${HOST}`, '--username', 'alice', '--password-stdin'], `${SECRET}\n`);

const floor = join(work, 'floor');
writeFileSync(floor, "#!/usr/bin/env node\nprocess.stdout.write('{}\\n')\n");
chmodSync(floor, 0o755);

const gitStoreFile = join(work, 'git-credentials');
writeFileSync(gitStoreFile, `https://alice:${SECRET}@${HOST}\n`, { mode: 0o600 });
const gitCacheSock = join(work, 'git-cache.sock');
sh(
  'git',
  ['credential-cache', '--socket', gitCacheSock, '--timeout', '3600', 'store'],
  `protocol=https\nhost=${HOST}\nusername=alice\npassword=${SECRET}\n\n`,
);

/** Python keyring peers, pinned to their fastest file backend: 25.x in a venv (what pip >= 26.2 needs) and Debian's. */
function pythonKeyrings() {
  const peers = [];
  const pyEnv = { PYTHON_KEYRING_BACKEND: 'keyrings.alt.file.PlaintextKeyring', XDG_DATA_HOME: join(HOME, '.pydata') };
  const debian = '/usr/bin/keyring';
  if (existsSync(debian)) {
    const v = spawnSync('/usr/bin/python3', ['-c', 'import importlib.metadata as m; print(m.version("keyring"))'], {
      encoding: 'utf8',
    }).stdout.trim();
    peers.push({ name: `python keyring ${v} (Debian)`, cmd: debian, env: pyEnv });
  }
  const venv = join(work, 'kr-venv');
  const made = spawnSync('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', venv], { stdio: 'ignore' });
  if (made.status === 0) {
    const inst = spawnSync(join(venv, 'bin/pip'), ['install', '-q', '--retries', '0', '--disable-pip-version-check', 'keyring>=25.2.1,<26'], {
      encoding: 'utf8',
    });
    if (inst.status === 0) {
      const v = spawnSync(join(venv, 'bin/python'), ['-c', 'import importlib.metadata as m; print(m.version("keyring"))'], {
        encoding: 'utf8',
      }).stdout.trim();
      peers.push({ name: `python keyring ${v} (venv)`, cmd: join(venv, 'bin/keyring'), env: pyEnv });
    } else console.error(`(keyring 25.x not installable here: ${inst.stderr.trim().split('\n').pop()})`);
  }
  for (const p of peers) sh(p.cmd, ['set', `https://${HOST}/simple/`, 'alice'], `${SECRET}\n`, baseEnv(p.env));
  return peers;
}

// ---- the commands ---------------------------------------------------------------------------------
// Each entry's warm call as its tool makes it: the same calls the build trains the code caches on.
const warm = new Map(warmCalls(HOST, SECRET).map((c) => [c.entry, c]));
/** A row timing `entry`'s warm call. */
function warmRow(name, entry) {
  const c = warm.get(entry);
  return { name, cmd: bin(entry), argv: c.argv, input: c.input, env: c.env, expect: c.expect, target: 'warm' };
}
const bazelIn = warm.get('credmux-bazel').input;
const gitIn = warm.get('git-credential-credmux').input;

function stopDaemon() {
  spawnSync(bin('credmux'), ['daemon', 'stop'], { env: baseEnv(), stdio: 'ignore' });
}
function startDaemon() {
  sh(bin('credmux'), ['daemon', 'start'], '');
}

const commands = [
  { name: 'node -e 0', cmd: process.execPath, argv: ['-e', '0'] },
  { name: 'floor: one-line Node helper', cmd: floor, argv: [], floor: true },
  warmRow('credmux-bazel get (warm)', 'credmux-bazel'),
  warmRow('git-credential-credmux get (warm)', 'git-credential-credmux'),
  warmRow('docker-credential-credmux get (warm)', 'docker-credential-credmux'),
  warmRow('keyring get (warm)', 'keyring'),
  // Go's call after a 4xx: the URL as argument, the failed response on stdin.
  warmRow('credmux-go URL (warm)', 'credmux-go'),
  warmRow('credmux-kube (warm)', 'credmux-kube'),
  warmRow('credmux-kubelet (warm)', 'credmux-kubelet'),
  // pnpm's tokenHelper through the wrapper `credmux setup pnpm` writes is one sh exec more; this is the entry itself.
  warmRow('credmux-pnpm (warm)', 'credmux-pnpm'),
  warmRow('terraform-credentials-credmux get (warm)', 'terraform-credentials-credmux'),
  warmRow('cargo-credential-credmux get (warm)', 'cargo-credential-credmux'),
  {
    name: 'docker get, no rule matches',
    cmd: bin('docker-credential-credmux'),
    argv: ['get'],
    input: 'unrelated.example.org',
    expect: 'not found',
    target: 'warm',
  },
  {
    name: 'credmux-bazel get (cold: no daemon)',
    cmd: bin('credmux-bazel'),
    argv: ['get'],
    input: bazelIn,
    expect: 'Basic',
    before: stopDaemon,
    target: 'cold',
  },
  {
    name: 'credmux-bazel get (in process, CREDMUX_DAEMON=0)',
    cmd: bin('credmux-bazel'),
    argv: ['get'],
    input: bazelIn,
    expect: 'Basic',
    env: { CREDMUX_DAEMON: '0' },
  },
  { name: 'git credential-store get', cmd: 'git', argv: ['credential-store', '--file', gitStoreFile, 'get'], input: gitIn, expect: SECRET },
  { name: 'git credential-cache get', cmd: 'git', argv: ['credential-cache', '--socket', gitCacheSock, 'get'], input: gitIn, expect: SECRET },
];
for (const peer of pythonKeyrings()) {
  commands.push({ name: peer.name, cmd: peer.cmd, argv: ['get', `https://${HOST}/simple/`, 'alice'], expect: SECRET, env: peer.env, python: true });
}
// Docker's own Secret Service helper, on a private gnome-keyring, answering the same lookup. (Its
// `-pass` sibling needs a GPG key and `pass init`: not set up here.)
const secretService = args.includes('--daemon-only')
  ? undefined
  : await secretServicePeer(join(work, 'secret-service'), { host: HOST, username: 'alice', secret: SECRET });
if (secretService) commands.push({ ...secretService, expect: SECRET });

function timeOnce(c, env) {
  if (c.before) c.before();
  else if (c.target === 'warm' || c.python || !c.target) ensureDaemon(c);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.argv, { input: c.input ?? '', env: { ...env, ...(c.env ?? {}) }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (c.expect && !(r.stdout + r.stderr).includes(c.expect)) throw new Error(`${c.name}: unexpected answer: ${r.stdout}${r.stderr}`);
  return ms;
}

let daemonUp = false;
function ensureDaemon(c) {
  // Warm commands need the daemon; the cold one stops it, so restart it outside the timed section.
  if (c.target === 'warm' && !daemonUp) {
    startDaemon();
    daemonUp = true;
  }
  if (c.before === stopDaemon) daemonUp = false;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function shuffle(xs) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function runSet(label, short, env) {
  const samples = new Map(commands.map((c) => [c.name, []]));
  for (const c of commands) timeOnce(c, env); // warm-up: page cache, pyc files, the daemon
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of shuffle(commands)) {
      if (c.before === stopDaemon) daemonUp = false;
      samples.get(c.name).push(timeOnce(c, env));
    }
  }
  const floorMs = median(samples.get('floor: one-line Node helper'));
  const rows = commands.map((c) => {
    const med = median(samples.get(c.name));
    return {
      name: c.name,
      medianMs: +med.toFixed(2),
      ratioToFloor: +(med / floorMs).toFixed(3),
      ...(c.target && { target: c.target }),
      ...(c.python && { python: true }),
    };
  });
  console.log(`\n${label}  (${ROUNDS} interleaved rounds; ratio = median / floor median)`);
  console.log(`${'command'.padEnd(52)} ${'median ms'.padStart(10)} ${'× floor'.padStart(8)}`);
  for (const r of rows) console.log(`${r.name.padEnd(52)} ${r.medianMs.toFixed(1).padStart(10)} ${r.ratioToFloor.toFixed(2).padStart(8)}`);
  return { label, short, rows };
}

// ---- daemon throughput --------------------------------------------------------------------------------
// The load: a daemon holding 10,000 config rules, half of them minting tokens at a local
// endpoint, plus stored credentials; every token minted once before measuring; then lookups spread
// over every rule and credential from 64 persistent connections, each with one get in flight. Its own
// HOME, so the per-call part above keeps its fixtures. BENCH_DAEMON_NODE_ARGS (e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof") starts the daemon under those node flags, to profile it under this load.

const LOAD = {
  /** exchange rules, API key stored for the rule's own URL (pyx-style: Bearer <key>, empty body). */
  exchangeStored: 4_000,
  /** exchange rules on wildcard hosts, API key from the caller's $BENCH_API_KEY, JSON style. */
  exchangeEnv: 1_000,
  /** env rules: a token from the caller's $BENCH_ENV_SECRET. */
  envRules: 5_000,
  /** stored Basic credentials (credmux login / git store / docker login). */
  stored: 5_000,
  connections: 64,
};
const LOAD_ENV = { BENCH_API_KEY: 'bench-api-key-0123456789', BENCH_ENV_SECRET: 'bench-env-secret-0123456789' };

/**
 * A token endpoint on 127.0.0.1 minting JWT-shaped tokens with an `exp` an hour ahead (unsigned:
 * credmux decodes a token's expiry, it never verifies the signature). Remembers the latest token per
 * rule, so the load can tell a right answer from a wrong one.
 */
async function startTokenEndpoint() {
  const { createServer } = await import('node:http');
  const issued = new Map();
  let serial = 0;
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const header = b64({ alg: 'HS256', typ: 'JWT' });
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      // /bearer: the stored API key names its rule (key-<name>); /json: the body's "rule" field, with the env key.
      let rule;
      if (req.url === '/bearer') rule = /^Bearer key-(\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      else if (req.url === '/json') {
        try {
          const j = JSON.parse(body);
          if (j.api_key === LOAD_ENV.BENCH_API_KEY) rule = j.rule;
        } catch {}
      }
      const token = rule && `${header}.${b64({ sub: rule, n: ++serial, exp: Math.floor(Date.now() / 1000) + 3600 })}.c2lnbmF0dXJl`;
      if (token) issued.set(rule, token);
      const text = token ? JSON.stringify({ access_token: token, token_type: 'Bearer' }) : '{"error":"invalid_token"}';
      res.writeHead(token ? 200 : 401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, issued, minted: () => serial, close: () => server.close() };
}

/**
 * The config, the store and the lookup targets. Each target knows the rule id and the secret a right
 * answer carries; `body` is its request line after the id, built once (a real client sends the
 * variables env-names.json lists with every request: both of ours).
 */
function loadFixtures(endpoint) {
  const rules = [];
  const stored = [];
  const targets = [];
  const at = new Date().toISOString();
  const env = JSON.stringify(LOAD_ENV);
  const target = (url, ruleId, secret, token) => ({
    body: `"req":{"op":"get","url":${JSON.stringify(url)}},"env":${env}}\n`,
    idBytes: Buffer.from(`"id":${JSON.stringify(ruleId)}`),
    secretBytes: secret === undefined ? undefined : Buffer.from(`"secret":${JSON.stringify(secret)}`),
    token,
    issued: undefined,
  });
  for (let i = 0; i < LOAD.exchangeStored; i++) {
    const url = `https://t${i}.load.example.com`;
    const source = { type: 'exchange', endpoint: `${endpoint}/bearer`, secret: { stored: url }, expect: 'jwt', allowInsecureHttp: true };
    rules.push({ id: `t${i}`, match: url, source });
    stored.push({ url, username: 'api-key', kind: 'bearer', secret: `key-t${i}`, updatedAt: at });
    targets.push(target(`${url}/simple/pkg-${i}/`, `config:t${i}`, undefined, `t${i}`));
  }
  for (let i = 0; i < LOAD.exchangeEnv; i++) {
    const source = {
      type: 'exchange',
      endpoint: `${endpoint}/json`,
      secret: { env: 'BENCH_API_KEY' },
      style: 'json',
      secretField: 'api_key',
      fields: { rule: `k${i}` },
      allowInsecureHttp: true,
    };
    rules.push({ id: `k${i}`, match: `*.k${i}.load.example.com`, username: 'oauth2accesstoken', source });
    targets.push(target(`https://registry.k${i}.load.example.com/v2/`, `config:k${i}`, undefined, `k${i}`));
  }
  for (let i = 0; i < LOAD.envRules; i++) {
    const url = `https://e${i}.load.example.com`;
    rules.push({ id: `e${i}`, match: url, source: { type: 'env', var: 'BENCH_ENV_SECRET' } });
    targets.push(target(`${url}/repo.git`, `config:e${i}`, LOAD_ENV.BENCH_ENV_SECRET));
  }
  for (let i = 0; i < LOAD.stored; i++) {
    const url = `https://s${i}.load.example.com`;
    stored.push({ url, username: `u${i}`, kind: 'basic', secret: `s${i}`, updatedAt: at });
    targets.push(target(`${url}/simple/`, `stored:${url}#u${i}`, `s${i}`));
  }
  return { config: { rules }, stored, targets };
}

/** The RSS of this Node doing nothing (a timer pending), in MB: the part of the daemon's that any Node process holds. */
function idleNodeRss() {
  const script = "setTimeout(() => process.stdout.write(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]), 300)";
  return +(Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) / 1024).toFixed(1);
}

/** The load generator dials the daemon the way credmux's own helpers do (src/client/pipe.ts), bundled from the source at bench time. */
async function loadDialer() {
  return (await loadSource('src/client/pipe.ts')).dial;
}

/** A module of credmux's source, bundled at bench time (the bench runs on the built package otherwise). */
async function loadSource(entry) {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
  });
  const file = join(work, `${entry.replaceAll('/', '-')}.mjs`);
  writeFileSync(file, out.outputFiles[0].text);
  return import(pathToFileURL(file).href);
}

/**
 * Keeps one request in flight on one persistent connection until `next(now)` returns undefined;
 * calls `onReply(target, line, ms, now)` per answer, `line` its bytes without the newline. Nothing is
 * decoded to a string, one string is built per request, and the clock is read once per answer.
 */
function drive(dial, socketPath, next, onReply) {
  return new Promise((resolve, reject) => {
    let held; // the start of an answer split across reads
    let id = 0;
    let target;
    let sentAt = 0;
    let conn;
    const send = (now) => {
      target = next(now);
      if (target === undefined) return void conn.destroy();
      sentAt = now;
      conn.write(`{"v":2,"id":${++id},${target.body}`);
    };
    conn = dial(socketPath, {
      connect: () => send(performance.now()),
      error: (code) => reject(new Error(`load connection: ${code}`)),
      close: () => resolve(),
      data: (chunk) => {
        const data = held ? Buffer.concat([held, chunk]) : chunk;
        held = undefined;
        let start = 0;
        for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
          const line = data.subarray(start, nl);
          start = nl + 1;
          // The daemon still working on it (a token being minted): not the answer.
          if (line.length < 64 && line.includes('"progress":true')) continue;
          const now = performance.now();
          onReply(target, line, now - sentAt, now);
          send(now);
        }
        if (start < data.length) held = Buffer.from(data.subarray(start));
      },
    });
  });
}

/** The daemon started as `credmux daemon start` would, but under extra node flags (which NODE_OPTIONS may not carry). */
async function startDaemonWith(nodeArgs, env) {
  // With the flags and the malloc setting a helper starts it with.
  const { DAEMON_NODE_FLAGS, DAEMON_MALLOC_ENV } = await loadSource('src/client/spawn.ts');
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...nodeArgs, join(root, 'dist/lib/credmux-daemon.cjs')], {
    detached: true,
    stdio: 'ignore',
    env: { ...DAEMON_MALLOC_ENV, ...env },
    cwd: '/',
  });
  child.unref();
  for (let i = 0; i < 300; i++) {
    if (JSON.parse(spawnSync(bin('credmux'), ['daemon', 'status', '--json'], { env, encoding: 'utf8' }).stdout || '{}').running) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the daemon did not come up');
}

/** The daemon's CPU time so far, ms: user and system (utime, stime in clock ticks of 10 ms, fields 14 and 15). */
function daemonCpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 };
}

async function daemonLoad() {
  const home = join(work, 'load');
  mkdirSync(join(home, '.run'), { recursive: true, mode: 0o700 });
  const env = { ...baseEnv(), HOME: home, XDG_RUNTIME_DIR: join(home, '.run') };
  const endpoint = await startTokenEndpoint();
  const { config, stored, targets } = loadFixtures(endpoint.url);
  try {
    // The store file is created by the store itself (one login), then filled in bulk in its format.
    sh(bin('credmux'), ['login', `https://${HOST}`, '--username', 'alice', '--password-stdin'], `${SECRET}\n`, env);
    const storeFile = JSON.parse(sh(bin('credmux'), ['list', '--json'], '', env)).store.location;
    const current = JSON.parse(readFileSync(storeFile, 'utf8'));
    writeFileSync(storeFile, JSON.stringify({ ...current, entries: [...current.entries, ...stored] }), { mode: 0o600 });
    const configDir = join(home, '.config', 'credmux');
    mkdirSync(configDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(configDir, 'config.json'), JSON.stringify(config));
    const nodeArgs = process.env.BENCH_DAEMON_NODE_ARGS?.split(' ').filter(Boolean);
    if (nodeArgs?.length) await startDaemonWith(nodeArgs, env);
    else sh(bin('credmux'), ['daemon', 'start'], '', env);
    const { socket, pid } = JSON.parse(sh(bin('credmux'), ['daemon', 'status', '--json'], '', env));

    let wrong = 0;
    /** The answer names the target's rule and carries its secret (for a token rule: the one the endpoint last issued for it). */
    const check = (t, line) => {
      if (t.token !== undefined) {
        const token = endpoint.issued.get(t.token);
        if (token !== t.issued) {
          t.issued = token;
          t.secretBytes = token === undefined ? undefined : Buffer.from(token);
        }
      }
      if (line.indexOf(t.idBytes) < 0 || t.secretBytes === undefined || line.indexOf(t.secretBytes) < 0) {
        if (wrong++ === 0) console.error(`  first wrong answer: ${line.toString().slice(0, 300)}`);
      }
    };

    // Warm: every token rule minted once (64 at a time), so what follows is answered from the cache.
    const tokenTargets = targets.filter((t) => t.token !== undefined);
    const warmStart = performance.now();
    let w = 0;
    const dial = await loadDialer();
    await Promise.all(Array.from({ length: LOAD.connections }, () => drive(dial, socket, () => tokenTargets[w++], check)));
    const warmSeconds = (performance.now() - warmStart) / 1000;

    // Load: the first second is not recorded (the JIT settles), then LOAD_SECONDS are.
    const latencies = new Float64Array(4_000_000);
    let n = 0;
    const start = performance.now();
    const measureFrom = start + 1000;
    const until = measureFrom + LOAD_SECONDS * 1000;
    let cpu0;
    let daemonCpu0;
    await Promise.all(
      Array.from({ length: LOAD.connections }, (_, c) => {
        let k = c;
        return drive(
          dial,
          socket,
          (now) => (now < until ? targets[(k = (k + 7919) % targets.length)] : undefined),
          (t, line, ms, now) => {
            check(t, line);
            if (now < measureFrom) return;
            if (cpu0 === undefined) {
              // The first answer of the measured time: both processes' CPU clocks start here.
              cpu0 = process.cpuUsage();
              daemonCpu0 = daemonCpuMs(pid);
            }
            if (n < latencies.length) latencies[n++] = ms;
          },
        );
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    const daemonCpu1 = daemonCpuMs(pid);
    const daemonSystem = daemonCpu1.system - daemonCpu0.system;
    const daemonCpu = daemonCpu1.user - daemonCpu0.user + daemonSystem;
    const seconds = (performance.now() - measureFrom) / 1000;
    const sorted = latencies.subarray(0, n).sort();
    const p = (q) => sorted[Math.min(n - 1, Math.floor(q * n))];
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    const result = {
      connections: LOAD.connections,
      configRules: config.rules.length,
      tokenRules: tokenTargets.length,
      storedEntries: stored.length + 1,
      tokensMinted: endpoint.minted(),
      warmSeconds: +warmSeconds.toFixed(1),
      measuredSeconds: +seconds.toFixed(1),
      lookups: n,
      lookupsPerSecond: Math.round(n / seconds),
      p50Ms: +p(0.5).toFixed(3),
      p99Ms: +p(0.99).toFixed(3),
      wrongAnswers: wrong,
      rssMb: +(kb('VmRSS') / 1024).toFixed(1),
      peakRssMb: +(kb('VmHWM') / 1024).toFixed(1),
      // What the RSS is made of: pages of files mapped (above all the node binary's own code and data,
      // shared with every Node process and larger on newer Nodes) and the daemon's private memory.
      rssFileMb: +(kb('RssFile') / 1024).toFixed(1),
      rssAnonMb: +(kb('RssAnon') / 1024).toFixed(1),
      idleNodeRssMb: idleNodeRss(),
      // Both share the machine's cores: percent of one core over the measured time.
      generatorCpuPercent: Math.round((cpu.user + cpu.system) / 1e4 / seconds),
      daemonCpuPercent: Math.round(daemonCpu / 10 / seconds),
      daemonCpuUsPerLookup: Math.round((daemonCpu * 1000) / n),
      daemonSystemPercent: Math.round((daemonSystem * 100) / daemonCpu),
    };
    console.log(
      `\nDaemon: ${result.configRules} config rules (${result.tokenRules} minting tokens, all cached: ${result.tokensMinted} minted in ${result.warmSeconds} s), ` +
        `${result.storedEntries} stored entries; ${LOAD.connections} connections, one get in flight each, spread over ${targets.length} rules and credentials; ${result.measuredSeconds} s measured`,
    );
    console.log(
      `  lookups/s ${result.lookupsPerSecond}   p50 ${result.p50Ms} ms   p99 ${result.p99Ms} ms   wrong answers ${wrong}   ` +
        `RSS ${result.rssMb} MB (peak ${result.peakRssMb}; files ${result.rssFileMb}, anonymous ${result.rssAnonMb}; an idle node ${result.idleNodeRssMb})   CPU: generator ${result.generatorCpuPercent}%, daemon ${result.daemonCpuPercent}% of a core (${result.daemonCpuUsPerLookup} µs a lookup, ${result.daemonSystemPercent}% of it in the kernel)`,
    );
    return result;
  } finally {
    spawnSync(bin('credmux'), ['daemon', 'stop'], { env, stdio: 'ignore' });
    endpoint.close();
  }
}

// ---- run ------------------------------------------------------------------------------------------
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}`;
console.log(`credmux bench — ${machine}`);
const sets = [];
const ONLY_DAEMON = args.includes('--daemon-only');
const extraCa = process.env.NODE_EXTRA_CA_CERTS;
if (extraCa && !ONLY_DAEMON)
  sets.push(runSet(`With NODE_EXTRA_CA_CERTS=${extraCa} (as this machine exports it)`, 'with CA bundle', baseEnv({ NODE_EXTRA_CA_CERTS: extraCa })));
if (!ONLY_DAEMON) {
  const env = baseEnv();
  delete env.NODE_EXTRA_CA_CERTS;
  sets.push(runSet('Without NODE_EXTRA_CA_CERTS', 'without', env));
}
secretService?.stop();
const load = await daemonLoad();
const targets = checkTargets(sets, load);
printTargets(targets);
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ machine, rounds: ROUNDS, sets, daemon: load, targets }, null, 2) + '\n');
if (SAVE) {
  const file = join(root, 'bench/results', `${new Date().toISOString().slice(0, 10)}-node${process.versions.node.split('.')[0]}.md`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `# npm run bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n\n\`\`\`\n${report.join('\n').trim()}\n\`\`\`\n`,
  );
  log(`saved ${file}`);
}
