// command: a program (argv, no shell) that prints a token; time-bounded, killed with everything it
// started on timeout; the token's life from ttlSeconds or its JWT exp.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../src/model/rule.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { errorOf, harness } from './harness.js';

let srv: TokenServer;
beforeAll(async () => {
  srv = await startTokenServer();
});
afterAll(() => srv.close());

const REG = 'https://gar.test';
const NODE = process.execPath;

function rule(command: string[], extra: Record<string, unknown> = {}): RuleConfig {
  return { id: 'cmd', match: REG, username: 'oauth2accesstoken', source: { type: 'command', command, ...extra } } as RuleConfig;
}

/** A node one-liner as a command: absolute program path, script as an argument. */
function nodeCmd(script: string, ...args: string[]): string[] {
  return [NODE, '-e', script, ...args];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('command', () => {
  it('the trimmed stdout is the token; a JWT lives until its exp; ttlSeconds caps it', async () => {
    const jwt = await srv.oidcToken({ expSeconds: 3600 });
    const h = harness([rule(nodeCmd('console.log("  " + process.argv[1] + "  ")', jwt))]);
    const c = await h.token(`${REG}/v2/`);
    expect(c).toMatchObject({ kind: 'bearer', username: 'oauth2accesstoken', secret: jwt });
    expect(c.expiresAt).toBeGreaterThan(h.clock.nowS + 3500);
    const capped = harness([rule(nodeCmd('console.log(process.argv[1])', jwt), { ttlSeconds: 300 })]);
    expect((await capped.token(REG)).expiresAt).toBe(capped.clock.nowS + 300);
  });

  it('jsonField takes the token from JSON output (dotted path)', async () => {
    const h = harness([
      rule(nodeCmd('console.log(JSON.stringify({credential: {access_token: "ya29.tok"}}))'), {
        jsonField: 'credential.access_token',
        ttlSeconds: 60,
      }),
    ]);
    expect((await h.token(REG)).secret).toBe('ya29.tok');
  });

  it('runs without a shell: $VARS, globs and ; reach the program as plain text', async () => {
    const h = harness([rule(['echo', '$HOME;*'], { ttlSeconds: 60 })]);
    expect((await h.token(REG)).secret).toBe('$HOME;*');
  });

  it('passes the environment through, and is cached for its life (one run for many requests)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-cmd-'));
    const log = join(dir, 'runs');
    const h = harness(
      [rule(nodeCmd('require("fs").appendFileSync(process.env.RUNS, "x"); console.log(process.env.TOKEN_FROM_ENV)'), { ttlSeconds: 120 })],
      {
        env: { RUNS: log, TOKEN_FROM_ENV: 'tok-from-env' },
      },
    );
    for (let i = 0; i < 5; i++) expect((await h.token(REG)).secret).toBe('tok-from-env');
    expect(readFileSync(log, 'utf8')).toBe('x');
  });

  it('a token with no known expiry is not kept: the command runs for each request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-cmd-'));
    const log = join(dir, 'runs');
    const h = harness([rule(nodeCmd('require("fs").appendFileSync(process.env.RUNS, "x"); console.log("opaque")'))], { env: { RUNS: log } });
    await h.token(REG);
    await h.token(REG);
    expect(readFileSync(log, 'utf8')).toBe('xx');
  });

  it('times out: killed with everything it started, and the error says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-cmd-'));
    const pidFile = join(dir, 'child.pid');
    // A wrapper that starts a long-lived child (like a script calling a CLI) and waits.
    const script = `const c = require("child_process").spawn(process.execPath, ["-e", "setTimeout(()=>{}, 60000)"], {stdio: "ignore"}); require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setTimeout(()=>{}, 60000);`;
    const h = harness([rule(nodeCmd(script), { timeoutSeconds: 1 })]);
    const t0 = Date.now();
    const err = await errorOf(h, REG);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(err.message).toBe(
      `rule "cmd" (https://gar.test): command ${NODE} did not finish within 1 s and was killed; raise "timeoutSeconds" or fix the command`,
    );
    expect(existsSync(pidFile)).toBe(true);
    const child = Number(readFileSync(pidFile, 'utf8'));
    await expect.poll(() => isAlive(child), { timeout: 2_000 }).toBe(false);
  });

  it('a background child that keeps stdout open does not hold the answer (nor is it killed: it may be an agent)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-cmd-'));
    const pidFile = join(dir, 'bg.pid');
    const h = harness([rule(['sh', '-c', `echo tok-from-sh; sleep 30 & echo $! > ${pidFile}`], { ttlSeconds: 60 })]);
    const t0 = Date.now();
    expect((await h.token(REG)).secret).toBe('tok-from-sh');
    expect(Date.now() - t0).toBeLessThan(5_000);
    const bg = Number(readFileSync(pidFile, 'utf8'));
    expect(isAlive(bg)).toBe(true);
    process.kill(bg, 'SIGKILL');
  });

  it('a failing command: exit code and its first stderr line, with anything token-like cut out', async () => {
    const h = harness([
      rule(
        nodeCmd(
          'console.error("ERROR: token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig_abcdefghijklmnop expired; run gcloud auth login"); process.exit(3)',
        ),
      ),
    ]);
    const err = await errorOf(h, REG);
    expect(err.message).toBe(
      `rule "cmd" (https://gar.test): command ${NODE} exited with code 3: ERROR: token [redacted] expired; run gcloud auth login`,
    );
  });

  it('a missing program, a non-JWT where a JWT is expected, empty or multi-token output: clear errors', async () => {
    expect((await errorOf(harness([rule(['credmux-no-such-program-xyz'])]), REG)).message).toContain(
      'command not found: credmux-no-such-program-xyz',
    );
    expect((await errorOf(harness([rule(['echo', 'opaque'], { expect: 'jwt' })]), REG)).message).toContain(
      'printed a token, but the token is not a JWT',
    );
    expect((await errorOf(harness([rule(['true'])]), REG)).message).toContain('printed no token');
    expect((await errorOf(harness([rule(['echo', 'two tokens'])]), REG)).message).toContain('printed more than one token');
  });

  it('its stdout never reaches an error, even when it fails late', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credmux-cmd-'));
    const script = join(dir, 'tok.js');
    writeFileSync(script, 'console.log("secret-token-value-0123456789"); process.exit(1)');
    const err = await errorOf(harness([rule([NODE, script])]), REG);
    expect(err.message).not.toContain('secret-token-value');
  });
});
