// Real docker CLI 28 (no engine needed for login/logout/manifest inspect) and skopeo 1.9 calling
// docker-credential-credmux against a real registry with htpasswd auth.
//
// Trap: when a helper fails, the docker CLI silently carries on WITHOUT credentials. So a docker
// success is only evidence together with the registry's log naming the user.
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireBuiltAndTools } from '../helpers/dist.js';
import { markLog, summary } from '../helpers/logs.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startRegistry, type AuthLogLine, type RegistryServer } from '../helpers/servers.js';

const USER = 'alice';
const PASSWORD = 'pw-docker-K2v8';

let registry: RegistryServer;
let sb: Sandbox;

beforeAll(async () => {
  requireBuiltAndTools(['docker', 'skopeo', 'docker-registry', 'htpasswd']);
  registry = await startRegistry({ user: USER, password: PASSWORD });
});
afterAll(async () => {
  await registry?.stop();
});
beforeEach(async () => {
  sb = await createSandbox('docker');
});
afterEach(async () => {
  await sb.cleanup();
});

/** alice read the seeded manifest, and the registry said 200. */
const aliceReadManifest = (l: AuthLogLine[]) =>
  l.some((x) => x.method === 'GET' && x.uri.includes('/manifests/') && x.status === 200 && x.user === USER);

/** A file must not hold the password, plainly or as docker's base64 `auth`. */
function expectNoSecret(file: string) {
  const text = readFileSync(file, 'utf8');
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
}

describe('docker CLI with credHelpers → credmux', () => {
  beforeEach(async () => {
    await sb.writeDockerConfig({ credHelpers: { [registry.host]: 'credmux' } });
  });
  const docker = (args: string[], input?: string) => sb.run('docker', args, input === undefined ? {} : { input });
  const inspect = () => docker(['manifest', 'inspect', '--insecure', registry.imageRef]);

  it('docker login stores through credmux, and config.json keeps no secret', async () => {
    const login = await docker(['login', registry.host, '-u', USER, '--password-stdin'], PASSWORD);
    expect(login.code, show(login)).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');

    // Recorded the DESIGN way: a schemeless registry name means https; stored through docker, for docker's tools.
    expect(await sb.listEntries()).toMatchObject([{ url: `https://${registry.host}`, username: USER, protocols: ['docker'] }]);
    expect(await sb.served(registry.host)).toEqual({ username: USER, secret: PASSWORD });
    expectNoSecret(join(sb.home, '.docker', 'config.json'));
  });

  it('manifest inspect is served the stored credential; after docker logout it is refused', async () => {
    // Negative control first: nothing stored → the registry refuses.
    const anon = await inspect();
    expect(anon.code, show(anon)).not.toBe(0);

    const login = await docker(['login', registry.host, '-u', USER, '--password-stdin'], PASSWORD);
    expect(login.code, show(login)).toBe(0);

    const mark = await markLog(registry);
    const ok = await inspect();
    expect(ok.code, show(ok)).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ schemaVersion: 2 });
    const lines = await mark.lines(aliceReadManifest);
    expect(aliceReadManifest(lines), summary(lines).join('\n')).toBe(true);

    const logout = await docker(['logout', registry.host]);
    expect(logout.code, show(logout)).toBe(0);
    expect(await sb.listEntries()).toEqual([]);

    const after = await markLog(registry);
    const refused = await inspect();
    expect(refused.code, show(refused)).not.toBe(0);
    const refusedLines = await after.lines((l) => l.some((x) => x.status === 401));
    expect(
      refusedLines.filter((x) => x.status === 200 && x.uri.includes('/manifests/')),
      summary(refusedLines).join('\n'),
    ).toEqual([]);
  });

  it('a credential stored by `credmux login` serves docker too', async () => {
    await sb.login(registry.host, USER, PASSWORD);
    const mark = await markLog(registry);
    const ok = await inspect();
    expect(ok.code, show(ok)).toBe(0);
    const lines = await mark.lines(aliceReadManifest);
    expect(aliceReadManifest(lines), summary(lines).join('\n')).toBe(true);
  });
});

describe('skopeo with credHelpers in --authfile → credmux', () => {
  // skopeo reads credHelpers and auths only (never credsStore), from the file we name.
  let authfile: string;
  beforeEach(async () => {
    authfile = join(sb.root, 'auth.json');
    await writeFile(authfile, JSON.stringify({ credHelpers: { [registry.host]: 'credmux' } }));
  });
  const skopeo = (args: string[], input?: string) => sb.run('skopeo', ['--insecure-policy', ...args], input === undefined ? {} : { input });
  const inspect = () => skopeo(['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${registry.imageRef}`]);

  it('inspect and copy use the credential stored by `credmux login`; with none stored, inspect fails', async () => {
    const denied = await inspect();
    expect(denied.code, show(denied)).not.toBe(0);
    expect(denied.stderr).toMatch(/unauthorized|authentication required/i);

    await sb.login(registry.host, USER, PASSWORD);

    const mark = await markLog(registry);
    const ok = await inspect();
    expect(ok.code, show(ok)).toBe(0);
    expect(JSON.parse(ok.stdout).Digest).toBe(registry.manifestDigest);

    const dest = join(sb.root, 'copy');
    const copy = await skopeo(['copy', '--src-tls-verify=false', '--src-authfile', authfile, `docker://${registry.imageRef}`, `dir:${dest}`]);
    expect(copy.code, show(copy)).toBe(0);
    expect(existsSync(join(dest, 'manifest.json'))).toBe(true);

    const lines = await mark.lines((l) => l.some((x) => x.uri.includes('/blobs/') && x.status === 200 && x.user === USER));
    const log = summary(lines).join('\n');
    expect(aliceReadManifest(lines), log).toBe(true);
    expect(
      lines.some((x) => x.uri.includes('/blobs/') && x.status === 200 && x.user === USER),
      log,
    ).toBe(true);
  });

  it('skopeo login stores through the helper and logout erases', async () => {
    const login = await skopeo(['login', '--tls-verify=false', '--authfile', authfile, '-u', USER, '--password-stdin', registry.host], PASSWORD);
    expect(login.code, show(login)).toBe(0);
    expect(await sb.listEntries()).toMatchObject([{ url: `https://${registry.host}`, username: USER }]);
    expectNoSecret(authfile);

    const ok = await inspect();
    expect(ok.code, show(ok)).toBe(0);

    const logout = await skopeo(['logout', '--authfile', authfile, registry.host]);
    expect(logout.code, show(logout)).toBe(0);
    expect(await sb.listEntries()).toEqual([]);
    const refused = await inspect();
    expect(refused.code, show(refused)).not.toBe(0);
  });
});

describe('Docker Hub: `credmux login docker.io` is served under every name the real clients ask', () => {
  // No network here (and none wanted: a proxy on a closed port keeps every request on this machine),
  // so the Hub itself cannot answer. What matters is the helper: the docker CLI and skopeo ask it for
  // credentials BEFORE they connect. A spy helper records what each client asked and what credmux
  // answered, and passes the answer on unchanged.
  const HUB_PASSWORD = 'pw-hub-Q7m2';
  let calls: string;
  beforeEach(async () => {
    calls = join(sb.root, 'spy-calls.log');
    const spy = join(sb.binDir, 'docker-credential-spy');
    await writeFile(
      spy,
      `#!/bin/sh\nin=$(cat)\nout=$(printf '%s' "$in" | "${sb.bin('docker-credential-credmux')}" "$1")\nrc=$?\n` +
        `printf '%s\\t%s\\t%s\\n' "$1" "$in" "$out" >> "${calls}"\nprintf '%s\\n' "$out"\nexit $rc\n`,
      { mode: 0o755 },
    );
    await sb.writeDockerConfig({
      credHelpers: { 'https://index.docker.io/v1/': 'spy', 'docker.io': 'spy', 'index.docker.io': 'spy', 'registry-1.docker.io': 'spy' },
    });
  });
  const offline = () => ({ ...sb.env, HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '', no_proxy: '' });
  /** [action, what the client sent, what credmux answered] per helper call. */
  const recorded = () =>
    existsSync(calls)
      ? readFileSync(calls, 'utf8')
          .trimEnd()
          .split('\n')
          .map((l) => l.split('\t'))
      : [];

  it.each(['docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io', 'index.docker.io'])(
    'after `credmux login %s`, the docker CLI and skopeo get the credential; `credmux logout docker.io` removes it',
    async (name) => {
      const login = await sb.run(sb.bin('credmux'), ['login', name, '--username', USER, '--password-stdin'], { input: HUB_PASSWORD });
      expect(login.code, show(login)).toBe(0);
      expect(login.stderr).toContain('https://index.docker.io');

      // The docker CLI keys Docker Hub as https://index.docker.io/v1/ (docs/protocols.md §3.3).
      await sb.run('docker', ['manifest', 'inspect', 'docker.io/library/alpine:3'], { env: offline() });
      // skopeo (containers/image) asks for the registry host, docker.io (docs/protocols.md §3.4).
      await sb.run('skopeo', ['inspect', '--authfile', join(sb.home, '.docker', 'config.json'), 'docker://docker.io/library/alpine:3'], {
        env: offline(),
      });
      const gets = recorded().filter(([action]) => action === 'get');
      expect(gets.map(([, asked]) => asked)).toEqual(expect.arrayContaining(['https://index.docker.io/v1/', 'docker.io']));
      for (const [, asked, answer] of gets) {
        expect(JSON.parse(answer!), `asked for ${asked}`).toEqual({ ServerURL: asked, Username: USER, Secret: HUB_PASSWORD });
      }
      // The other names a client may use, asked exactly as a client does (no newline).
      for (const asked of ['index.docker.io', 'registry-1.docker.io']) {
        const r = await sb.run(sb.bin('docker-credential-credmux'), ['get'], { input: asked });
        expect(JSON.parse(r.stdout), show(r)).toEqual({ ServerURL: asked, Username: USER, Secret: HUB_PASSWORD });
      }
      const listed = await sb.run(sb.bin('docker-credential-credmux'), ['list'], { input: 'unused' });
      expect(JSON.parse(listed.stdout)).toEqual({ 'https://index.docker.io/v1/': USER });

      const logout = await sb.run(sb.bin('credmux'), ['logout', 'docker.io']);
      expect(logout.code, show(logout)).toBe(0);
      expect(await sb.listEntries()).toEqual([]);
      const gone = await sb.run(sb.bin('docker-credential-credmux'), ['get'], { input: 'https://index.docker.io/v1/' });
      expect(gone.stdout).toBe('credentials not found in native keychain\n');
    },
  );

  it('a real `docker logout` (Docker Hub is its default) and `skopeo logout docker.io` erase the Hub login', async () => {
    await sb.login('docker.io', USER, HUB_PASSWORD);
    const out = await sb.run('docker', ['logout'], { env: offline() });
    expect(out.code, show(out)).toBe(0);
    expect(
      recorded()
        .filter(([a]) => a === 'erase')
        .map(([, asked]) => asked),
    ).toEqual(['https://index.docker.io/v1/']);
    expect(await sb.listEntries()).toEqual([]);

    await sb.login('https://index.docker.io/v1/', USER, HUB_PASSWORD);
    const sk = await sb.run('skopeo', ['logout', '--authfile', join(sb.home, '.docker', 'config.json'), 'docker.io'], { env: offline() });
    expect(sk.code, show(sk)).toBe(0);
    expect(
      recorded()
        .filter(([a]) => a === 'erase')
        .map(([, asked]) => asked),
    ).toContain('docker.io');
    expect(await sb.listEntries()).toEqual([]);
  });
});
