// The whole story on real tools: from an EMPTY home, a person runs ONLY `credmux login …` and
// `credmux setup <tool>` (plus what setup tells them to do about PATH), then the REAL git, docker CLI,
// skopeo and pip reach the REAL authenticated servers. Every success is checked against the server's
// log naming the user, and each test first shows the same command failing without setup.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run as runPlain } from '../../scripts/servers/process.js';
import { distBin, requireBuiltAndTools } from '../helpers/dist.js';
import { markLog, summary } from '../helpers/logs.js';
import { run, show } from '../helpers/run.js';
import {
  startGitServer,
  startPypiIndex,
  startRegistry,
  type AuthLogLine,
  type GitServer,
  type PypiIndex,
  type RegistryServer,
} from '../helpers/servers.js';
import { newHome, type Home } from './home.js';

const USER = 'alice';
const PASSWORD = 'pw-setup-Vq7r';

let git: GitServer;
let registry: RegistryServer;
let index: PypiIndex;
let machinePython: string;
let h: Home;

beforeAll(async () => {
  requireBuiltAndTools(['git', 'docker', 'skopeo', 'docker-registry', 'python3', 'nginx', 'fcgiwrap', 'htpasswd']);
  machinePython = (await runPlain('python3', ['-c', 'import sys; print(sys.executable)'])).trim();
  [git, registry, index] = await Promise.all([
    startGitServer({ user: USER, password: PASSWORD }),
    startRegistry({ user: USER, password: PASSWORD }),
    startPypiIndex({ user: USER, password: PASSWORD }),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.all([git?.stop(), registry?.stop(), index?.stop()]);
});
afterEach(async () => {
  await h?.cleanup();
});

/** The lines of setup's output that are commands to paste (indented, after a "fix"). */
function printedCommand(out: string, start: string): string {
  const line = out
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith(start));
  if (!line) throw new Error(`setup printed no "${start}…" command:\n${out}`);
  return line;
}

describe('credmux setup git → real git clone through git http-backend', () => {
  it('clones as alice with no -c flags at all; before setup (and after --undo) the same clone fails', async () => {
    h = await newHome('e2e-git');
    const clone = (dir: string) => run('git', ['clone', '-q', git.repoUrl, join(h.root, dir)], { env: h.env, cwd: h.root });

    await h.login(git.url, USER, PASSWORD);
    const before = await markLog(git);
    const denied = await clone('denied');
    expect(denied.code, show(denied)).not.toBe(0);
    expect((await before.lines((l) => l.some((x) => x.status === 401))).filter((x) => x.status === 200)).toEqual([]);

    const setup = await h.ok(['setup', 'git']);
    expect(setup.stdout).toContain(git.url);

    const mark = await markLog(git);
    const ok = await clone('work');
    expect(ok.code, show(ok)).toBe(0);
    expect(readFileSync(join(h.root, 'work', 'README'), 'utf8')).toContain('hello');
    const ok200 = (l: AuthLogLine[]) => l.some((x) => x.uri.endsWith('/git-upload-pack') && x.status === 200 && x.user === USER);
    const lines = await mark.lines(ok200);
    expect(ok200(lines), summary(lines).join('\n')).toBe(true);
    expect(
      lines.filter((x) => x.status === 200 && x.user !== USER),
      summary(lines).join('\n'),
    ).toEqual([]);

    await h.ok(['setup', 'git', '--undo']);
    const again = await clone('again');
    expect(again.code, show(again)).not.toBe(0);
  });
});

describe('credmux setup docker → real docker CLI and skopeo against docker-registry', () => {
  it('after following the printed PATH fix, docker manifest inspect and skopeo inspect authenticate as alice', async () => {
    h = await newHome('e2e-docker');
    await h.login(registry.host, USER, PASSWORD);
    const inspectDocker = (env: NodeJS.ProcessEnv) => run('docker', ['manifest', 'inspect', '--insecure', registry.imageRef], { env, cwd: h.root });
    const inspectSkopeo = (env: NodeJS.ProcessEnv) =>
      run('skopeo', ['--insecure-policy', 'inspect', '--tls-verify=false', `docker://${registry.imageRef}`], { env, cwd: h.root });

    // Negative control: nothing wired.
    const anon = await inspectSkopeo(h.env);
    expect(anon.code, show(anon)).not.toBe(0);

    const setup = await h.ok(['setup', 'docker']);
    expect(JSON.parse(readFileSync(join(h.home, '.docker', 'config.json'), 'utf8'))).toEqual({ credHelpers: { [registry.host]: 'credmux' } });
    // Wired, but the helper is not on PATH yet: setup says so, and how to fix it.
    expect(setup.stdout).toContain('docker-credential-credmux is not on it');
    const broken = await inspectSkopeo(h.env);
    expect(broken.code, show(broken)).not.toBe(0);

    // Do exactly what setup printed.
    const fix = printedCommand(setup.stdout, 'mkdir -p ');
    const applied = await run('sh', ['-c', fix], { env: h.env, cwd: h.root });
    expect(applied.code, show(applied)).toBe(0);
    const env = { ...h.env, PATH: `${join(h.home, '.local', 'bin')}:${h.env.PATH}` };
    const again = await h.ok(['setup', 'docker'], { env });
    expect(again.stdout).toContain('already set up, no change');
    expect(again.stdout).not.toContain('Action needed');

    const readManifest = (l: AuthLogLine[]) =>
      l.some((x) => x.method === 'GET' && x.uri.includes('/manifests/') && x.status === 200 && x.user === USER);
    const m1 = await markLog(registry);
    const d = await inspectDocker(env);
    expect(d.code, show(d)).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ schemaVersion: 2 });
    const l1 = await m1.lines(readManifest);
    expect(readManifest(l1), summary(l1).join('\n')).toBe(true);

    const m2 = await markLog(registry);
    const s = await inspectSkopeo(env);
    expect(s.code, show(s)).toBe(0);
    expect(JSON.parse(s.stdout).Digest).toBe(registry.manifestDigest);
    const l2 = await m2.lines(readManifest);
    expect(readManifest(l2), summary(l2).join('\n')).toBe(true);
  });
});

describe('credmux setup pip → real pip 23 against a PEP 503 index behind Basic auth', () => {
  it('downloads as alice with keyring-provider from the written config and `keyring` from the printed directory', async () => {
    h = await newHome('e2e-pip');
    await h.login(index.indexUrl, USER, PASSWORD);
    const setup = await h.ok(['setup', 'pip']);
    const exportLine = printedCommand(setup.stdout, 'export PATH=');
    const keyringDir = /^export PATH=(.+):"\$PATH"$/.exec(exportLine)![1]!.replace(/^'|'$/g, '');
    expect(existsSync(join(keyringDir, 'keyring'))).toBe(true);
    const pipConf = join(h.home, '.config', 'pip', 'pip.conf');
    expect(readFileSync(pipConf, 'utf8')).toBe('[global]\nkeyring-provider = subprocess\n');

    // pip reads the file setup wrote (PIP_CONFIG_FILE names it; the user file is the same one) and,
    // with XDG_CONFIG_DIRS emptied, no machine-wide file that could point at a local mirror.
    const xdgDirs = join(h.root, 'no-site-config');
    mkdirSync(xdgDirs);
    const env = { ...h.env, PATH: `${keyringDir}:${h.env.PATH}`, PIP_CONFIG_FILE: pipConf, XDG_CONFIG_DIRS: xdgDirs };
    const cfg = await run(machinePython, ['-m', 'pip', 'config', 'list'], { env });
    expect(cfg.stdout).toContain("keyring-provider='subprocess'");
    expect(cfg.stdout).not.toMatch(/find-links|index-url|extra-index/);
    expect(Object.keys(env).filter((k) => /^PIP_(FIND_LINKS|INDEX_URL|EXTRA_INDEX_URL|KEYRING_PROVIDER)$/.test(k))).toEqual([]);

    const download = (e: NodeJS.ProcessEnv, dest: string) =>
      run(
        machinePython,
        [
          '-m',
          'pip',
          'download',
          '--no-deps',
          '--no-cache-dir',
          '--no-input',
          '--disable-pip-version-check',
          // pip < 26.2 asks keyring only when the index URL names the user (setup says so).
          '--index-url',
          index.indexUrlFor(USER),
          '-d',
          join(h.root, dest),
          `${index.project}==${index.version}`,
        ],
        { env: e, cwd: h.root, timeoutMs: 60_000 },
      );

    // Negative control: the same command with pip's config hidden never asks keyring, and is refused.
    const denied = await download({ ...env, PIP_CONFIG_FILE: '/dev/null' }, 'denied');
    expect(denied.code, show(denied)).not.toBe(0);

    const mark = await markLog(index);
    const ok = await download(env, 'dl');
    expect(ok.code, show(ok)).toBe(0);
    const bytes = readFileSync(join(h.root, 'dl', index.wheelFilename));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(index.wheelSha256);
    const gotWheel = (l: AuthLogLine[]) => l.some((x) => x.uri.endsWith('.whl') && x.status === 200 && x.user === USER);
    const lines = await mark.lines(gotWheel);
    expect(gotWheel(lines), summary(lines).join('\n')).toBe(true);
  }, 120_000);
});

describe('credmux setup bazel → the helper line Bazel would run', () => {
  it('runs the absolute path from ~/.bazelrc the way Bazel does and gets the Authorization header', async () => {
    // No Bazel ≥ 6 is installed for the tests (scripts/install-test-deps.sh): run what the rc line names, with Bazel's exact stdin.
    h = await newHome('e2e-bazel');
    await h.credmux(['login', 'https://artifacts.example.com', '--token-stdin'], { input: 'tok-bazel-1' });
    await h.ok(['setup', 'bazel']);
    const rc = readFileSync(join(h.home, '.bazelrc'), 'utf8');
    const m = /^common --credential_helper=artifacts\.example\.com=(\/\S+)$/m.exec(rc);
    expect(m, rc).not.toBeNull();
    const r = await run(m![1]!, ['get'], { env: h.env, input: '{"uri":"https://artifacts.example.com/repo/x.tar.gz"}' });
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ headers: { Authorization: ['Bearer tok-bazel-1'] } });
  });
});

describe('each tool is wired for its own hosts only (issue 17)', () => {
  it('a registry stored by `docker login` and a git host stored by git: setup docker and setup git each wire only theirs, and both still work', async () => {
    h = await newHome('e2e-own-hosts');
    const bin = join(h.root, 'bin');
    mkdirSync(bin);
    symlinkSync(distBin('docker-credential-credmux'), join(bin, 'docker-credential-credmux'));
    const env = { ...h.env, PATH: `${bin}:${h.env.PATH}` };
    const dockerConfig = join(h.home, '.docker', 'config.json');

    // The real docker CLI logs in through credmux (a credHelpers entry written by hand for this one login) …
    mkdirSync(dirname(dockerConfig), { recursive: true });
    writeFileSync(dockerConfig, JSON.stringify({ credHelpers: { [registry.host]: 'credmux' } }));
    const login = await run('docker', ['login', registry.host, '-u', USER, '--password-stdin'], { env, cwd: h.root, input: PASSWORD });
    expect(login.code, show(login)).toBe(0);
    rmSync(dockerConfig);
    // … and real git stores through credmux after a success (git credential approve is that step).
    const approve = await run(
      'git',
      ['-c', 'credential.helper=', '-c', `credential.helper=${distBin('git-credential-credmux')}`, 'credential', 'approve'],
      { env, cwd: h.root, input: `protocol=http\nhost=127.0.0.1:${git.port}\nusername=${USER}\npassword=${PASSWORD}\n\n` },
    );
    expect(approve.code, show(approve)).toBe(0);
    const listed = JSON.parse((await h.ok(['list', '--json'])).stdout).entries as { url: string; protocols?: string[] }[];
    expect(listed.map((e) => [e.url, e.protocols])).toEqual(
      expect.arrayContaining([
        [`https://${registry.host}`, ['docker']],
        [git.url, ['git']],
      ]),
    );

    const docker = await h.ok(['setup', 'docker'], { env });
    expect(JSON.parse(readFileSync(dockerConfig, 'utf8'))).toEqual({ credHelpers: { [registry.host]: 'credmux' } });
    expect(docker.stdout).toContain(`Not wired into docker: ${git.url} (for git)`);
    const gitSetup = await h.ok(['setup', 'git'], { env });
    expect(gitSetup.stdout).toContain(`Not wired into git: https://${registry.host} (for docker/podman)`);
    const helpers = await run('git', ['config', '--global', '--get-regexp', '^credential\\.'], { env, cwd: h.root });
    expect(helpers.stdout).toContain(`credential.${git.url}.helper`);
    expect(helpers.stdout).not.toContain(registry.host);

    // Both tools are served as before.
    const m1 = await markLog(git);
    const clone = await run('git', ['clone', '-q', git.repoUrl, join(h.root, 'work')], { env, cwd: h.root });
    expect(clone.code, show(clone)).toBe(0);
    const cloned = (l: AuthLogLine[]) => l.some((x) => x.uri.endsWith('/git-upload-pack') && x.status === 200 && x.user === USER);
    const l1 = await m1.lines(cloned);
    expect(cloned(l1), summary(l1).join('\n')).toBe(true);
    const readManifest = (l: AuthLogLine[]) => l.some((x) => x.uri.includes('/manifests/') && x.status === 200 && x.user === USER);
    const m2 = await markLog(registry);
    const inspect = await run('docker', ['manifest', 'inspect', '--insecure', registry.imageRef], { env, cwd: h.root });
    expect(inspect.code, show(inspect)).toBe(0);
    const l2 = await m2.lines(readManifest);
    expect(readManifest(l2), summary(l2).join('\n')).toBe(true);

    // A login says which setup would wire it: without --for every set-up per-host tool, with --for only those named.
    const everyTool = await h.credmux(['login', 'https://shared.example.com', '--username', USER, '--password-stdin'], { input: PASSWORD, env });
    expect(everyTool.stderr).toContain('To have git and docker ask credmux for it: credmux setup git && credmux setup docker');
    const gitOnly = await h.credmux(['login', 'https://code.example.com', '--username', USER, '--password-stdin', '--for', 'git'], {
      input: PASSWORD,
      env,
    });
    expect(gitOnly.stderr).toContain('(for git)');
    expect(gitOnly.stderr).toContain('To have git ask credmux for it: credmux setup git\n');
    await h.ok(['setup', 'docker'], { env });
    expect(Object.keys(JSON.parse(readFileSync(dockerConfig, 'utf8')).credHelpers).sort()).toEqual([registry.host, 'shared.example.com'].sort());
  });
});

describe('credmux setup podman → a plain `skopeo login` stores through credmux (issue 17)', () => {
  it('after setup podman, skopeo login (no --authfile) stores in credmux, push and inspect are served, and no auth.json holds the password', async () => {
    h = await newHome('e2e-podman');
    const bin = join(h.root, 'bin');
    mkdirSync(bin);
    symlinkSync(distBin('docker-credential-credmux'), join(bin, 'docker-credential-credmux'));
    // The machine's registries.conf is read as skopeo reads it, and nothing names an auth file: with
    // DOCKER_CONFIG or REGISTRY_AUTH_FILE set, skopeo would use only that file (a plain login has neither).
    const { DOCKER_CONFIG: _dockerConfig, ...isolated } = h.env;
    const env: NodeJS.ProcessEnv = { ...isolated, PATH: `${bin}:${h.env.PATH}` };
    expect(Object.keys(env).filter((k) => k === 'REGISTRY_AUTH_FILE' || k === 'DOCKER_CONFIG')).toEqual([]);
    const skopeo = (args: string[], input?: string) =>
      run('skopeo', ['--insecure-policy', ...args], { env, cwd: h.root, ...(input !== undefined ? { input } : {}) });
    const authFiles = [
      join(env.XDG_RUNTIME_DIR!, 'containers', 'auth.json'),
      join(h.home, '.config', 'containers', 'auth.json'),
      join(h.home, '.docker', 'config.json'),
    ];
    const noPasswordAnywhere = () => {
      for (const f of authFiles) {
        if (!existsSync(f)) continue;
        const text = readFileSync(f, 'utf8');
        expect(text, f).not.toContain(PASSWORD);
        expect(text, f).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
      }
    };
    const pushed = `${registry.host}/credmux/pushed:1.0`;

    const setup = await h.ok(['setup', 'podman'], { env });
    expect(setup.stdout).not.toContain('Action needed');

    const login = await skopeo(['login', '--tls-verify=false', '-u', USER, '--password-stdin', registry.host], PASSWORD);
    expect(login.code, show(login)).toBe(0);
    const entries = JSON.parse((await h.ok(['list', '--json'])).stdout).entries;
    expect(entries).toMatchObject([{ url: `https://${registry.host}`, username: USER, protocols: ['docker'] }]);
    noPasswordAnywhere();

    // Push (a copy into a new repository) and inspect, both authenticated by what credmux serves.
    const mark = await markLog(registry);
    const copy = await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${registry.imageRef}`, `docker://${pushed}`]);
    expect(copy.code, show(copy)).toBe(0);
    const wrote = (l: AuthLogLine[]) => l.some((x) => x.method === 'PUT' && x.uri === '/v2/credmux/pushed/manifests/1.0' && x.status === 201);
    const lines = await mark.lines(wrote);
    expect(wrote(lines), summary(lines).join('\n')).toBe(true);
    const inspect = await skopeo(['inspect', '--tls-verify=false', `docker://${pushed}`]);
    expect(inspect.code, show(inspect)).toBe(0);
    expect(JSON.parse(inspect.stdout).Digest).toBe(registry.manifestDigest);
    noPasswordAnywhere();

    // skopeo logout erases it from credmux; then the registry refuses.
    const logout = await skopeo(['logout', registry.host]);
    expect(logout.code, show(logout)).toBe(0);
    expect(JSON.parse((await h.ok(['list', '--json'])).stdout).entries).toEqual([]);
    const refused = await skopeo(['inspect', '--tls-verify=false', `docker://${pushed}`]);
    expect(refused.code, show(refused)).not.toBe(0);

    // Negative control: without credmux in credential-helpers, the same login writes the password in plain text.
    await h.ok(['setup', 'podman', '--undo'], { env });
    const plain = await skopeo(['login', '--tls-verify=false', '-u', USER, '--password-stdin', registry.host], PASSWORD);
    expect(plain.code, show(plain)).toBe(0);
    expect(readFileSync(authFiles[0]!, 'utf8')).toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
    expect(JSON.parse((await h.ok(['list', '--json'])).stdout).entries).toEqual([]);
  });
});
