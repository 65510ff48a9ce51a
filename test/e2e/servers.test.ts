// The test servers themselves, without credmux: each one must refuse anonymous and wrong
// credentials, accept the right ones, and log who it let in — otherwise the credmux tests built on
// them could pass for the wrong reason. Also: servers never outlive their test process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { livePidsMentioning, sleep } from '../../scripts/servers/process.js';
import { REPO_ROOT, requireTools } from '../helpers/dist.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startGitServer, startPypiIndex, startRegistry, type GitServer, type PypiIndex, type RegistryServer } from '../helpers/servers.js';

const USER = 'alice';
const PASSWORD = 'pw-servers-Z9';

let sb: Sandbox;
let gitSrv: GitServer;
let registry: RegistryServer;
let pypi: PypiIndex;

beforeAll(async () => {
  // Only the servers are under test here: no credmux build needed.
  requireTools(['git', 'nginx', 'fcgiwrap', 'htpasswd', 'docker-registry', 'skopeo']);
  sb = await createSandbox('servers');
  [gitSrv, registry, pypi] = await Promise.all([
    startGitServer({ user: USER, password: PASSWORD }),
    startRegistry({ user: USER, password: PASSWORD }),
    startPypiIndex({ user: USER, password: PASSWORD }),
  ]);
});

afterAll(async () => {
  await Promise.all([gitSrv?.stop(), registry?.stop(), pypi?.stop()]);
  await sb?.cleanup();
});

const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
const git = (args: string[], cwd?: string) => sb.run('git', ['-c', 'credential.helper=', ...args], cwd === undefined ? {} : { cwd });

describe('git server (nginx + fcgiwrap + git http-backend)', () => {
  it('refuses anonymous and wrong-password clones, with 401 in its log', async () => {
    const anon = await git(['clone', '-q', gitSrv.repoUrl, 'anon']);
    expect(anon.code, show(anon)).not.toBe(0);
    const wrong = await git(['clone', '-q', gitSrv.repoUrl.replace('://', `://${USER}:nope@`), 'wrong']);
    expect(wrong.code, show(wrong)).not.toBe(0);
    const log = await gitSrv.waitForLog((l) => l.some((x) => x.user === USER && x.status === 401));
    expect(log.some((x) => x.user === '' && x.status === 401)).toBe(true);
    expect(log.some((x) => x.user === USER && x.status === 200)).toBe(false);
  });

  it('serves a clone and accepts a push with the right password, logging the user', async () => {
    const url = gitSrv.repoUrl.replace('://', `://${USER}:${PASSWORD}@`);
    const clone = await git(['clone', '-q', url, 'ok']);
    expect(clone.code, show(clone)).toBe(0);
    expect(existsSync(join(sb.root, 'ok', 'README'))).toBe(true);
    const cwd = join(sb.root, 'ok');
    await git(['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '--allow-empty', '-m', 'pushed'], cwd);
    const push = await git(['push', '-q', 'origin', 'main'], cwd);
    expect(push.code, show(push)).toBe(0);
    const log = await gitSrv.waitForLog((l) => l.some((x) => x.uri.endsWith('/git-receive-pack') && x.status === 200));
    expect(log.find((x) => x.uri.endsWith('/git-receive-pack'))?.user).toBe(USER);
    const head = await sb.run('git', ['--git-dir', gitSrv.repoDir, 'log', '-1', '--format=%s', 'main']);
    expect(head.stdout.trim()).toBe('pushed');
  });
});

describe('registry (docker-registry 2.8, htpasswd)', () => {
  const inspect = (extra: string[]) =>
    sb.run('skopeo', ['inspect', '--tls-verify=false', ...extra, `docker://${registry.imageRef}`], { env: sb.envWithoutCredmux });

  it('refuses anonymous and wrong credentials', async () => {
    const anon = await inspect(['--no-creds']);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/unauthorized|authentication required/i);
    const authfile = join(sb.root, 'wrong-auth.json');
    await writeFile(authfile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${USER}:nope`).toString('base64') } } }));
    const wrong = await inspect(['--authfile', authfile]);
    expect(wrong.code).not.toBe(0);
  });

  it('serves the seeded image to the right user and logs the user on repository reads', async () => {
    const authfile = join(sb.root, 'auth.json');
    await writeFile(authfile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
    const ok = await inspect(['--authfile', authfile]);
    expect(ok.code, show(ok)).toBe(0);
    expect(JSON.parse(ok.stdout).Digest).toBe(registry.manifestDigest);
    const log = await registry.waitForLog((l) => l.some((x) => x.uri.includes('/manifests/') && x.method === 'GET' && x.user === USER));
    expect(log.filter((x) => x.uri.includes('/manifests/') && x.status === 200).length).toBeGreaterThan(0);
  });
});

describe('PyPI index (nginx autoindex, auth_basic)', () => {
  it('answers 401 without or with wrong credentials, and serves the wheel to the right user', async () => {
    const page = `${pypi.indexUrl}${pypi.project}/`;
    expect((await fetch(page)).status).toBe(401);
    expect((await fetch(page, { headers: basic(USER, 'nope') })).status).toBe(401);
    const ok = await fetch(page, { headers: basic(USER, PASSWORD) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain(`href="${pypi.wheelFilename}"`);
    const wheel = await fetch(`${page}${pypi.wheelFilename}`, { headers: basic(USER, PASSWORD) });
    const { createHash } = await import('node:crypto');
    expect(
      createHash('sha256')
        .update(Buffer.from(await wheel.arrayBuffer()))
        .digest('hex'),
    ).toBe(pypi.wheelSha256);
    const log = await pypi.waitForLog((l) => l.some((x) => x.uri.endsWith('.whl')));
    expect(log.map((x) => [x.user, x.status])).toEqual([
      ['', 401],
      [USER, 401],
      [USER, 200],
      [USER, 200],
    ]);
  });
});

describe('lifecycle', () => {
  it('stop() kills every process of the server (fcgiwrap workers included) and removes its dir', async () => {
    const srv = await startGitServer({ user: USER, password: PASSWORD });
    expect(livePidsMentioning(srv.dir).length).toBeGreaterThanOrEqual(3); // supervisor(s), nginx, fcgiwrap
    await srv.stop();
    expect(livePidsMentioning(srv.dir)).toEqual([]);
    expect(existsSync(srv.dir)).toBe(false);
    await expect(fetch(srv.url, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
  });

  it('a server dies with the process that started it, even one killed by SIGKILL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'credmux-orphan-'));
    // A parent that starts a supervised "server" (sleep) the way the starters do, then gets killed.
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `const c = require('child_process').spawn('/bin/sh', [process.argv[1], '--rm', process.argv[2], 'sleep', '300'],
           { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
         console.log(c.pid); setInterval(() => {}, 1000);`,
        join(REPO_ROOT, 'scripts/servers/supervise.sh'),
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const pid = await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
    expect(livePidsMentioning(dir).length).toBeGreaterThan(0);
    parent.kill('SIGKILL');
    for (let i = 0; i < 100 && (livePidsMentioning(dir).length > 0 || existsSync(dir)); i++) await sleep(50);
    expect(livePidsMentioning(dir), `supervisor ${pid} left processes behind`).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
