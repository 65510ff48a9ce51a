// `credmux import` on the BUILT binary: each format round-trips (the file's credential is exactly what
// `credmux get --show-secret` serves afterwards), --dry-run stores nothing and prints no secret, a
// conflicting entry is reported and kept, and a malformed file is named while the others still import.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { distBin, requireBuilt } from '../helpers/dist.js';
import { run, show } from '../helpers/run.js';
import { newHome, type Home } from './home.js';

let h: Home;
beforeAll(() => requireBuilt());
afterEach(async () => {
  await h?.cleanup();
});

function write(rel: string, text: string): string {
  const f = join(h.home, rel);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Case {
  source: string;
  file: string;
  text: string;
  /** URL to ask `credmux get` → the credential it must serve. */
  expect: [string, { kind: string; username: string; secret: string }][];
  /** Substrings of the output that must appear (e.g. a skip reason). */
  says?: string[];
  secrets: string[];
}

const CASES: Case[] = [
  {
    source: 'netrc',
    file: '.netrc',
    text: 'machine a.example.com login alice password "s3 cret-net"\nmacdef init\nmachine not.a.machine login x password y\n\nmachine b.example.com\n  login bob\n  password bpw-net\ndefault login anon password dflt-net\n',
    expect: [
      ['https://a.example.com/x', { kind: 'basic', username: 'alice', secret: 's3 cret-net' }],
      ['https://b.example.com', { kind: 'basic', username: 'bob', secret: 'bpw-net' }],
    ],
    says: ['applies to every host'],
    secrets: ['s3 cret-net', 'bpw-net', 'dflt-net'],
  },
  {
    source: 'docker',
    file: '.docker/config.json',
    text: JSON.stringify({
      auths: {
        '127.0.0.1:5000': { auth: b64('carol:c:pw-dock') },
        'https://index.docker.io/v1/': { identitytoken: 'idtok-dock' },
        'quay.io': {},
      },
      credsStore: 'desktop',
    }),
    expect: [
      ['127.0.0.1:5000', { kind: 'basic', username: 'carol', secret: 'c:pw-dock' }],
      ['https://index.docker.io/v1/', { kind: 'basic', username: '<token>', secret: 'idtok-dock' }],
    ],
    says: ['docker keeps it in credsStore "desktop"'],
    secrets: ['c:pw-dock', 'idtok-dock', b64('carol:c:pw-dock')],
  },
  {
    source: 'git',
    file: '.git-credentials',
    // As git's credential-store writes them: the host percent-encoded too, so a port is `%3a` (issue 17).
    text:
      'https://dave:d%40pw%2Fgit@git.example.com\nhttps://erin:epw-git@git.example.com:8443/org/repo\n' +
      'http://gus:g%3apw@127.0.0.1%3a3000\nhttps://hank:hpw-v6@%5b%3a%3a1%5d%3a8443/team\nhttps://ivy:ipw@evil.example%2f@git.example.com\n',
    expect: [
      ['https://git.example.com/any/repo.git', { kind: 'basic', username: 'dave', secret: 'd@pw/git' }],
      ['https://git.example.com:8443/org/repo/info/refs', { kind: 'basic', username: 'erin', secret: 'epw-git' }],
      ['http://127.0.0.1:3000/repo.git', { kind: 'basic', username: 'gus', secret: 'g:pw' }],
      ['https://[::1]:8443/team/x', { kind: 'basic', username: 'hank', secret: 'hpw-v6' }],
    ],
    says: ['line 5 (https://evil.example/@git.example.com): its host is empty or holds characters no host name has'],
    secrets: ['d@pw/git', 'd%40pw%2Fgit', 'epw-git', 'g:pw', 'g%3apw', 'hpw-v6', 'ipw'],
  },
  {
    source: 'pypirc',
    file: '.pypirc',
    text: '[distutils]\nindex-servers =\n    pypi\n    private\n\n[pypi]\nusername = __token__\npassword = pypi-AgEtok\n\n[private]\nrepository = https://pkgs.example.com/upload\nusername = frank\npassword = fpw-pypirc\n',
    expect: [
      ['https://upload.pypi.org/legacy/', { kind: 'basic', username: '__token__', secret: 'pypi-AgEtok' }],
      ['https://pkgs.example.com/upload', { kind: 'basic', username: 'frank', secret: 'fpw-pypirc' }],
    ],
    secrets: ['pypi-AgEtok', 'fpw-pypirc'],
  },
  {
    source: 'uv',
    file: '.local/share/uv/credentials/credentials.toml',
    text: '[[credential]]\nservice = "https://uvidx.example.com/simple"\nusername = "gina"\npassword = "gpw-uv"\n\n[[credential]]\nservice = "pyx.example.com"\nscheme = "bearer"\ntoken = """tok-uv"""\n',
    expect: [
      ['https://uvidx.example.com/simple/pkg/', { kind: 'basic', username: 'gina', secret: 'gpw-uv' }],
      ['https://pyx.example.com', { kind: 'bearer', username: '__token__', secret: 'tok-uv' }],
    ],
    secrets: ['gpw-uv', 'tok-uv'],
  },
  {
    source: 'rattler',
    file: '.rattler/credentials.json',
    text: JSON.stringify({
      '*.prefix.dev': { BearerToken: 'tok-rattler' },
      'conda.example.com': { BasicHTTP: { username: 'hal', password: 'hpw-rattler' } },
      'anaconda.org': { CondaToken: 'ctok-rattler' },
    }),
    expect: [
      ['https://repo.prefix.dev/x', { kind: 'bearer', username: '__token__', secret: 'tok-rattler' }],
      ['https://prefix.dev', { kind: 'bearer', username: '__token__', secret: 'tok-rattler' }],
      ['https://conda.example.com', { kind: 'basic', username: 'hal', secret: 'hpw-rattler' }],
    ],
    says: ['"anaconda.org": a conda token travels in the URL path'],
    secrets: ['tok-rattler', 'hpw-rattler', 'ctok-rattler'],
  },
];

describe.each(CASES)('credmux import $source', (c) => {
  it('--dry-run lists without secrets and stores nothing; import round-trips; a second import finds it present', async () => {
    h = await newHome(`import-${c.source}`);
    write(c.file, c.text);
    const dry = await h.credmux(['import', c.source, '--dry-run']);
    expect(dry.code, show(dry)).toBe(0);
    expect(dry.stdout).toContain('would import');
    for (const s of c.secrets) expect(dry.stdout + dry.stderr).not.toContain(s);
    for (const [url] of c.expect) expect(await h.served(url)).toBeNull();

    const r = await h.credmux(['import', c.source]);
    expect(r.code, show(r)).toBe(0);
    for (const s of c.secrets) expect(r.stdout + r.stderr).not.toContain(s);
    for (const said of c.says ?? []) expect(r.stdout).toContain(said);
    for (const [url, cred] of c.expect) expect(await h.served(url), url).toEqual(cred);
    if (c.source === 'docker') {
      // containers/image asks for Docker Hub as docker.io: the helper answers every alias from the one import.
      const hub = await run(distBin('docker-credential-credmux'), ['get'], { env: h.env, input: 'docker.io' });
      expect(JSON.parse(hub.stdout), show(hub)).toEqual({ ServerURL: 'docker.io', Username: '<token>', Secret: 'idtok-dock' });
    }

    const again = await h.credmux(['import', c.source]);
    expect(again.code, show(again)).toBe(0);
    expect(again.stdout).toMatch(/Imported 0, already present [1-9]/);
  });
});

describe('credmux import across files', () => {
  it('no argument: every file found; a malformed file is named, the others still import (exit 6)', async () => {
    h = await newHome('import-all');
    write('.netrc', 'machine a.example.com login alice password apw-all\n');
    write('.docker/config.json', '{"auths": {"x.io": {"auth": "c2VjcmV0LWluLWJyb2tlbi1maWxl"}');
    write('.pypirc', '[pypi]\nusername = __token__\npassword = pypi-all\n');
    const r = await h.credmux(['import']);
    expect(r.code, show(r)).toBe(6);
    expect(r.stdout).toMatch(/docker {2}~\/\.docker\/config\.json: malformed, not valid JSON/);
    expect(r.stdout + r.stderr).not.toMatch(/apw-all|pypi-all|c2VjcmV0|secret-in-broken-file/);
    expect(await h.served('https://a.example.com')).toEqual({ kind: 'basic', username: 'alice', secret: 'apw-all' });
    expect(await h.served('https://upload.pypi.org/legacy/')).toEqual({ kind: 'basic', username: '__token__', secret: 'pypi-all' });
    expect(r.stdout).toContain('No file for: git');
  });

  it('a conflict (same URL and user, another secret) is reported with the fix and not overwritten', async () => {
    h = await newHome('import-conflict');
    await h.login('https://a.example.com', 'alice', 'stored-first');
    write('.netrc', 'machine a.example.com login alice password from-netrc\nmachine b.example.com login bob password bpw\n');
    const dry = await h.credmux(['import', 'netrc', '--dry-run']);
    expect(dry.code).toBe(6);
    expect(dry.stdout).toMatch(/conflict +https:\/\/a\.example\.com {2}alice/);
    const r = await h.credmux(['import', 'netrc']);
    expect(r.code, show(r)).toBe(6);
    expect(r.stdout).toContain('a different secret is already stored for this URL and user; kept it');
    expect(r.stdout).toContain('credmux logout https://a.example.com --username alice && credmux import netrc');
    expect(r.stdout + r.stderr).not.toMatch(/stored-first|from-netrc|bpw/);
    expect(await h.served('https://a.example.com')).toEqual({ kind: 'basic', username: 'alice', secret: 'stored-first' });
    expect(await h.served('https://b.example.com')).toEqual({ kind: 'basic', username: 'bob', secret: 'bpw' });
  });

  it('a named source with no file exits 1 and says where it looked', async () => {
    h = await newHome('import-none');
    const r = await h.credmux(['import', 'rattler']);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toContain('Not found: rattler (~/.rattler/credentials.json)');
  });

  it('honours NETRC, DOCKER_CONFIG, UV_CREDENTIALS_DIR and RATTLER_AUTH_FILE', async () => {
    h = await newHome('import-env');
    const netrc = join(h.root, 'my-netrc');
    writeFileSync(netrc, 'machine n.example.com login u password pn\n');
    const rattler = join(h.root, 'auth.json');
    writeFileSync(rattler, JSON.stringify({ 'r.example.com': { BearerToken: 'pr' } }));
    const uvDir = join(h.root, 'uvcreds');
    mkdirSync(uvDir);
    writeFileSync(join(uvDir, 'credentials.toml'), '[[credential]]\nservice = "https://u.example.com"\nusername = "u"\npassword = "pu"\n');
    const env = { ...h.env, NETRC: netrc, RATTLER_AUTH_FILE: rattler, UV_CREDENTIALS_DIR: uvDir };
    const r = await h.credmux(['import', 'netrc', 'rattler', 'uv'], { env });
    expect(r.code, show(r)).toBe(0);
    expect(await h.served('https://n.example.com')).toMatchObject({ secret: 'pn' });
    expect(await h.served('https://r.example.com')).toMatchObject({ secret: 'pr', kind: 'bearer' });
    expect(await h.served('https://u.example.com')).toMatchObject({ secret: 'pu' });
  });
});
