// What another local account can plant (issue 15): a daemon directory with its own listener in a
// shared XDG_RUNTIME_DIR (class 1), a log directory whose daemon.log is a link to a file of ours
// (class 2), a config file or directory it owns or can write (class 3). As root (CI) the attacker is
// a real second account, made with useradd and run with runuser; without root, the parts one uid can
// stage run instead (modes and links), and the ownership half is said to be missing, never skipped.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
      const { symlinkSync } = await import('node:fs');
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
  return JSON.stringify({ rules: [{ id: 'planted', match: 'https://victim.example.com', source: { type: 'command', command: ['/bin/sh', '-c', `echo ran > ${marker}; echo planted-token`] } }] });
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
      await expectConfigRefused(h.env, marker, new RegExp(`${h.configFile} is writable by group or others \\(mode 0666\\).*Fix: chmod go-w ${h.configFile}`));
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
      await expectConfigRefused(h.env, marker, new RegExp(`the directory ${dir} holding ${h.configFile} is writable by group or others \\(mode 0777\\).*Fix: chmod go-w ${dir}`));
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
      await expectConfigRefused(env, marker, new RegExp(`${file} belongs to uid ${attacker.uid}, not to you \\(uid 0\\) or root.*Fix: chown 0 ${file}`));
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
      writeFileSync(h.configFile, JSON.stringify({ rules: [{ id: 'env', match: 'https://victim.example.com', source: { type: 'env', var: 'CORP_TOKEN' } }] }));
      if (IS_ROOT) expect(statSync(h.configFile).uid).toBe(0);
      const r = await runBytes('credmux-bazel', ['get'], h.env, Buffer.from('{"uri":"https://victim.example.com/x"}'));
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toContain('Bearer');
    } finally {
      h.cleanup();
    }
  });
});
