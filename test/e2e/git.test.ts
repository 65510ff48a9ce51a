// Real git 2.39 driving git-credential-credmux against a real smart-HTTP server behind Basic auth.
// The server's access log is the witness: a test passes only if the server saw the right user
// authenticate, never merely because git exited 0.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { distBin, requireBuiltAndTools } from '../helpers/dist.js';
import { markLog, summary } from '../helpers/logs.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startGitServer, type GitServer } from '../helpers/servers.js';

const USER = 'alice';
const PASSWORD = 'pw-git-7f3Qx';

let server: GitServer;
let sb: Sandbox;

beforeAll(async () => {
  requireBuiltAndTools(['git', 'nginx', 'fcgiwrap', 'htpasswd']);
  server = await startGitServer({ user: USER, password: PASSWORD });
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(async () => {
  sb = await createSandbox('git');
});
afterEach(async () => {
  await sb.cleanup();
});

/** git with ONLY credmux as helper: the empty value resets any helper the machine configures. */
function git(args: string[], opts: { cwd?: string; input?: string; helper?: boolean } = {}) {
  const helper = opts.helper === false ? [] : ['-c', `credential.helper=${distBin('git-credential-credmux')}`];
  return sb.run('git', ['-c', 'credential.helper=', ...helper, ...args], {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

const authenticatedOk = (lines: { user: string; status: number; uri: string }[], suffix: string) =>
  lines.some((l) => l.uri.endsWith(suffix) && l.status === 200 && l.user === USER);

describe('git clone/push through git-credential-credmux', () => {
  it('uses the credential stored by `credmux login` to clone and push; without it the same clone fails', async () => {
    // Negative control: same command, nothing stored → git gets no password and fails on the 401.
    const before = await markLog(server);
    const denied = await git(['clone', '-q', server.repoUrl, 'denied']);
    expect(denied.code, show(denied)).not.toBe(0);
    expect(denied.stderr).toMatch(/terminal prompts disabled|Authentication failed/);
    const deniedLog = await before.lines((l) => l.some((x) => x.status === 401));
    expect(
      deniedLog.filter((x) => x.status === 200),
      summary(deniedLog).join('\n'),
    ).toEqual([]);

    await sb.login(server.url, USER, PASSWORD);

    const mark = await markLog(server);
    const clone = await git(['clone', '-q', server.repoUrl, 'work']);
    expect(clone.code, show(clone)).toBe(0);
    expect(existsSync(join(sb.root, 'work', 'README'))).toBe(true);

    const work = join(sb.root, 'work');
    const commit = await git(['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '--allow-empty', '-m', 'via credmux'], {
      cwd: work,
    });
    expect(commit.code, show(commit)).toBe(0);
    const push = await git(['push', '-q', 'origin', 'main'], { cwd: work });
    expect(push.code, show(push)).toBe(0);

    const lines = await mark.lines((l) => authenticatedOk(l, '/git-receive-pack'));
    const log = summary(lines).join('\n');
    expect(authenticatedOk(lines, '/git-upload-pack'), log).toBe(true);
    expect(authenticatedOk(lines, '/git-receive-pack'), log).toBe(true);
    // Everything the server answered with 200 was answered to alice.
    expect(
      lines.filter((l) => l.status === 200 && l.user !== USER),
      log,
    ).toEqual([]);
    // git `store`d the credential after each success: still one entry, not a duplicate.
    expect(await sb.listEntries()).toMatchObject([{ url: server.url, username: USER }]);
    // The push really landed.
    const head = await sb.run('git', ['--git-dir', server.repoDir, 'log', '-1', '--format=%s', 'main']);
    expect(head.stdout.trim()).toBe('via credmux');
  });

  it('stores what `git credential approve` hands the helper, and serves it to the next clone', async () => {
    expect(await sb.listEntries()).toEqual([]);
    const approve = await git(['credential', 'approve'], {
      input: `protocol=http\nhost=127.0.0.1:${server.port}\nusername=${USER}\npassword=${PASSWORD}\n\n`,
    });
    expect(approve.code, show(approve)).toBe(0);

    const entries = await sb.listEntries();
    expect(entries).toMatchObject([{ url: server.url, username: USER }]);
    expect(await sb.served(server.url)).toEqual({ username: USER, secret: PASSWORD });

    const mark = await markLog(server);
    const clone = await git(['clone', '-q', server.repoUrl, 'work']);
    expect(clone.code, show(clone)).toBe(0);
    const lines = await mark.lines((l) => authenticatedOk(l, '/git-upload-pack'));
    expect(authenticatedOk(lines, '/git-upload-pack'), summary(lines).join('\n')).toBe(true);
  });

  it('on a wrong stored password the clone fails and git erase removes exactly that entry', async () => {
    await sb.login(server.url, USER, 'not-the-password');
    await sb.login('https://unrelated.example.com', 'bob', 'bobs-secret'); // must survive the erase

    const mark = await markLog(server);
    const clone = await git(['clone', '-q', server.repoUrl, 'work']);
    expect(clone.code, show(clone)).not.toBe(0);
    expect(clone.stderr).toMatch(/Authentication failed/);

    // The server saw alice try, and never let her in.
    const lines = await mark.lines((l) => l.some((x) => x.user === USER && x.status === 401));
    expect(
      lines.some((x) => x.user === USER && x.status === 401),
      summary(lines).join('\n'),
    ).toBe(true);
    expect(lines.filter((x) => x.status === 200)).toEqual([]);

    // git called `erase` with the rejected password: the bad entry is gone, the other one stays.
    const entries = await sb.listEntries();
    expect(entries.map((e) => `${e.url} ${e.username}`)).toEqual(['https://unrelated.example.com bob']);
  });

  it('git credential fill answers only for the stored origin (scheme and port included)', async () => {
    await sb.login(server.url, USER, PASSWORD);
    const fill = (protocol: string, host: string) => git(['credential', 'fill'], { input: `protocol=${protocol}\nhost=${host}\n\n` });

    const hit = await fill('http', `127.0.0.1:${server.port}`);
    expect(hit.code, show(hit)).toBe(0);
    expect(hit.stdout).toContain(`username=${USER}\n`);
    expect(hit.stdout).toContain(`password=${PASSWORD}\n`);

    // An http credential is never offered to https, nor to another port: git has nothing and,
    // unable to prompt, fails.
    for (const [protocol, host] of [
      ['https', `127.0.0.1:${server.port}`],
      ['http', `127.0.0.1:${server.port + 1}`],
    ] as const) {
      const miss = await fill(protocol, host);
      expect(miss.code, `${protocol}://${host}\n${show(miss)}`).not.toBe(0);
      expect(miss.stdout).not.toContain(PASSWORD);
    }
  });
});

describe('credmux import git: a file written by git credential-store', () => {
  it('imports a host with a port (git writes it as host%3aPORT) and the next clone is served from credmux alone', async () => {
    // git's own store helper writes ~/.git-credentials exactly as git does for a user.
    const store = await git(['-c', 'credential.helper=', '-c', 'credential.helper=store', 'credential', 'approve'], {
      helper: false,
      input: `protocol=http\nhost=127.0.0.1:${server.port}\nusername=${USER}\npassword=${PASSWORD}\n\n`,
    });
    expect(store.code, show(store)).toBe(0);
    const file = readFileSync(join(sb.home, '.git-credentials'), 'utf8');
    expect(file).toContain(`@127.0.0.1%3a${server.port}`);

    const imported = await sb.run(sb.bin('credmux'), ['import', 'git']);
    expect(imported.code, show(imported)).toBe(0);
    expect(imported.stdout).toContain(`imported     http://127.0.0.1:${server.port}  ${USER} (basic)`);
    expect(imported.stdout + imported.stderr).not.toContain(PASSWORD);
    rmSync(join(sb.home, '.git-credentials')); // from here on only credmux knows the password

    const mark = await markLog(server);
    const clone = await git(['clone', '-q', server.repoUrl, 'work']);
    expect(clone.code, show(clone)).toBe(0);
    const lines = await mark.lines((l) => authenticatedOk(l, '/git-upload-pack'));
    expect(authenticatedOk(lines, '/git-upload-pack'), summary(lines).join('\n')).toBe(true);
  });
});
