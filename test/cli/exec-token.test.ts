// `credmux token URL` and `credmux exec … -- CMD`, with real child processes: the child reports a
// hash of what it received (never the secret itself, so no test output can show one), its exit code
// and signal come back through credmux, and the terminal refusal is checked on a real pseudo-terminal
// (util-linux `script`).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

const SECRET = 'exec-canary-Zq81xY';
const TOKEN = 'tok-canary-7fRw2p';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A child that prints, for each variable named, its hash (or null), and whether any argv word holds it. */
const REPORT = `const names = process.argv.slice(1);
const out = {};
for (const n of names) { const v = process.env[n]; out[n] = v === undefined ? null : require('node:crypto').createHash('sha256').update(v).digest('hex'); }
out.argvHasValue = process.argv.some((a) => names.some((n) => process.env[n] && a.includes(process.env[n])));
console.log(JSON.stringify(out));`;

let sb: Sandbox;

beforeAll(async () => {
  sb = await createSandbox('exec');
  await sb.login('https://npm.example.test', 'alice', SECRET);
  await sb.credmux(['login', 'https://my-reg.example.test', '--token-stdin'], TOKEN);
  await mkdir(join(sb.home, '.config', 'credmux'), { recursive: true });
  await writeFile(
    join(sb.home, '.config', 'credmux', 'config.json'),
    JSON.stringify({
      rules: [
        { id: 'from-env', match: 'https://env.example.test', source: { type: 'env', var: 'EXEC_TEST_SOURCE' }, exports: { FROM_RULE: 'secret' } },
        { id: 'no-exports', match: 'https://plain.example.test', source: { type: 'env', var: 'EXEC_TEST_SOURCE' } },
      ],
    }),
  );
}, 60_000);
afterAll(async () => sb?.cleanup());

async function report(args: string[], names: string[], env: NodeJS.ProcessEnv = sb.env) {
  const r = await sb.run(sb.bin('credmux'), ['exec', ...args, '--', process.execPath, '-e', REPORT, ...names], { env });
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout) as Record<string, string | null | boolean>;
}

describe('credmux token', () => {
  it('prints the secret alone and a newline when stdout is a pipe', async () => {
    const r = await sb.run(sb.bin('credmux'), ['token', 'https://npm.example.test/pkg']);
    expect(r.code, show(r)).toBe(0);
    expect(sha(r.stdout)).toBe(sha(`${SECRET}\n`));
    expect(r.stderr).toBe('');
  });

  it('not found: exit 1, a message that says what to do, nothing on stdout', async () => {
    const r = await sb.run(sb.bin('credmux'), ['token', 'https://nothing.example.test']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('credmux login https://nothing.example.test');
  });

  it('refuses a real terminal (exit 2, no secret written), and prints there with --force-tty', async () => {
    const cmd = `${sb.bin('credmux')} token https://npm.example.test`;
    const refused = await sb.run('script', ['-qec', cmd, '/dev/null']);
    expect(refused.code, show(refused)).toBe(2);
    expect(refused.stdout).toContain('stdout is a terminal');
    expect(refused.stdout.includes(SECRET)).toBe(false);

    const forced = await sb.run('script', ['-qec', `${cmd} --force-tty`, '/dev/null']);
    expect(forced.code, show(forced)).toBe(0);
    expect(forced.stdout.split(/\r?\n/).some((l) => sha(l) === sha(SECRET))).toBe(true);
  });
});

describe('credmux exec', () => {
  it('--env sets the served secret in the child only: not in its argv, not in our output', async () => {
    const r = await sb.run(sb.bin('credmux'), [
      'exec',
      '--env',
      'MY_SECRET=https://npm.example.test',
      '--',
      process.execPath,
      '-e',
      REPORT,
      'MY_SECRET',
    ]);
    expect(r.code, show(r)).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out.MY_SECRET).toBe(sha(SECRET));
    expect(out.argvHasValue).toBe(false);
    expect(r.stderr.includes(SECRET)).toBe(false);
  });

  it('tool mappings: TF_TOKEN_<host>, NPM_TOKEN, CARGO_REGISTRIES_<NAME>_TOKEN, UV_INDEX_<NAME>_USERNAME/PASSWORD', async () => {
    const out = await report(
      [
        '--terraform',
        'my-reg.example.test',
        '--npm',
        'https://npm.example.test',
        '--cargo',
        'my-reg=https://my-reg.example.test',
        '--uv',
        'corp.idx=https://npm.example.test',
      ],
      ['TF_TOKEN_my__reg_example_test', 'NPM_TOKEN', 'CARGO_REGISTRIES_MY_REG_TOKEN', 'UV_INDEX_CORP_IDX_USERNAME', 'UV_INDEX_CORP_IDX_PASSWORD'],
    );
    expect(out).toEqual({
      TF_TOKEN_my__reg_example_test: sha(TOKEN),
      NPM_TOKEN: sha(SECRET),
      CARGO_REGISTRIES_MY_REG_TOKEN: sha(`Bearer ${TOKEN}`),
      UV_INDEX_CORP_IDX_USERNAME: sha('alice'),
      UV_INDEX_CORP_IDX_PASSWORD: sha(SECRET),
      argvHasValue: false,
    });
  });

  it("config rules: --rule sets that rule's exports; with no flag, every rule that has them", async () => {
    const env = { ...sb.env, EXEC_TEST_SOURCE: 'from-the-env-source' };
    expect(await report(['--rule', 'from-env'], ['FROM_RULE'], env)).toMatchObject({ FROM_RULE: sha('from-the-env-source') });
    expect(await report([], ['FROM_RULE'], env)).toMatchObject({ FROM_RULE: sha('from-the-env-source') });
    const r = await sb.run(sb.bin('credmux'), ['exec', '--rule', 'no-exports', '--', 'true'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"exports"');
  });

  it("passes stdin through and exits with the command's exit code", async () => {
    const r = await sb.run(
      sb.bin('credmux'),
      [
        'exec',
        '--npm',
        'https://npm.example.test',
        '--',
        process.execPath,
        '-e',
        'let d="";process.stdin.on("data",(c)=>d+=c).on("end",()=>{console.log(d.length);process.exit(7)})',
      ],
      { input: 'twelve bytes' },
    );
    expect(r.code, show(r)).toBe(7);
    expect(r.stdout.trim()).toBe('12');
  });

  it('a credential that cannot be served: exit 1 and the command never runs', async () => {
    const marker = join(sb.root, 'ran');
    const r = await sb.run(sb.bin('credmux'), ['exec', '--env', 'X=https://nothing.example.test', '--', 'touch', marker]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no credential is served');
    expect(existsSync(marker)).toBe(false);
  });

  it('bad mappings are refused before anything runs: a name set twice, a port in --terraform, no command', async () => {
    const twice = await sb.run(sb.bin('credmux'), [
      'exec',
      '--npm',
      'https://npm.example.test',
      '--env',
      'NPM_TOKEN=https://npm.example.test',
      '--',
      'true',
    ]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('NPM_TOKEN is set twice');
    const port = await sb.run(sb.bin('credmux'), ['exec', '--terraform', 'my-reg.example.test:8443', '--', 'true']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('cannot name a port');
    const noCmd = await sb.run(sb.bin('credmux'), ['exec', '--npm', 'https://npm.example.test']);
    expect(noCmd.code).toBe(2);
    expect(noCmd.stderr).toContain('after --');
  });

  it('a command that does not exist: 127, as a shell says', async () => {
    const r = await sb.run(sb.bin('credmux'), ['exec', '--npm', 'https://npm.example.test', '--', 'credmux-no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('command not found');
  });

  it('ends by the signal that ended the command, and passes SIGTERM sent to credmux on to it', async () => {
    const selfKill = await ended(['--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")']);
    expect(selfKill).toEqual({ code: null, signal: 'SIGKILL', stdout: '' });

    // The child says it is ready; then credmux (not the child) gets SIGTERM, and the child's handler sees it.
    const forwarded = await ended(
      [
        '--',
        process.execPath,
        '-e',
        'process.on("SIGTERM",()=>{console.log("got SIGTERM");process.exit(5)});console.log("ready");setInterval(()=>{},1000)',
      ],
      (p, out) => out.includes('ready') && p.kill('SIGTERM'),
    );
    expect(forwarded).toEqual({ code: 5, signal: null, stdout: 'ready\ngot SIGTERM\n' });
  });
});

/** Runs `credmux exec --npm … <args>` and reports how it ended; `onOutput` may act on the stdout so far. */
function ended(
  args: string[],
  onOutput?: (p: ReturnType<typeof spawn>, out: string) => unknown,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(sb.bin('credmux'), ['exec', '--npm', 'https://npm.example.test', ...args], { env: sb.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let acted = false;
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (onOutput && !acted) acted = !!onOutput(p, stdout);
    });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout });
    });
  });
}
