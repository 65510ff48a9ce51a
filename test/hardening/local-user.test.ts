// What another local account can plant (issue 15): a daemon directory with its own listener in a
// shared XDG_RUNTIME_DIR (class 1), a log directory whose daemon.log is a link to a file of ours
// (class 2), a config file or directory it owns or can write (class 3). As root (CI) the attacker is
// a real second account, made with useradd and run with runuser; without root, the parts one uid can
// stage run instead (modes and links), and the ownership half is said to be missing, never skipped.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttacker, IS_ROOT, sharedDir, warnSingleUid, type Attacker } from '../helpers/second-user.js';
import { disposeBuiltSnapshot, emptyHome, runBytes, show, type Home } from './helpers.js';

let attacker: Attacker | undefined;
beforeAll(async () => {
  if (IS_ROOT) attacker = await createAttacker();
  else warnSingleUid('the local-user attacks of test/hardening/local-user.test.ts');
}, 60_000);
afterAll(async () => {
  await attacker?.remove();
  disposeBuiltSnapshot();
});

/** The victim's own file that a planted link points at: its bytes and mode must never change. */
function victimFile(h: Home): { path: string; unchanged(): void } {
  const path = join(h.home, '.bashrc');
  writeFileSync(path, 'export PS1=original\n', { mode: 0o644 });
  chmodSync(path, 0o644);
  return {
    path,
    unchanged() {
      expect(readFileSync(path, 'utf8')).toBe('export PS1=original\n');
      expect(statSync(path).mode & 0o777).toBe(0o644);
    },
  };
}

/** `credmux daemon start` then `stop`, as the victim, with the daemon log placed by `stateHome`. */
async function daemonStartStop(h: Home, stateHome: string): Promise<void> {
  const env = { ...h.env, XDG_STATE_HOME: stateHome };
  delete (env as Record<string, string | undefined>).CREDMUX_DAEMON;
  const started = await runBytes('credmux', ['daemon', 'start'], env);
  expect(started.code, show(started)).toBe(0);
  const stopped = await runBytes('credmux', ['daemon', 'stop'], env);
  expect(stopped.code, show(stopped)).toBe(0);
}

// ---------------------------------------------------------------------------------------------
// Class 2: the daemon log

describe('the daemon log cannot be turned against a file of ours', () => {
  it('a daemon.log planted as a link (in a directory of ours) is not followed: the target keeps its bytes and mode', async () => {
    const h = emptyHome('log-link');
    try {
      const target = victimFile(h);
      const logDir = join(h.home, '.local', 'state', 'credmux');
      mkdirSync(logDir, { recursive: true, mode: 0o700 });
      symlinkSync(target.path, join(logDir, 'daemon.log'));
      await daemonStartStop(h, join(h.home, '.local', 'state'));
      target.unchanged();
    } finally {
      h.cleanup();
    }
  });

  it('a log directory group or others can write is not written to', async () => {
    const h = emptyHome('log-open');
    try {
      const logDir = join(h.home, '.local', 'state', 'credmux');
      mkdirSync(logDir, { recursive: true });
      chmodSync(logDir, 0o777);
      await daemonStartStop(h, join(h.home, '.local', 'state'));
      expect(existsSync(join(logDir, 'daemon.log'))).toBe(false);
    } finally {
      h.cleanup();
    }
  });

  it('another account plants credmux/daemon.log -> a file of ours in a shared XDG_STATE_HOME: the file keeps its bytes and mode, nothing is logged there', async () => {
    if (!attacker) return warnSingleUid('"another account plants credmux/daemon.log" (its single-uid halves are the two cases above)');
    const h = emptyHome('log-attack');
    const shared = sharedDir();
    try {
      const target = victimFile(h);
      const planted = await attacker.run(
        `const fs = require('fs'); const [dir, target] = process.argv.slice(1);
         fs.mkdirSync(dir, { mode: 0o700 }); fs.symlinkSync(target, dir + '/daemon.log');`,
        [join(shared.path, 'credmux'), target.path],
      );
      expect(planted.code, planted.stderr).toBe(0);
      expect(statSync(join(shared.path, 'credmux')).uid).toBe(attacker.uid);
      await daemonStartStop(h, shared.path);
      target.unchanged();
    } finally {
      shared.cleanup();
      h.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Class 3: a config another user owns or can write

/** A config whose `command` rule would run as the victim and leave `marker` behind. */
function plantedConfig(marker: string): string {
  return JSON.stringify({
    rules: [
      {
        id: 'planted',
        match: 'https://victim.example.com',
        source: { type: 'command', command: ['/bin/sh', '-c', `echo ran > ${marker}; echo planted-token`] },
      },
    ],
  });
}

/** Every entry, as a user's tools run them, against the config at `env`'s XDG_CONFIG_HOME: each must refuse in its own shape and run nothing. */
async function expectConfigRefused(env: Record<string, string>, marker: string, why: RegExp): Promise<void> {
  const runs: Array<[string, Parameters<typeof runBytes>[0], string[], string | undefined, number, 'stdout' | 'stderr']> = [
    ['credmux list', 'credmux', ['list'], undefined, 3, 'stderr'],
    ['credmux-bazel get', 'credmux-bazel', ['get'], '{"uri":"https://victim.example.com/x"}', 1, 'stderr'],
    ['git get', 'git-credential-credmux', ['get'], 'protocol=https\nhost=victim.example.com\n\n', 1, 'stderr'],
    ['docker get', 'docker-credential-credmux', ['get'], 'victim.example.com', 1, 'stdout'],
    ['keyring get', 'keyring', ['get', 'https://victim.example.com/', 'u'], undefined, 1, 'stderr'],
  ];
  for (const [name, entry, argv, stdin, code, stream] of runs) {
    const r = await runBytes(entry, argv, env, stdin === undefined ? undefined : Buffer.from(stdin));
    expect(r.code, `${name}: ${show(r)}`).toBe(code);
    expect(r[stream], `${name}: ${show(r)}`).toMatch(why);
    expect(r.stdout + r.stderr, name).not.toContain('planted-token');
  }
  expect(existsSync(marker), 'the planted command ran as the victim').toBe(false);
}

describe('a config another user could have written is refused, and nothing it names runs', () => {
  it('a config file writable by group or others: exit 3 (and each protocol its shape), the path, and the chmod fix', async () => {
    const h = emptyHome('cfg-mode');
    try {
      const marker = join(h.root, 'ran');
      mkdirSync(join(h.configFile, '..'), { recursive: true });
      writeFileSync(h.configFile, plantedConfig(marker));
      chmodSync(h.configFile, 0o666);
      await expectConfigRefused(
        h.env,
        marker,
        new RegExp(`${h.configFile} is writable by group or others \\(mode 0666\\).*Fix: chmod go-w ${h.configFile}`),
      );
    } finally {
      h.cleanup();
    }
  });

  it('a config directory writable by others (where anyone could swap the file): refused with the chmod fix', async () => {
    const h = emptyHome('cfg-dir');
    try {
      const marker = join(h.root, 'ran');
      const dir = join(h.configFile, '..');
      mkdirSync(dir, { recursive: true });
      writeFileSync(h.configFile, plantedConfig(marker));
      chmodSync(dir, 0o777);
      await expectConfigRefused(
        h.env,
        marker,
        new RegExp(`the directory ${dir} holding ${h.configFile} is writable by group or others \\(mode 0777\\).*Fix: chmod go-w ${dir}`),
      );
    } finally {
      h.cleanup();
    }
  });

  it('another account plants credmux/config.json in a shared XDG_CONFIG_HOME: refused naming its owner and the chown fix; its command never runs', async () => {
    if (!attacker) return warnSingleUid('"another account plants credmux/config.json" (its single-uid halves are the two cases above)');
    const h = emptyHome('cfg-attack');
    const shared = sharedDir();
    try {
      const marker = join(shared.path, 'ran');
      const file = join(shared.path, 'credmux', 'config.json');
      // The attacker's own directory, 0755 and its file 0644: nothing is open to others but the owner is wrong.
      const planted = await attacker.run(
        `const fs = require('fs'); const [dir, text] = process.argv.slice(1);
         fs.mkdirSync(dir, { mode: 0o755 }); fs.writeFileSync(dir + '/config.json', text, { mode: 0o644 });`,
        [join(shared.path, 'credmux'), plantedConfig(marker)],
      );
      expect(planted.code, planted.stderr).toBe(0);
      expect(statSync(file).uid).toBe(attacker.uid);
      const env = { ...h.env, XDG_CONFIG_HOME: shared.path };
      await expectConfigRefused(
        env,
        marker,
        new RegExp(`${file} belongs to uid ${attacker.uid}, not to you \\(uid 0\\) or root.*Fix: chown 0 ${file}`),
      );
      // …and with the attacker's file moved into a directory of the victim's, still refused by its owner.
      const mine = join(h.home, '.config', 'credmux');
      mkdirSync(mine, { recursive: true });
      const copied = await attacker.run(`require('fs').copyFileSync(process.argv[1], process.argv[2])`, [file, join(shared.path, 'copy.json')]);
      expect(copied.code, copied.stderr).toBe(0);
      await expectConfigRefused({ ...h.env, CREDMUX_CONFIG: join(shared.path, 'copy.json') }, marker, /belongs to uid \d+, not to you/);
    } finally {
      shared.cleanup();
      h.cleanup();
    }
  });

  it('a config owned by root, not writable by others, is obeyed (as ssh accepts root-owned files)', async () => {
    const h = emptyHome('cfg-root');
    try {
      mkdirSync(join(h.configFile, '..'), { recursive: true });
      writeFileSync(
        h.configFile,
        JSON.stringify({ rules: [{ id: 'env', match: 'https://victim.example.com', source: { type: 'env', var: 'CORP_TOKEN' } }] }),
      );
      if (IS_ROOT) expect(statSync(h.configFile).uid).toBe(0);
      const r = await runBytes('credmux-bazel', ['get'], h.env, Buffer.from('{"uri":"https://victim.example.com/x"}'));
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain('Bearer');
    } finally {
      h.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Class 1: a daemon directory someone else planted

/**
 * The attacker's daemon: creates `dir` (mode as given), publishes env-names.json naming the victim's
 * CORP_TOKEN, listens on daemon.sock (open to all), records every connection and byte into
 * `dir/received`, and answers every request line with a planted credential.
 */
const FAKE_DAEMON = String.raw`
const fs = require('fs'), net = require('net');
const [dir, mode] = process.argv.slice(1);
fs.mkdirSync(dir, { recursive: true });
fs.chmodSync(dir, parseInt(mode, 8));
fs.writeFileSync(dir + '/env-names.json', JSON.stringify(['CORP_TOKEN', 'HOME']));
const log = dir + '/received';
fs.writeFileSync(log, '');
fs.chmodSync(log, 0o644);
const srv = net.createServer((c) => {
  fs.appendFileSync(log, 'CONNECT\n');
  c.on('error', () => {});
  c.on('data', (d) => {
    fs.appendFileSync(log, d);
    for (const line of d.toString().split('\n')) {
      if (!line) continue;
      let id = null;
      try { id = JSON.parse(line).id; } catch {}
      c.write(JSON.stringify({ v: 1, id, res: { op: 'get', credential: { kind: 'basic', username: 'planted', secret: 'PLANTED-Answer-666' } } }) + '\n');
    }
  });
});
srv.listen(dir + '/daemon.sock', () => { fs.chmodSync(dir + '/daemon.sock', 0o777); console.log('ready'); });
process.stdin.resume();
process.stdin.on('end', () => { srv.close(); process.exit(0); });
`;

const STORE_SECRET = 'Git-Store-S3cret-x9';

/**
 * What the victim's helpers do against a planted daemon directory: store through git, Docker and
 * keyring, then get through all four protocols. Every answer must come from the victim's own store,
 * nothing may reach the planted socket, and the reason is said once across all of them.
 */
async function victimRuns(h: Home, runtimeDir: string, received: string, expectedProblem: RegExp): Promise<void> {
  const env: Record<string, string> = { ...h.env, XDG_RUNTIME_DIR: runtimeDir };
  delete env.CREDMUX_DAEMON;
  const runs: Array<[string, Parameters<typeof runBytes>[0], string[], string | undefined]> = [
    ['git store', 'git-credential-credmux', ['store'], `protocol=https\nhost=victim.example.com\nusername=alice\npassword=${STORE_SECRET}\n\n`],
    [
      'docker store',
      'docker-credential-credmux',
      ['store'],
      JSON.stringify({ ServerURL: 'registry.victim.example.com', Username: 'bob', Secret: `${STORE_SECRET}-docker` }),
    ],
    ['keyring set', 'keyring', ['set', 'https://pypi.victim.example.com/simple/', 'carol'], `${STORE_SECRET}-keyring\n`],
    ['git get', 'git-credential-credmux', ['get'], 'protocol=https\nhost=victim.example.com\n\n'],
    ['docker get', 'docker-credential-credmux', ['get'], 'registry.victim.example.com'],
    ['keyring get', 'keyring', ['get', 'https://pypi.victim.example.com/simple/', 'carol'], undefined],
    ['bazel get (env rule: CORP_TOKEN)', 'credmux-bazel', ['get'], '{"uri":"https://build.corp.example/x"}'],
  ];
  mkdirSync(join(h.configFile, '..'), { recursive: true });
  writeFileSync(h.configFile, JSON.stringify({ rules: [{ id: 'corp', match: '*.corp.example', source: { type: 'env', var: 'CORP_TOKEN' } }] }));
  let notices = 0;
  const out: Record<string, string> = {};
  for (const [name, entry, argv, stdin] of runs) {
    const r = await runBytes(entry, argv, env, stdin === undefined ? undefined : Buffer.from(stdin));
    expect(r.code, `${name}: ${show(r)}`).toBe(0);
    const said = r.stderr.split('\n').filter((l) => l.startsWith('credmux: not using the daemon: '));
    for (const line of said) expect(line).toMatch(expectedProblem);
    notices += said.length;
    expect(r.stderr.replace(/^credmux: not using the daemon: .*\n/m, ''), `${name}: nothing else on stderr`).toBe('');
    expect(r.stdout, name).not.toContain('PLANTED');
    out[name] = r.stdout;
  }
  // The answers are the victim's own, from its own store and environment.
  expect(out['git get']).toBe(`username=alice\npassword=${STORE_SECRET}\n`);
  expect(JSON.parse(out['docker get']!)).toMatchObject({ Username: 'bob', Secret: `${STORE_SECRET}-docker` });
  expect(out['keyring get']).toBe(`${STORE_SECRET}-keyring\n`);
  expect(out['bazel get (env rule: CORP_TOKEN)']).toContain('Bearer Corp-Env-T0ken-42abX');
  // Said once across seven processes, not once each (a git fetch alone runs two or three).
  expect(notices).toBe(1);
  // Nothing ever reached the planted socket: not a connection, not a byte.
  expect(readFileSync(received, 'utf8')).toBe('');
  // And the victim's `credmux daemon status` says why, every time.
  const status = await runBytes('credmux', ['daemon', 'status'], env);
  expect(status.stdout + status.stderr).toMatch(expectedProblem);
}

/** A victim home and a shared directory; `plant` starts a fake daemon there, `check` runs the victim; all undone after. */
async function withPlanted(
  name: string,
  plant: (shared: string) => Promise<{ stop(): Promise<void> }>,
  check: (h: Home, shared: string) => Promise<void>,
): Promise<void> {
  const h = emptyHome(name);
  const shared = sharedDir();
  let fake: { stop(): Promise<void> } | undefined;
  try {
    fake = await plant(shared.path);
    await check(h, shared.path);
  } finally {
    await fake?.stop();
    shared.cleanup();
    h.cleanup();
  }
}

describe('a daemon directory another user planted is never connected to nor read', () => {
  it('credmux/ open to others (0777) with a listener and env-names.json: refused with the chmod fix, answered in process', () =>
    withPlanted(
      'sock-mode',
      (shared) => startLocal(FAKE_DAEMON, [join(shared, 'credmux'), '777']),
      (h, shared) =>
        victimRuns(
          h,
          shared,
          join(shared, 'credmux', 'received'),
          new RegExp(`${join(shared, 'credmux')} is accessible to group or others \\(mode 0777\\); run: chmod 700`),
        ),
    ));

  it('credmux/ as a link to a directory with a listener: refused', () =>
    withPlanted(
      'sock-link',
      async (shared) => {
        const fake = await startLocal(FAKE_DAEMON, [join(shared, 'elsewhere'), '700']);
        symlinkSync(join(shared, 'elsewhere'), join(shared, 'credmux'));
        return fake;
      },
      (h, shared) => victimRuns(h, shared, join(shared, 'elsewhere', 'received'), /is a symbolic link/),
    ));

  it('another account pre-creates credmux/ (0700, its own) in a shared XDG_RUNTIME_DIR and listens: never connected to, nothing sent, all four protocols answered from our store', async () => {
    if (!attacker)
      return warnSingleUid(
        '"another account pre-creates credmux/" (its single-uid halves are the two cases above, and test/daemon/trust.test.ts checks ownership with a spoofed caller uid)',
      );
    const account = attacker;
    await withPlanted(
      'sock-attack',
      (shared) => account.start(FAKE_DAEMON, [join(shared, 'credmux'), '700']),
      async (h, shared) => {
        expect(statSync(join(shared, 'credmux')).uid).toBe(account.uid);
        await victimRuns(
          h,
          shared,
          join(shared, 'credmux', 'received'),
          new RegExp(`${join(shared, 'credmux')} belongs to uid ${account.uid}, not to you \\(uid 0\\)`),
        );
      },
    );
  });

  it("the caller's XDG_RUNTIME_DIR kept across su (another account owns it): refused by its owner", async () => {
    if (!attacker) return warnSingleUid('"XDG_RUNTIME_DIR kept across su"');
    const account = attacker;
    await withPlanted(
      'sock-su',
      async (shared) => {
        const made = await account.run(`require('fs').mkdirSync(process.argv[1], { mode: 0o700 })`, [join(shared, 'run-user')]);
        expect(made.code, made.stderr).toBe(0);
        return account.start(FAKE_DAEMON, [join(shared, 'run-user', 'credmux'), '700']);
      },
      (h, shared) =>
        victimRuns(
          h,
          join(shared, 'run-user'),
          join(shared, 'run-user', 'credmux', 'received'),
          new RegExp(`${join(shared, 'run-user')} belongs to uid ${account.uid}, who could replace`),
        ),
    );
  });
});

/** The same fake daemon run as this uid (the single-uid variants): stops when stdin closes. */
async function startLocal(script: string, args: string[]): Promise<{ stop(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const p = spawn(process.execPath, ['-e', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/^ready$/m.test(out)) resolve();
    });
    p.on('exit', (code) => reject(new Error(`the fake daemon exited ${code} before it was ready`)));
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        p.once('exit', () => resolve());
        p.stdin!.end();
      }),
  };
}
