// A smart-HTTP git server that demands Basic auth: nginx (auth_basic) → fcgiwrap → git http-backend,
// serving one bare repo (one commit on `main`) that accepts pushes.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startNginx, writeHtpasswd, type AuthLogLine } from './nginx.js';
import { makeTempDir, removeDir, run, superviseProcess, waitReady, pollFor, type Supervised } from './process.js';
import { existsSync } from 'node:fs';

export interface GitServer {
  /** The server's temp dir (config, logs, data); removed by stop(). */
  dir: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** `http://127.0.0.1:PORT/repo.git` */
  repoUrl: string;
  /** The bare repository on disk, to check what a push delivered. */
  repoDir: string;
  requestLog(): Promise<AuthLogLine[]>;
  /** Polls the access log until `pred` holds (nginx logs just after it answered). */
  waitForLog(pred: (lines: AuthLogLine[]) => boolean, timeoutMs?: number): Promise<AuthLogLine[]>;
  stop(): Promise<void>;
}

// The git we spawn must not read the machine's or the user's config (safe.directory, helpers…).
const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (args: string[], cwd?: string) => run('git', args, { env: gitEnv, ...(cwd ? { cwd } : {}) });

export async function startGitServer(opts: { user: string; password: string }): Promise<GitServer> {
  const dir = await makeTempDir('git');
  const procs: Supervised[] = [];
  const cleanup = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await removeDir(dir);
  };
  try {
    const root = join(dir, 'repos');
    const repoDir = join(root, 'repo.git');
    await mkdir(root);
    await git(['init', '-q', '--bare', '-b', 'main', repoDir]);
    await git(['config', 'http.receivepack', 'true'], repoDir); // push needs auth AND this
    // One commit with one file, written straight into the bare repo (no work tree needed).
    const blob = (
      await run('git', ['hash-object', '-w', '--stdin'], { cwd: repoDir, env: gitEnv, input: 'hello from the credmux test server\n' })
    ).trim();
    const tree = (await run('git', ['mktree'], { cwd: repoDir, env: gitEnv, input: `100644 blob ${blob}\tREADME\n` })).trim();
    const who = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
    const commit = (await run('git', ['commit-tree', tree, '-m', 'initial'], { cwd: repoDir, env: { ...gitEnv, ...who } })).trim();
    await git(['update-ref', 'refs/heads/main', commit], repoDir);

    await writeHtpasswd(join(dir, 'htpasswd'), opts.user, opts.password);

    // fcgiwrap runs git http-backend per request; its workers are in the supervised group.
    const sock = join(dir, 'fcgiwrap.sock');
    const fcgi = superviseProcess('fcgiwrap', ['-c', '4', '-s', `unix:${sock}`], {
      cwd: dir,
      logFile: join(dir, 'fcgiwrap.log'),
      rmOnOrphan: dir,
    });
    procs.push(fcgi);
    if (!(await waitReady(fcgi, async () => existsSync(sock)))) throw new Error('fcgiwrap did not start');

    const nginx = await startNginx(
      dir,
      `    location / {
      auth_basic "credmux-test-git";
      auth_basic_user_file ${dir}/htpasswd;
      client_max_body_size 0;
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:${sock};
      fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
      fastcgi_param GIT_PROJECT_ROOT ${root};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param GIT_CONFIG_NOSYSTEM 1;
      fastcgi_param PATH_INFO $uri;
      fastcgi_param REMOTE_USER $remote_user;
    }`,
    );
    procs.push(nginx.proc);
    const url = `http://127.0.0.1:${nginx.port}`;
    return {
      dir,
      url,
      port: nginx.port,
      repoUrl: `${url}/repo.git`,
      repoDir,
      requestLog: nginx.requestLog,
      waitForLog: (pred, timeoutMs) => pollFor(nginx.requestLog, pred, timeoutMs),
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
