#!/usr/bin/env node
// npm run bench: per-call cost of each credmux entry against the floor every Node helper pays, and
// against the peers (git's helpers, the Python keyring CLI, Docker's Go helpers), as MEDIANS OF
// INTERLEAVED RUNS in one process: every round runs every command once in a shuffled order, so a
// noisy neighbour slows all of them alike and the ratios stay honest. Then the daemon's throughput,
// p99 and memory under 64 concurrent connections. Needs no network beyond loopback.
//
//   node scripts/bench.mjs [--rounds N] [--seconds S] [--json FILE] [--daemon-only]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (n) => join(root, 'dist/bin', n);
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(opt('--rounds', '25'));
const LOAD_SECONDS = Number(opt('--seconds', '5'));
const JSON_OUT = opt('--json', undefined);

if (!existsSync(bin('credmux'))) {
  console.error('dist/bin is missing: run `npm ci` (or `npm run build`) first');
  process.exit(1);
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
  for (const k of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'CREDMUX_CONFIG', 'CREDMUX_DAEMON', 'DBUS_SESSION_BUS_ADDRESS']) {
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
sh('git', ['credential-cache', '--socket', gitCacheSock, '--timeout', '3600', 'store'], `protocol=https\nhost=${HOST}\nusername=alice\npassword=${SECRET}\n\n`);

/** Python keyring peers, pinned to their fastest file backend: 25.x in a venv (what pip >= 26.2 needs) and Debian's. */
function pythonKeyrings() {
  const peers = [];
  const pyEnv = { PYTHON_KEYRING_BACKEND: 'keyrings.alt.file.PlaintextKeyring', XDG_DATA_HOME: join(HOME, '.pydata') };
  const debian = '/usr/bin/keyring';
  if (existsSync(debian)) {
    const v = spawnSync('/usr/bin/python3', ['-c', 'import importlib.metadata as m; print(m.version("keyring"))'], { encoding: 'utf8' }).stdout.trim();
    peers.push({ name: `python keyring ${v} (Debian)`, cmd: debian, env: pyEnv });
  }
  const venv = join(work, 'kr-venv');
  const made = spawnSync('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', venv], { stdio: 'ignore' });
  if (made.status === 0) {
    const inst = spawnSync(join(venv, 'bin/pip'), ['install', '-q', '--retries', '0', '--disable-pip-version-check', 'keyring>=25.2.1,<26'], { encoding: 'utf8' });
    if (inst.status === 0) {
      const v = spawnSync(join(venv, 'bin/python'), ['-c', 'import importlib.metadata as m; print(m.version("keyring"))'], { encoding: 'utf8' }).stdout.trim();
      peers.push({ name: `python keyring ${v} (venv)`, cmd: join(venv, 'bin/keyring'), env: pyEnv });
    } else console.error(`(keyring 25.x not installable here: ${inst.stderr.trim().split('\n').pop()})`);
  }
  for (const p of peers) sh(p.cmd, ['set', `https://${HOST}/simple/`, 'alice'], `${SECRET}\n`, baseEnv(p.env));
  return peers;
}

function which(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// ---- the commands ---------------------------------------------------------------------------------
const bazelIn = `{"uri":"https://${HOST}/repo/file.tar.gz"}`;
const gitIn = `protocol=https\nhost=${HOST}\n\n`;

function stopDaemon() {
  spawnSync(bin('credmux'), ['daemon', 'stop'], { env: baseEnv(), stdio: 'ignore' });
}
function startDaemon() {
  sh(bin('credmux'), ['daemon', 'start'], '');
}

const commands = [
  { name: 'node -e 0', cmd: process.execPath, argv: ['-e', '0'] },
  { name: 'floor: one-line Node helper', cmd: floor, argv: [], floor: true },
  { name: 'credmux-bazel get (warm)', cmd: bin('credmux-bazel'), argv: ['get'], input: bazelIn, expect: 'Basic', target: 'warm' },
  { name: 'git-credential-credmux get (warm)', cmd: bin('git-credential-credmux'), argv: ['get'], input: gitIn, expect: SECRET, target: 'warm' },
  { name: 'docker-credential-credmux get (warm)', cmd: bin('docker-credential-credmux'), argv: ['get'], input: HOST, expect: SECRET, target: 'warm' },
  { name: 'keyring get (warm)', cmd: bin('keyring'), argv: ['get', `https://${HOST}/simple/`, 'alice'], expect: SECRET, target: 'warm' },
  { name: 'docker get, no rule matches', cmd: bin('docker-credential-credmux'), argv: ['get'], input: 'unrelated.example.org', expect: 'not found', target: 'warm' },
  { name: 'credmux-bazel get (cold: no daemon)', cmd: bin('credmux-bazel'), argv: ['get'], input: bazelIn, expect: 'Basic', before: stopDaemon, target: 'cold' },
  { name: 'credmux-bazel get (in process, CREDMUX_DAEMON=0)', cmd: bin('credmux-bazel'), argv: ['get'], input: bazelIn, expect: 'Basic', env: { CREDMUX_DAEMON: '0' } },
  { name: 'git credential-store get', cmd: 'git', argv: ['credential-store', '--file', gitStoreFile, 'get'], input: gitIn, expect: SECRET },
  { name: 'git credential-cache get', cmd: 'git', argv: ['credential-cache', '--socket', gitCacheSock, 'get'], input: gitIn, expect: SECRET },
];
for (const peer of pythonKeyrings()) {
  commands.push({ name: peer.name, cmd: peer.cmd, argv: ['get', `https://${HOST}/simple/`, 'alice'], expect: SECRET, env: peer.env, python: true });
}
for (const name of ['docker-credential-secretservice', 'docker-credential-pass']) {
  const path = which(name);
  if (path) commands.push({ name: `${name} version`, cmd: path, argv: ['version'] });
}

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

function runSet(label, env) {
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
    return { name: c.name, medianMs: +med.toFixed(2), ratioToFloor: +(med / floorMs).toFixed(3) };
  });
  console.log(`\n${label}  (${ROUNDS} interleaved rounds; ratio = median / floor median)`);
  console.log(`${'command'.padEnd(52)} ${'median ms'.padStart(10)} ${'× floor'.padStart(8)}`);
  for (const r of rows) console.log(`${r.name.padEnd(52)} ${r.medianMs.toFixed(1).padStart(10)} ${r.ratioToFloor.toFixed(2).padStart(8)}`);
  return { label, rows };
}

// ---- daemon throughput --------------------------------------------------------------------------------
async function daemonLoad() {
  const RULES = 10_000;
  // 10,000 stored entries, written as the file store's format by the store itself (one login) plus a bulk file.
  const storeFile = JSON.parse(sh(bin('credmux'), ['list', '--json'], '')).store.location;
  const entries = Array.from({ length: RULES }, (_, i) => ({
    url: `https://h${i}.load.example.com`,
    username: `u${i}`,
    kind: 'basic',
    secret: `s${i}`,
    updatedAt: new Date().toISOString(),
  }));
  const current = JSON.parse(readFileSync(storeFile, 'utf8'));
  writeFileSync(storeFile, JSON.stringify({ ...current, entries: [...current.entries, ...entries] }), { mode: 0o600 });
  stopDaemon();
  startDaemon();
  const status = JSON.parse(sh(bin('credmux'), ['daemon', 'status', '--json'], ''));
  const socket = status.socket;
  const pid = status.pid;

  const CONNS = 64;
  const latencies = [];
  let done = 0;
  let wrong = 0;
  const deadline = Date.now() + LOAD_SECONDS * 1000;
  const warmUntil = Date.now() + 1000;
  await Promise.all(
    Array.from({ length: CONNS }, (_, c) =>
      new Promise((resolve, reject) => {
        const sock = connect(socket);
        let buf = '';
        let id = 0;
        let sentAt = 0n;
        let expectUser = '';
        const send = () => {
          if (Date.now() > deadline) return sock.end(resolve);
          const i = (c * 7919 + id * 104729) % RULES;
          expectUser = `u${i}`;
          sentAt = process.hrtime.bigint();
          sock.write(`{"v":1,"id":${++id},"req":{"op":"get","url":"https://h${i}.load.example.com/simple/"}}\n`);
        };
        sock.setEncoding('utf8');
        sock.on('connect', send);
        sock.on('error', reject);
        sock.on('data', (d) => {
          buf += d;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const ms = Number(process.hrtime.bigint() - sentAt) / 1e6;
            const msg = JSON.parse(line);
            if (msg.res?.credential?.username !== expectUser) wrong++;
            if (Date.now() > warmUntil) {
              latencies.push(ms);
              done++;
            }
            send();
          }
        });
      }),
    ),
  );
  const measured = LOAD_SECONDS - 1;
  latencies.sort((a, b) => a - b);
  const p = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const result = {
    connections: CONNS,
    storedEntries: RULES + 1,
    lookupsPerSecond: Math.round(done / measured),
    p50Ms: +p(0.5).toFixed(3),
    p99Ms: +p(0.99).toFixed(3),
    wrongAnswers: wrong,
    rssMb: +(rssKb / 1024).toFixed(1),
  };
  console.log(`\nDaemon: ${CONNS} concurrent connections, ${RULES + 1} stored credentials, ${measured} s measured`);
  console.log(`  lookups/s ${result.lookupsPerSecond}   p50 ${result.p50Ms} ms   p99 ${result.p99Ms} ms   wrong answers ${wrong}   RSS ${result.rssMb} MB`);
  return result;
}

// ---- run ------------------------------------------------------------------------------------------
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}`;
console.log(`credmux bench — ${machine}`);
const sets = [];
const ONLY_DAEMON = args.includes('--daemon-only');
const extraCa = process.env.NODE_EXTRA_CA_CERTS;
if (extraCa && !ONLY_DAEMON) sets.push(runSet(`With NODE_EXTRA_CA_CERTS=${extraCa} (as this machine exports it)`, baseEnv({ NODE_EXTRA_CA_CERTS: extraCa })));
if (!ONLY_DAEMON) {
  const env = baseEnv();
  delete env.NODE_EXTRA_CA_CERTS;
  sets.push(runSet('Without NODE_EXTRA_CA_CERTS', env));
}
const load = await daemonLoad();
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ machine, rounds: ROUNDS, sets, daemon: load }, null, 2) + '\n');
