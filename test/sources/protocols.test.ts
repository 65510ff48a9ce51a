// Each token source through all four protocols, driving the BUILT entries (dist/bin) as Bazel, git,
// Docker and pip/uv run them: a temp HOME, the file store, a config file, no daemon (in process).
// The token's expiry reaches Bazel as `expires` and git as `password_expiry_utc`; failures reach
// each protocol in its own error shape with the rule, the endpoint and the fix — never a secret.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isolatedEnv, run, type RunResult } from '../cli/run-bin.js';
import { requireBuilt } from '../helpers/dist.js';
import { ROUTES, startTokenServer, type TokenServer } from '../helpers/token-server.js';

let srv: TokenServer;
beforeAll(async () => {
  requireBuilt();
  srv = await startTokenServer();
});
afterAll(() => srv.close());
beforeEach(() => srv.reset());

interface Setup {
  env: Record<string, string>;
  host: string;
}

function setup(rules: unknown[], extraEnv: Record<string, string> = {}): Setup {
  const env = isolatedEnv({ NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', ...extraEnv });
  const dir = join(env.HOME!, '.config', 'credmux');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ rules }, null, 2));
  return { env, host: '' };
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Asks all four protocols for `host` (path /simple/x/) and returns what each printed. */
async function askAll(env: Record<string, string>, host: string) {
  const [bazel, git, docker, keyring] = await Promise.all([
    run('credmux-bazel', ['get'], env, JSON.stringify({ uri: `https://${host}/simple/x/` })),
    run('git-credential-credmux', ['get'], env, `protocol=https\nhost=${host}\npath=simple/x/\n\n`),
    run('docker-credential-credmux', ['get'], env, host),
    run('keyring', ['get', `https://${host}/simple/x/`, '__token__'], env),
  ]);
  return { bazel: bazel!, git: git!, docker: docker!, keyring: keyring! };
}

/** Every protocol served a freshly minted JWT, with its expiry where the protocol carries one. */
function expectServed(out: Awaited<ReturnType<typeof askAll>>, host: string) {
  for (const [name, r] of Object.entries(out)) expect(r.code, `${name}: ${r.stderr}${r.stdout}`).toBe(0);
  const bazel = JSON.parse(out.bazel.stdout) as { headers: { Authorization: string[] }; expires: string };
  const t = bazel.headers.Authorization[0]!.replace(/^Bearer /, '');
  expect(bazel.headers.Authorization).toEqual([`Bearer ${t}`]);
  expect(srv.issued).toContain(t);
  const exp = decodeJwt(t).exp!;
  expect(bazel.expires).toBe(iso(exp));
  const gitTok = /^password=(.*)$/m.exec(out.git.stdout)?.[1];
  expect(decodeJwt(gitTok!).exp).toBeDefined();
  expect(out.git.stdout).toContain('username=__token__\n');
  expect(out.git.stdout).toMatch(/^password_expiry_utc=\d+$/m);
  expect(Number(/^password_expiry_utc=(\d+)$/m.exec(out.git.stdout)![1])).toBe(decodeJwt(gitTok!).exp);
  const docker = JSON.parse(out.docker.stdout) as { ServerURL: string; Username: string; Secret: string };
  expect(docker.ServerURL).toBe(host);
  expect(docker.Username).toBe('__token__');
  expect(srv.issued).toContain(docker.Secret);
  expect(srv.issued).toContain(out.keyring.stdout.trim());
  expect(srv.issued).toContain(gitTok);
}

describe('every token source, through Bazel, git, Docker and keyring (built entries, in process)', () => {
  it('exchange: pyx with an API key stored by `credmux login … --token-stdin` (the key itself is never served)', async () => {
    const host = 'api.pyx.test';
    const s = setup([
      {
        id: 'pyx',
        match: `https://${host}`,
        source: {
          type: 'exchange',
          endpoint: `${srv.url}${ROUTES.pyx}`,
          secret: { stored: `https://${host}` },
          expect: 'jwt',
          allowInsecureHttp: true,
        },
      },
    ]);
    const login = await run('credmux', ['login', `https://${host}`, '--token-stdin'], s.env, `${srv.apiKey}\n`);
    expect(login.code, login.stderr).toBe(0);
    const out = await askAll(s.env, host);
    expectServed(out, host);
    const all = Object.values(out)
      .map((r) => r.stdout + r.stderr)
      .join('\n');
    expect(all).not.toContain(srv.apiKey);
    expect(srv.count(ROUTES.pyx)).toBe(4); // in process: one exchange per helper process (the daemon shares one)
  });

  it('exchange: pyx with PYX_API_KEY from the environment', async () => {
    const host = 'api.pyx.test';
    const s = setup(
      [
        {
          id: 'pyx',
          match: `https://${host}`,
          source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { env: 'PYX_API_KEY' }, allowInsecureHttp: true },
        },
      ],
      { PYX_API_KEY: srv.apiKey },
    );
    expectServed(await askAll(s.env, host), host);
  });

  it('oauth2: `credmux login URL --oauth` (device flow) stores the refresh token; every protocol then gets access tokens', async () => {
    const host = 'git.test';
    srv.device = { polls: ['authorization_pending', 'ok'], interval: 1 };
    const s = setup([
      {
        id: 'git',
        match: `https://${host}`,
        source: {
          type: 'oauth2',
          tokenEndpoint: `${srv.url}${ROUTES.token}`,
          deviceEndpoint: `${srv.url}${ROUTES.device}`,
          clientId: srv.clientId,
          scope: 'offline_access',
          allowInsecureHttp: true,
        },
      },
    ]);
    const login = await run('credmux', ['login', `https://${host}`, '--oauth'], s.env);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`open ${srv.url}/device and enter the code: WDJB-MJHT`);
    expect(login.stderr).toContain('Logged in: stored a refresh token for https://git.test (user __refresh_token__)');
    expect(login.stderr).not.toMatch(/rt-\d+-/);
    // Sequentially: each helper rotates the refresh token and hands the next one on through the store.
    for (const entry of ['credmux-bazel', 'git-credential-credmux', 'docker-credential-credmux', 'keyring'] as const) {
      const stdin = {
        'credmux-bazel': JSON.stringify({ uri: `https://${host}/x` }),
        'git-credential-credmux': `protocol=https\nhost=${host}\n\n`,
        'docker-credential-credmux': host,
        keyring: '',
      }[entry];
      const args = entry === 'keyring' ? ['get', `https://${host}/`, '__token__'] : ['get'];
      const r = await run(entry, args, s.env, stdin);
      expect(r.code, `${entry}: ${r.stderr}${r.stdout}`).toBe(0);
      expect(r.stdout).toContain(srv.issued.at(-1)!);
    }
    const list = await run('credmux', ['list'], s.env);
    expect(list.stdout).toContain('__refresh_token__');
    expect(list.stdout).not.toContain(srv.refreshToken);

    // --json: the answer on stdout for a script, the code to enter still on stderr for the person.
    srv.device = { polls: ['ok'], interval: 1 };
    const again = await run('credmux', ['login', `https://${host}`, '--oauth', '--json'], s.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('enter the code: WDJB-MJHT');
    expect(JSON.parse(again.stdout)).toEqual({
      url: `https://${host}`,
      username: '__refresh_token__',
      kind: 'refresh-token',
      rule: 'git',
      store: { kind: 'file', location: expect.any(String) },
    });
    expect(again.stdout + again.stderr).not.toMatch(/rt-\d+-/);
  });

  it('oidc: GitHub Actions identity → mint, in every protocol', async () => {
    const host = 'pkgs.acme.test';
    const s = setup(
      [
        {
          id: 'ci',
          match: `https://${host}`,
          source: {
            type: 'oidc',
            identity: { provider: 'github', audience: srv.oidcAudience },
            endpoint: `${srv.url}${ROUTES.mint}`,
            allowInsecureHttp: true,
          },
        },
      ],
      { ACTIONS_ID_TOKEN_REQUEST_URL: `${srv.url}${ROUTES.github}?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: srv.githubRequestToken },
    );
    const out = await askAll(s.env, host);
    expectServed(out, host);
    expect(
      Object.values(out)
        .map((r) => r.stdout + r.stderr)
        .join('\n'),
    ).not.toContain(srv.githubRequestToken);
  });

  it('command: a program printing a JWT, in every protocol', async () => {
    const host = 'gar.test';
    const dir = mkdtempSync(join(tmpdir(), 'credmux-cmd-'));
    const jwt = await srv.oidcToken({ expSeconds: 1800 });
    srv.issued.push(jwt); // what the command prints is what every protocol must serve
    writeFileSync(join(dir, 'jwt.txt'), jwt);
    const s = setup([{ id: 'cmd', match: `https://${host}`, source: { type: 'command', command: ['cat', join(dir, 'jwt.txt')], expect: 'jwt' } }]);
    expectServed(await askAll(s.env, host), host);
  });
});

describe('undici and jose load only when a token is minted', () => {
  /** Runs the helper (async: the token server lives in this process) and lists the files it loaded. */
  async function loaded(env: Record<string, string>, uri: string): Promise<string[]> {
    const out = join(mkdtempSync(join(tmpdir(), 'credmux-loaded-')), 'loaded.json');
    // The bundle itself (dist/bin/credmux-bazel is a sh launcher that execs node on it).
    const child = spawn(
      process.execPath,
      ['-r', join(import.meta.dirname, '../perf/record-loaded.cjs'), join(import.meta.dirname, '../../dist/lib/credmux-bazel.cjs'), 'get'],
      {
        env: { ...env, RECORD_LOADED_OUT: out },
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    child.stdin.end(JSON.stringify({ uri }));
    await new Promise((r) => child.on('close', r));
    return (JSON.parse(readFileSync(out, 'utf8')) as { files: string[] }).files
      .filter((f) => !f.endsWith('record-loaded.cjs'))
      .map((f) => f.replace(/^.*\/dist\//, 'dist/'))
      .sort();
  }

  it('in process: an env rule loads the engine only; an exchange rule also loads dist/lib/token-deps.cjs', async () => {
    const s = setup(
      [
        { id: 'static', match: 'https://static.test', source: { type: 'env', var: 'STATIC_TOKEN' } },
        {
          id: 'pyx',
          match: 'https://api.pyx.test',
          source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { env: 'PYX_API_KEY' }, allowInsecureHttp: true },
        },
      ],
      { STATIC_TOKEN: 'static-token-value', PYX_API_KEY: srv.apiKey },
    );
    expect(await loaded(s.env, 'https://static.test/x')).toEqual(['dist/lib/credmux-bazel.cjs', 'dist/lib/engine.cjs']);
    expect(await loaded(s.env, 'https://api.pyx.test/simple/')).toEqual([
      'dist/lib/credmux-bazel.cjs',
      'dist/lib/engine.cjs',
      'dist/lib/token-deps.cjs',
    ]);
    expect(srv.count(ROUTES.pyx)).toBe(1);
  });
});

describe("git's store after a fetch is an echo of the minted token: never written, never re-minted", () => {
  it('with and without capability[]=authtype; the stored API key stays intact', async () => {
    const host = 'api.pyx.test';
    const s = setup([
      {
        id: 'pyx',
        match: `https://${host}`,
        source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { stored: `https://${host}` }, allowInsecureHttp: true },
      },
    ]);
    expect((await run('credmux', ['login', `https://${host}`, '--token-stdin'], s.env, srv.apiKey)).code).toBe(0);
    const storeFile = () => run('credmux', ['list', '--json'], s.env).then((r) => JSON.parse(r.stdout) as { entries: unknown[] });
    const before = await storeFile();
    const get = await run('git-credential-credmux', ['get'], s.env, `protocol=https\nhost=${host}\n\n`);
    expect(get.code).toBe(0);
    // What git sends back after a successful fetch (git >= 2.40 includes the expiry we gave it).
    const echo = `protocol=https\nhost=${host}\n${get.stdout.trim()}\n\n`;
    expect((await run('git-credential-credmux', ['store'], s.env, echo)).code).toBe(0);
    const bearerGet = await run('git-credential-credmux', ['get'], s.env, `capability[]=authtype\nprotocol=https\nhost=${host}\n\n`);
    expect(bearerGet.stdout).toContain('authtype=Bearer');
    expect(
      (
        await run(
          'git-credential-credmux',
          ['store'],
          s.env,
          `capability[]=authtype\nprotocol=https\nhost=${host}\n${bearerGet.stdout.replace('capability[]=authtype\n', '').trim()}\n\n`,
        )
      ).code,
    ).toBe(0);
    expect(await storeFile()).toEqual(before);
    expect(srv.count(ROUTES.pyx)).toBe(2); // the two gets; neither store minted
    // The key still works: a new helper exchanges it successfully.
    expect((await run('credmux-bazel', ['get'], s.env, JSON.stringify({ uri: `https://${host}/simple/` }))).code).toBe(0);
  });
});

describe('failures reach each protocol in its own shape, naming rule, endpoint and fix — never a secret', () => {
  function pyxSetup(): Setup & { host: string } {
    const host = 'api.pyx.test';
    const s = setup(
      [
        {
          id: 'pyx',
          match: `https://${host}`,
          source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}?org=acme`, secret: { env: 'PYX_API_KEY' }, allowInsecureHttp: true },
        },
      ],
      { PYX_API_KEY: srv.apiKey },
    );
    return { ...s, host };
  }

  function check(out: Awaited<ReturnType<typeof askAll>>, text: string) {
    const where: Record<string, keyof RunResult> = { bazel: 'stderr', git: 'stderr', docker: 'stdout', keyring: 'stderr' };
    for (const [name, r] of Object.entries(out)) {
      expect(r.code, name).toBe(1);
      const shown = r[where[name]!] as string;
      expect(shown, name).toContain('rule "pyx" (https://api.pyx.test)');
      expect(shown, name).toContain(`${srv.url}${ROUTES.pyx}`);
      expect(shown, name).toContain(text);
      expect(shown, name).not.toContain('org=acme');
      expect(r.stdout + r.stderr, name).not.toContain(srv.apiKey);
    }
  }

  it('5xx: "keeps retrying with backoff"', async () => {
    srv.setMode(ROUTES.pyx, '500');
    const s = pyxSetup();
    check(await askAll(s.env, s.host), 'answered HTTP 500, server_error; credmux keeps retrying with backoff');
  });

  it('401: which secret was refused and how to replace it', async () => {
    srv.setMode(ROUTES.pyx, '401');
    const s = pyxSetup();
    check(
      await askAll(s.env, s.host),
      'refused the secret in $PYX_API_KEY (HTTP 401, invalid_token: the credential was refused); fix: set PYX_API_KEY to a valid secret',
    );
  });

  it('a missing API key in the store: the exact login command', async () => {
    const host = 'api.pyx.test';
    const s = setup([
      {
        id: 'pyx',
        match: `https://${host}`,
        source: { type: 'exchange', endpoint: `${srv.url}${ROUTES.pyx}`, secret: { stored: 'https://api.pyx.test' }, allowInsecureHttp: true },
      },
    ]);
    const r = await run('credmux-bazel', ['get'], s.env, JSON.stringify({ uri: `https://${host}/simple/` }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fix: credmux login https://api.pyx.test --token-stdin');
    expect(srv.total()).toBe(0);
  });
});
