// One store, four doors: a credential written through one protocol by a real client is served
// through all the others, and erasing it through one closes them all.
//
// DESIGN: a schemeless request (Docker's `127.0.0.1:PORT`, keyring's `host:port`) is recorded as
// https and matched by host and port; a scheme is never downgraded, so the docker-stored entry is
// served to https://127.0.0.1:PORT but never to http://127.0.0.1:PORT.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { distBin, requireBuiltAndTools } from '../helpers/dist.js';
import { markLog, summary } from '../helpers/logs.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startRegistry, type RegistryServer } from '../helpers/servers.js';

const USER = 'alice';
const PASSWORD = 'pw-one-store-M5r';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

let registry: RegistryServer;
let sb: Sandbox;

beforeAll(async () => {
  requireBuiltAndTools(['docker', 'skopeo', 'git', 'docker-registry', 'htpasswd']);
  registry = await startRegistry({ user: USER, password: PASSWORD });
});
afterAll(async () => {
  await registry?.stop();
});
beforeEach(async () => {
  sb = await createSandbox('one-store');
  await sb.writeDockerConfig({ credHelpers: { [registry.host]: 'credmux' } });
});
afterEach(async () => {
  await sb.cleanup();
});

// The four doors, each called the way its real client calls it.
const bazel = async (uri: string) => {
  const r = await sb.run(sb.bin('credmux-bazel'), ['get'], { input: JSON.stringify({ uri }) });
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout) as { headers: Record<string, string[]> };
};
const gitFill = (protocol: string) =>
  sb.run('git', ['-c', 'credential.helper=', '-c', `credential.helper=${distBin('git-credential-credmux')}`, 'credential', 'fill'], {
    input: `protocol=${protocol}\nhost=${registry.host}\n\n`,
  });
/** As pip ≤ 26.1 runs it (PATH lookup of `keyring`, stdin /dev/null). */
const keyringGet = (service: string, user: string) => sb.run('keyring', ['get', service, user]);
/** As pip ≥ 26.2 runs it. */
const keyringCreds = (service: string) => sb.run('keyring', ['--mode=creds', '--output=json', 'get', service]);
const dockerHelperGet = () => sb.run('docker-credential-credmux', ['get'], { input: registry.host });

describe('one store, four doors', () => {
  it('after `docker login`, Bazel, git, keyring and the Docker helper all serve the same credential', async () => {
    const login = await sb.run('docker', ['login', registry.host, '-u', USER, '--password-stdin'], { input: PASSWORD });
    expect(login.code, show(login)).toBe(0);

    // Bazel: an https URI on that host:port gets the Basic header…
    const b = await bazel(`https://${registry.host}/v2/`);
    expect(b.headers).toEqual({ Authorization: [BASIC] });
    // …and the header really opens the registry (which speaks plain HTTP on loopback).
    const mark = await markLog(registry);
    const res = await fetch(`${registry.url}/v2/${registry.image.replace(':', '/manifests/')}`, {
      headers: { authorization: b.headers.Authorization![0]!, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(res.status).toBe(200);
    const lines = await mark.lines((l) => l.some((x) => x.user === USER && x.status === 200));
    expect(
      lines.some((x) => x.user === USER && x.status === 200),
      summary(lines).join('\n'),
    ).toBe(true);
    // Never downgraded to http.
    expect((await bazel(`http://${registry.host}/v2/`)).headers).toEqual({});

    // git: https://host:port is served; http://host:port is not (git then cannot prompt and fails).
    const fill = await gitFill('https');
    expect(fill.code, show(fill)).toBe(0);
    expect(fill.stdout).toContain(`username=${USER}\npassword=${PASSWORD}\n`);
    const fillHttp = await gitFill('http');
    expect(fillHttp.code, show(fillHttp)).not.toBe(0);
    expect(fillHttp.stdout).not.toContain(PASSWORD);

    // keyring: pip's `host:port` lookup and pip 26's creds/json form.
    const k = await keyringGet(registry.host, USER);
    expect(k.code, show(k)).toBe(0);
    expect(k.stdout).toBe(`${PASSWORD}\n`);
    const kc = await keyringCreds(`https://${registry.host}/`);
    expect(kc.code, show(kc)).toBe(0);
    expect(JSON.parse(kc.stdout)).toEqual({ username: USER, password: PASSWORD });
    const kWrongUser = await keyringGet(registry.host, 'mallory');
    expect(kWrongUser.code).toBe(1);
    expect(kWrongUser.stdout).toBe('');

    // Docker helper, as docker/skopeo call it.
    const d = await dockerHelperGet();
    expect(d.code, show(d)).toBe(0);
    expect(JSON.parse(d.stdout)).toEqual({ ServerURL: registry.host, Username: USER, Secret: PASSWORD });

    // One `docker logout` closes every door.
    const logout = await sb.run('docker', ['logout', registry.host]);
    expect(logout.code, show(logout)).toBe(0);
    expect((await bazel(`https://${registry.host}/v2/`)).headers).toEqual({});
    expect((await gitFill('https')).code).not.toBe(0);
    expect((await keyringGet(registry.host, USER)).code).toBe(1);
    const gone = await dockerHelperGet();
    expect(gone.code).toBe(1);
    expect(gone.stdout.trim()).toBe('credentials not found in native keychain');
  });

  it('a password saved by `keyring set` (as pip saves one) lets skopeo and docker into the registry', async () => {
    // pip's form: service = netloc, password on stdin followed by a newline.
    const set = await sb.run('keyring', ['set', registry.host, USER], { input: `${PASSWORD}\n` });
    expect(set.code, show(set)).toBe(0);
    expect(await sb.listEntries()).toMatchObject([{ url: `https://${registry.host}`, username: USER }]);

    const mark = await markLog(registry);
    const authfile = join(sb.root, 'auth.json');
    await writeFile(authfile, JSON.stringify({ credHelpers: { [registry.host]: 'credmux' } }));
    const sk = await sb.run('skopeo', ['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${registry.imageRef}`]);
    expect(sk.code, show(sk)).toBe(0);
    const dk = await sb.run('docker', ['manifest', 'inspect', '--insecure', registry.imageRef]);
    expect(dk.code, show(dk)).toBe(0);
    const lines = await mark.lines((l) => l.filter((x) => x.uri.includes('/manifests/') && x.user === USER && x.status === 200).length >= 2);
    expect(
      lines.filter((x) => x.uri.includes('/manifests/') && x.user === USER && x.status === 200).length,
      summary(lines).join('\n'),
    ).toBeGreaterThanOrEqual(2);
  });
});
