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
