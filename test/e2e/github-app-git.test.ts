// Real git 2.39 cloning through git-credential-credmux with a GitHub App rule: credmux signs the app
// JWT, mints an installation token at the fake GitHub API (test/helpers/github-server.ts, which
// verifies the JWT), and git presents it as x-access-token to a real smart-HTTP server (nginx + git
// http-backend) that accepts exactly that token. The server's access log is the witness.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { distBin, requireBuiltAndTools } from '../helpers/dist.js';
import { startGitHubServer, type GitHubServer } from '../helpers/github-server.js';
import { markLog, summary } from '../helpers/logs.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startGitServer, type GitServer } from '../helpers/servers.js';

// What the fake GitHub mints next, known in advance so the git server can demand it.
const TOKEN = `ghs_e2e${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;

let server: GitServer;
let gh: GitHubServer;
let sb: Sandbox;

beforeAll(async () => {
  requireBuiltAndTools(['git', 'nginx', 'fcgiwrap', 'htpasswd']);
  [server, gh] = await Promise.all([startGitServer({ user: 'x-access-token', password: TOKEN }), startGitHubServer()]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), gh?.close()]);
});
beforeEach(async () => {
  gh.reset();
  gh.nextToken = TOKEN;
  sb = await createSandbox('ghapp');
  const dir = join(sb.home, '.config', 'credmux');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      rules: [
        {
          id: 'gh-app',
          match: server.url,
          source: {
            type: 'github-app',
            appId: gh.clientId,
            privateKey: { env: 'GH_APP_KEY' },
            installation: { repository: 'acme/app' },
            repositories: ['app'],
            permissions: { contents: 'read' },
            apiUrl: gh.apiUrl,
            allowInsecureHttp: true,
          },
        },
      ],
    }),
  );
});
afterEach(async () => {
  await sb.cleanup();
});

function git(args: string[]) {
  return sb.run('git', ['-c', 'credential.helper=', '-c', `credential.helper=${distBin('git-credential-credmux')}`, ...args], {
    env: { ...sb.env, GH_APP_KEY: gh.privateKeyPem },
  });
}

describe('git clone with a GitHub App installation token', () => {
  it('GitHub down: no token, the clone fails and the server authenticated nobody; then the minted token clones', { timeout: 60_000 }, async () => {
    gh.setMode('500');
    const before = await markLog(server);
    const denied = await git(['clone', '-q', server.repoUrl, 'denied']);
    expect(denied.code, show(denied)).not.toBe(0);
    const deniedLog = await before.lines((l) => l.some((x) => x.status === 401));
    expect(deniedLog.filter((x) => x.status === 200)).toEqual([]);
    expect(gh.issued).toEqual([]);

    gh.setMode('ok');
    await sb.run(distBin('credmux'), ['daemon', 'stop']); // drop the failure's backoff with the daemon
    const mark = await markLog(server);
    const clone = await git(['clone', '-q', server.repoUrl, 'work']);
    expect(clone.code, show(clone)).toBe(0);
    expect(existsSync(join(sb.root, 'work', 'README'))).toBe(true);
    const lines = await mark.lines((l) => l.some((x) => x.uri.endsWith('/git-upload-pack') && x.status === 200));
    expect(
      lines.filter((l) => l.status === 200).map((l) => l.user),
      summary(lines).join('\n'),
    ).not.toContain('');
    expect(lines.some((l) => l.uri.endsWith('/git-upload-pack') && l.status === 200 && l.user === 'x-access-token')).toBe(true);
    expect(gh.issued).toEqual([TOKEN]);
    // The mint GitHub saw was narrowed as the rule says; git's `store` afterwards wrote nothing.
    expect(JSON.parse(gh.requests().at(-1)!.body)).toEqual({ repositories: ['app'], permissions: { contents: 'read' } });
    expect(await sb.listEntries()).toEqual([]);
  });
});
