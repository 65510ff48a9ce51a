// Where a secret must never appear (docs/architecture.md "Invariants", 1): stderr, `list`, `get` without
// --show-secret, error messages, logs, files other than the store, and the argv or environment of any
// process — including the keychain helper (src/store/keychain-agent.ts) and the daemon credmux starts.
// Each test runs representative flows of the BUILT entries with one unique canary secret while a
// worker thread sweeps /proc/*/cmdline and /proc/*/environ every few milliseconds.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonStatus } from '../../src/client/daemon-control.js';
import type { Entry } from '../helpers/dist.js';
import { startSecretService, type SecretService } from '../store/secret-service.js';
import {
  builtBinDir,
  builtDistDir,
  daemonExecutable,
  disposeBuiltSnapshot,
  emptyHome,
  runBytes,
  secretPiece,
  show,
  sleep,
  type BytesResult,
  type Home,
} from './helpers.js';
import { startProcSampler, type SamplerReport } from './proc-sampler.js';

afterAll(() => disposeBuiltSnapshot());

/** The keychain helper's inline source names this API; no other process on the machine does. */
const KEYCHAIN_AGENT_MARKER = 'keyring.AsyncEntry';

interface Flow {
  name: string;
  entry: Entry;
  argv: string[];
  stdin?: string;
  /** The protocol's answer is the secret itself (git/docker/keyring get): allowed on stdout only. */
  answers?: boolean;
}

/** Runs flows in order; returns each result, failing the test with the flow's name on the first leak. */
async function runFlows(h: Home, secrets: string | string[], flows: Flow[]): Promise<Map<string, BytesResult>> {
  const results = new Map<string, BytesResult>();
  for (const f of flows) {
    const r = await runBytes(f.entry, f.argv, h.env, f.stdin === undefined ? undefined : Buffer.from(f.stdin));
    const label = `${f.name}: ${f.entry} ${f.argv.join(' ')}\n${show(r)}`;
    expect(r.signal, label).toBeNull();
    for (const secret of [secrets].flat()) {
      expect(secretPiece(r.stderr, secret), `${label}\nTHE SECRET (or a piece of it) IS ON STDERR`).toBeUndefined();
      if (!f.answers) expect(secretPiece(r.stdout, secret), `${label}\nTHE SECRET (or a piece of it) IS ON STDOUT`).toBeUndefined();
    }
    results.set(f.name, r);
  }
  return results;
}

/** Every file under `dir` that contains `secret`, except the ones a test expects to hold it. */
function filesContaining(dir: string, secret: string, allowed: (rel: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && secretPiece(readFileSync(p, 'latin1'), secret) !== undefined && !allowed(relative(dir, p))) out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/**
 * Canary 0 is the secret as credmux receives it (stdin, the store); canary 1 is a secret a caller
 * itself put on an entry's command line (a URL with a password): that is the caller's doing, so it
 * may appear in the argv of the entries this test starts, and nowhere else.
 */
function expectNoProcLeak(report: SamplerReport): void {
  expect(report.sweeps, 'the sampler swept /proc repeatedly').toBeGreaterThan(20);
  // A sweep every few ms on an idle machine; even on a loaded one the gap must stay well under the
  // ~100 ms an entry process lives, or short-lived processes could slip through unseen.
  expect(report.ms / report.sweeps, 'ms per sweep').toBeLessThan(50);
  // The entries this test starts: their launcher and the node process it becomes (never the daemon).
  const dist = builtDistDir();
  const started = (text: string) => text.includes(`${dist}/`) && !text.includes('credmux-daemon') && !text.includes(KEYCHAIN_AGENT_MARKER);
  const leaks = report.hits.filter((hit) => !(hit.canary === 1 && hit.where === 'cmdline' && started(hit.text)));
  expect(leaks, 'a process had the secret in its argv or environment').toEqual([]);
}

const storeFiles = (rel: string) => /^\.local\/share\/credmux\/credentials\.json(\.corrupt-.*)?$/.test(rel);

/** `S`: the secret credmux is given on stdin; `A`: a secret the caller puts in an argv URL. */
function protocolFlows(S: string, A: string): Flow[] {
  return [
    {
      name: 'login (password)',
      entry: 'credmux',
      argv: ['login', 'https://leak.example.com', '--username', 'alice', '--password-stdin'],
      stdin: `${S}\n`,
    },
    {
      name: 'login (token, wildcard)',
      entry: 'credmux',
      argv: ['login', '*.leaktok.example', '--token-stdin', '--username', 'x-access-token'],
      stdin: `${S}\n`,
    },
    {
      name: 'git store',
      entry: 'git-credential-credmux',
      argv: ['store'],
      stdin: `protocol=https\nhost=git.leak.example\nusername=bob\npassword=${S}\n\n`,
    },
    { name: 'git get', entry: 'git-credential-credmux', argv: ['get'], stdin: 'protocol=https\nhost=git.leak.example\n\n', answers: true },
    {
      name: 'git get (bearer, authtype)',
      entry: 'git-credential-credmux',
      argv: ['get'],
      stdin: 'capability[]=authtype\nprotocol=https\nhost=a.leaktok.example\n\n',
      answers: true,
    },
    {
      name: 'docker store',
      entry: 'docker-credential-credmux',
      argv: ['store'],
      stdin: JSON.stringify({ ServerURL: 'registry.leak.example:5000', Username: 'carol', Secret: S }),
    },
    { name: 'docker get', entry: 'docker-credential-credmux', argv: ['get'], stdin: 'registry.leak.example:5000', answers: true },
    { name: 'docker list', entry: 'docker-credential-credmux', argv: ['list'], stdin: 'unused' },
    { name: 'keyring set', entry: 'keyring', argv: ['set', 'https://pypi.leak.example/simple/', 'dave'], stdin: `${S}\n` },
    { name: 'keyring get', entry: 'keyring', argv: ['get', 'https://pypi.leak.example/simple/', 'dave'], answers: true },
    {
      name: 'keyring get (creds, json)',
      entry: 'keyring',
      argv: ['--mode', 'creds', '--output', 'json', 'get', 'https://pypi.leak.example/simple/'],
      answers: true,
    },
    // Bazel's answer is the Authorization header (base64 for Basic): never the raw secret on stdout.
    { name: 'bazel get (basic)', entry: 'credmux-bazel', argv: ['get'], stdin: '{"uri":"https://leak.example.com/x"}' },
    { name: 'list', entry: 'credmux', argv: ['list'] },
    { name: 'list --json', entry: 'credmux', argv: ['list', '--json'] },
    { name: 'get without --show-secret', entry: 'credmux', argv: ['get', 'https://leak.example.com'] },
    { name: 'get --json without --show-secret', entry: 'credmux', argv: ['get', 'https://leak.example.com', '--json'] },
    // Error paths with the secret in the input.
    {
      name: 'git store to a bad port',
      entry: 'git-credential-credmux',
      argv: ['store'],
      stdin: `protocol=https\nhost=git.leak.example:99999\nusername=bob\npassword=${S}\n\n`,
    },
    {
      name: 'git store with a CR-smuggled line',
      entry: 'git-credential-credmux',
      argv: ['store'],
      stdin: `protocol=https\nhost=git.leak.example\nusername=bob\npassword=${S}\rhost=x\n\n`,
    },
    {
      name: 'git url= with the secret as password, bad host',
      entry: 'git-credential-credmux',
      argv: ['get'],
      stdin: `url=https://bob:${S}@bad host.example/\n\n`,
    },
    {
      name: 'docker store, truncated JSON',
      entry: 'docker-credential-credmux',
      argv: ['store'],
      stdin: `{"ServerURL":"x.leak.example","Username":"u","Secret":"${S}`,
    },
    {
      name: 'docker store, secret in the server URL',
      entry: 'docker-credential-credmux',
      argv: ['store'],
      stdin: JSON.stringify({ ServerURL: `https://u:${S}@x.leak.example`, Username: 'u', Secret: 'x' }),
    },
    {
      name: 'docker store, duplicate key',
      entry: 'docker-credential-credmux',
      argv: ['store'],
      stdin: `{"ServerURL":"x.leak.example","Username":"u","Secret":"${S}","Secret":"${S}"}`,
    },
    { name: 'keyring set to a javascript: service', entry: 'keyring', argv: ['set', 'javascript:alert(1)', 'u'], stdin: `${S}\n` },
    { name: 'keyring del, secret in the service userinfo', entry: 'keyring', argv: ['del', `https://u:${A}@nothing.leak.example/`, 'u'] },
    {
      name: 'keyring set, empty stdin, secret in the service userinfo',
      entry: 'keyring',
      argv: ['set', `https://u:${A}@x.leak.example/`, 'u'],
      stdin: '',
    },
    { name: 'login to ftp://', entry: 'credmux', argv: ['login', 'ftp://x.leak.example', '--username', 'u', '--password-stdin'], stdin: `${S}\n` },
    {
      name: 'login with the secret in the URL, bad port',
      entry: 'credmux',
      argv: ['login', `https://u:${A}@x.leak.example:0`, '--username', 'u', '--password-stdin'],
      stdin: 'pw\n',
    },
    {
      name: 'login, secret on two lines',
      entry: 'credmux',
      argv: ['login', 'https://x.leak.example', '--username', 'u', '--password-stdin'],
      stdin: `${S}\n${S}\n`,
    },
    {
      name: 'bazel uri with the secret as password, bad port',
      entry: 'credmux-bazel',
      argv: ['get'],
      stdin: JSON.stringify({ uri: `https://u:${S}@leak.example.com:99999/` }),
    },
    { name: 'bazel, not JSON around the secret', entry: 'credmux-bazel', argv: ['get'], stdin: `{"uri": ${S}}` },
    // Erase at the end, with the secret as the filter.
    {
      name: 'git erase',
      entry: 'git-credential-credmux',
      argv: ['erase'],
      stdin: `protocol=https\nhost=git.leak.example\nusername=bob\npassword=${S}\n\n`,
    },
    { name: 'docker erase', entry: 'docker-credential-credmux', argv: ['erase'], stdin: 'registry.leak.example:5000' },
    { name: 'keyring del', entry: 'keyring', argv: ['del', 'https://pypi.leak.example/simple/', 'dave'] },
  ];
}

function checkAnswers(results: Map<string, BytesResult>, S: string): void {
  if (process.env.LEAK_DEBUG) for (const [k, r] of results) console.log(k, show(r));
  // The flows must really have worked, or "no leak" proves nothing.
  expect(results.get('git get')!.stdout).toBe(`username=bob\npassword=${S}\n`);
  expect(results.get('git get (bearer, authtype)')!.stdout).toBe(`capability[]=authtype\nauthtype=Bearer\ncredential=${S}\n`);
  expect(JSON.parse(results.get('docker get')!.stdout)).toEqual({ ServerURL: 'registry.leak.example:5000', Username: 'carol', Secret: S });
  expect(results.get('keyring get')!.stdout).toBe(`${S}\n`);
  expect(JSON.parse(results.get('bazel get (basic)')!.stdout).headers.Authorization).toEqual([
    `Basic ${Buffer.from(`alice:${S}`).toString('base64')}`,
  ]);
  expect(results.get('list')!.stdout).toContain('https://leak.example.com  alice');
  expect(results.get('get without --show-secret')!.stdout).toContain('******** (add --show-secret to print it)');
  for (const name of ['git erase', 'docker erase', 'keyring del']) expect(results.get(name)!.code, name).toBe(0);
  for (const name of [
    'git store to a bad port',
    'docker store, truncated JSON',
    'keyring set to a javascript: service',
    'login to ftp://',
    'bazel uri with the secret as password, bad port',
  ]) {
    const r = results.get(name)!;
    expect(r.stdout + r.stderr, `${name} said why`).not.toBe('');
  }
}

describe('no secret leaks: file store, helpers resolving in process', () => {
  it("login, every protocol's get/store/erase, list, get, and error paths with the secret in the input", async () => {
    const S = `${randomBytes(8).toString('hex')}-Leak-Canary`;
    const A = `${randomBytes(8).toString('hex')}-Argv-Canary`;
    const h = emptyHome('leak');
    builtBinDir();
    const sampler = startProcSampler(
      [S, A],
      ['git-credential-credmux', 'docker-credential-credmux', 'credmux-bazel'],
      [builtDistDir(), KEYCHAIN_AGENT_MARKER],
    );
    try {
      const results = await runFlows(h, [S, A], protocolFlows(S, A));
      checkAnswers(results, S);
      const report = await sampler.stop();
      expectNoProcLeak(report);
      // Proof the sampler really watched (a loaded machine may catch only some of the short-lived helpers).
      expect(report.seen['git-credential-credmux']!.length, 'the sampler saw the helpers run').toBeGreaterThan(0);
      expect(filesContaining(h.home, S, storeFiles), 'files other than the store holding the secret').toEqual([]);
      expect(filesContaining(h.home, A, () => false)).toEqual([]);
    } finally {
      await sampler.stop().catch(() => undefined);
      h.cleanup();
    }
  }, 60_000);

  it('a corrupted store and a broken config, both containing the secret, are reported without it', async () => {
    const S = `${randomBytes(8).toString('hex')}-Leak-Canary`;
    const h = emptyHome('leak-bad');
    try {
      mkdirSync(h.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(h.storeFile, `{"version":1,"entries":[{"url":"https://leak.example.com","username":"u","kind":"basic","secret":"${S}"}`, {
        mode: 0o600,
      });
      const probes: Flow[] = [
        { name: 'git get', entry: 'git-credential-credmux', argv: ['get'], stdin: 'protocol=https\nhost=leak.example.com\n\n' },
        { name: 'docker get', entry: 'docker-credential-credmux', argv: ['get'], stdin: 'leak.example.com' },
        { name: 'bazel get', entry: 'credmux-bazel', argv: ['get'], stdin: '{"uri":"https://leak.example.com/"}' },
        { name: 'keyring get', entry: 'keyring', argv: ['get', 'https://leak.example.com/', 'u'] },
        { name: 'list', entry: 'credmux', argv: ['list'] },
        { name: 'get', entry: 'credmux', argv: ['get', 'https://leak.example.com'] },
      ];
      for (const r of (await runFlows(h, S, probes)).values()) expect(r.stdout + r.stderr).toMatch(/corrupted/);

      // The store is fine again; now the config holds the secret, in three broken ways.
      writeFileSync(h.storeFile, '{"version":1,"entries":[]}\n', { mode: 0o600 });
      mkdirSync(join(h.configFile, '..'), { recursive: true });
      for (const config of [
        `{"rules": [{"match": "https://leak.example.com", "token": Z${S}}]}`, // a syntax error right at the secret (V8 quotes ~10 chars of it)
        JSON.stringify({ rules: [{ match: 'https://leak.example.com', password: S, source: { type: 'netrc' } }] }),
        JSON.stringify({ rules: [{ match: `https://u:${S}@leak.example.com`, source: { type: 'netrc' } }] }),
        JSON.stringify({ rules: [{ match: 'https://leak.example.com', source: { type: 'env', var: S } }] }),
      ]) {
        writeFileSync(h.configFile, config);
        for (const r of (await runFlows(h, S, probes)).values()) expect(r.stdout + r.stderr, config).toMatch(/config\.json/);
      }
      expect(filesContaining(h.home, S, (rel) => storeFiles(rel) || rel === '.config/credmux/config.json')).toEqual([]);
    } finally {
      h.cleanup();
    }
  }, 60_000);
});

describe('no secret leaks: through the daemon, and through the OS keychain', () => {
  let ss: SecretService;
  beforeAll(async () => {
    ss = await startSecretService();
  }, 30_000);
  afterAll(async () => {
    await ss?.stop();
  });

  /** Every flow of protocolFlows through the helpers, which start the daemon; checks proc, logs, files. */
  async function daemonRun(store: 'file' | 'keychain'): Promise<void> {
    const S = `${randomBytes(8).toString('hex')}-Leak-Canary`;
    const A = `${randomBytes(8).toString('hex')}-Argv-Canary`;
    const h = emptyHome(`leak-d-${store}`, {
      CREDMUX_STORE: store,
      CREDMUX_IDLE_TIMEOUT: '60',
      DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS!,
    });
    delete h.env.CREDMUX_DAEMON; // helpers spawn the daemon next to them
    const daemonBin = daemonExecutable().path;
    const sampler = startProcSampler([S, A], [daemonBin, KEYCHAIN_AGENT_MARKER], [builtDistDir(), KEYCHAIN_AGENT_MARKER]);
    let daemonPid: number | undefined;
    try {
      // A store and a get first: a store that cannot serve at all fails here, fast.
      const first = await runFlows(
        h,
        [S, A],
        protocolFlows(S, A).filter((f) => f.name === 'git store' || f.name === 'git get'),
      );
      expect(first.get('git get')!.stdout, show(first.get('git store')!)).toBe(`username=bob\npassword=${S}\n`);
      const results = await runFlows(h, [S, A], protocolFlows(S, A));
      checkAnswers(results, S);
      const status = await daemonStatus(h.env);
      expect(status.running, JSON.stringify(status)).toBe(true);
      if (status.running) daemonPid = status.pid;
      expect(JSON.stringify(status)).not.toContain(S);
      expect(JSON.stringify(status)).not.toContain(A);
      // The daemon served the protocol requests (the CLI and refused ones resolve in process).
      if (status.running) expect(status.requests.total).toBeGreaterThan(10);
      // The daemon's own environment and argv, read directly as well.
      if (daemonPid) {
        for (const x of [S, A]) {
          expect(readFileSync(`/proc/${daemonPid}/environ`).includes(x)).toBe(false);
          expect(readFileSync(`/proc/${daemonPid}/cmdline`).includes(x)).toBe(false);
        }
      }
      await sleep(50);
      const report = await sampler.stop();
      expectNoProcLeak(report);
      expect(report.seen[daemonBin]!.length, 'the sampler saw the daemon').toBeGreaterThan(0);
      if (store === 'keychain') expect(report.seen[KEYCHAIN_AGENT_MARKER]!.length, 'the sampler saw the keychain helper').toBeGreaterThan(0);
      const log = join(h.stateDir, 'daemon.log');
      expect(existsSync(log), 'the daemon logs under $XDG_STATE_HOME/credmux').toBe(true);
      expect(readFileSync(log, 'utf8')).toMatch(/request failed/); // the error paths were logged…
      for (const x of [S, A])
        expect(
          filesContaining(h.stateDir, x, () => false),
          '…without the secret',
        ).toEqual([]);
      expect(filesContaining(h.home, S, storeFiles)).toEqual([]);
      expect(filesContaining(h.home, A, () => false)).toEqual([]);
    } finally {
      await sampler.stop().catch(() => undefined);
      if (daemonPid) process.kill(daemonPid, 'SIGKILL');
      if (store === 'keychain') ss.secretTool(['clear', 'service', 'credmux']);
      h.cleanup();
    }
  }

  it('file store, daemon started by the helpers: no secret in any argv, environment, log, status or stderr', () => daemonRun('file'), 60_000);

  it('keychain store through the CLI: the keychain helper process never holds the secret in argv or environment', async () => {
    await ss.ensureUp();
    const S = `${randomBytes(8).toString('hex')}-Leak-Canary`;
    const h = emptyHome('leak-kc', { CREDMUX_STORE: 'keychain', DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS! });
    const sampler = startProcSampler([S], [KEYCHAIN_AGENT_MARKER], [builtDistDir(), KEYCHAIN_AGENT_MARKER]);
    try {
      const flows: Flow[] = [
        {
          name: 'login (password)',
          entry: 'credmux',
          argv: ['login', 'https://leak.example.com', '--username', 'alice', '--password-stdin'],
          stdin: `${S}\n`,
        },
        { name: 'login (token)', entry: 'credmux', argv: ['login', '*.leaktok.example', '--token-stdin'], stdin: `${S}\n` },
        { name: 'list', entry: 'credmux', argv: ['list'] },
        { name: 'list --json', entry: 'credmux', argv: ['list', '--json'] },
        { name: 'get', entry: 'credmux', argv: ['get', 'https://leak.example.com/x'] },
        { name: 'get --json', entry: 'credmux', argv: ['get', 'https://a.leaktok.example', '--json'] },
        { name: 'get --show-secret', entry: 'credmux', argv: ['get', 'https://leak.example.com/x', '--show-secret'], answers: true },
        {
          name: 'login to ftp://',
          entry: 'credmux',
          argv: ['login', 'ftp://x.leak.example', '--username', 'u', '--password-stdin'],
          stdin: `${S}\n`,
        },
        { name: 'logout', entry: 'credmux', argv: ['logout', 'https://leak.example.com'] },
      ];
      const results = await runFlows(h, S, flows);
      expect(results.get('list')!.stdout).toContain('https://leak.example.com  alice');
      expect(results.get('get --show-secret')!.stdout).toContain(`secret:   ${S}`);
      expect(results.get('logout')!.code).toBe(0);
      const found = ss.secretTool(['search', '--all', 'service', 'credmux']);
      expect(found.stdout + found.stderr, 'the token went to the Secret Service').toContain('__token__@https://*.leaktok.example');
      const report = await sampler.stop();
      expectNoProcLeak(report);
      expect(report.seen[KEYCHAIN_AGENT_MARKER]!.length, 'the sampler saw the keychain helper').toBeGreaterThan(0);
      expect(existsSync(h.storeFile), 'no credentials file: the secrets are in the keychain').toBe(false);
      expect(filesContaining(h.home, S, () => false)).toEqual([]);
    } finally {
      await sampler.stop().catch(() => undefined);
      ss.secretTool(['clear', 'service', 'credmux']);
      h.cleanup();
    }
  }, 60_000);

  it('keychain store through the helpers and the daemon', async () => {
    await ss.ensureUp();
    await daemonRun('keychain');
  }, 60_000);
});

describe('URLs with a password in CLI messages', () => {
  const S = `${randomBytes(8).toString('hex')}-Leak-Canary`;
  for (const argv of [
    ['get', `https://alice:${S}@nothing.leak.example`],
    ['logout', `https://alice:${S}@nothing.leak.example`],
    ['get', `https://alice:${S}@nothing.leak.example`, '--json'],
  ]) {
    it(`credmux ${argv[0]}${argv[2] ? ` ${argv[2]}` : ''} never echoes the URL's password`, async () => {
      const h = emptyHome('leak-cli');
      try {
        await runFlows(h, S, [{ name: argv.join(' '), entry: 'credmux', argv }]);
      } finally {
        h.cleanup();
      }
    });
  }
});
