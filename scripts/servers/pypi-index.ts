// A PEP 503 "simple" index behind Basic auth: nginx `autoindex` over /simple/<project>/ holding a
// wheel built at start-up. Autoindex pages are plain HTML anchors, which is all PEP 503 asks.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNginx, writeHtpasswd, type AuthLogLine } from './nginx.js';
import { makeTempDir, pollFor, removeDir } from './process.js';
import { buildWheel } from './wheel.js';

export interface PypiIndex {
  /** The server's temp dir (config, logs, data); removed by stop(). */
  dir: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** `http://127.0.0.1:PORT/simple/` */
  indexUrl: string;
  /** The index URL with a username (no password), as pip ≤ 26.1 needs to ask keyring. */
  indexUrlFor(user: string): string;
  /** `credmux-probe`; version `0.1`. */
  project: string;
  version: string;
  wheelFilename: string;
  wheelSha256: string;
  requestLog(): Promise<AuthLogLine[]>;
  waitForLog(pred: (lines: AuthLogLine[]) => boolean, timeoutMs?: number): Promise<AuthLogLine[]>;
  stop(): Promise<void>;
}

const PROJECT = 'credmux-probe';
const VERSION = '0.1';

export async function startPypiIndex(opts: { user: string; password: string }): Promise<PypiIndex> {
  const dir = await makeTempDir('pypi');
  let stopNginx: (() => Promise<void>) | undefined;
  const stop = async () => {
    await stopNginx?.();
    await removeDir(dir);
  };
  try {
    const wheel = buildWheel(PROJECT.replace(/-/g, '_'), VERSION);
    const projectDir = join(dir, 'www', 'simple', PROJECT);
    await mkdir(projectDir, { recursive: true });
    await writeFile(join(projectDir, wheel.filename), wheel.data);
    await writeHtpasswd(join(dir, 'htpasswd'), opts.user, opts.password);

    const nginx = await startNginx(
      dir,
      `    root ${dir}/www;
    location / {
      auth_basic "credmux-test-pypi";
      auth_basic_user_file ${dir}/htpasswd;
      autoindex on;
    }`,
    );
    stopNginx = nginx.proc.stop;
    const url = `http://127.0.0.1:${nginx.port}`;
    return {
      dir,
      url,
      port: nginx.port,
      indexUrl: `${url}/simple/`,
      indexUrlFor: (user) => `http://${encodeURIComponent(user)}@127.0.0.1:${nginx.port}/simple/`,
      project: PROJECT,
      version: VERSION,
      wheelFilename: wheel.filename,
      wheelSha256: wheel.sha256,
      requestLog: nginx.requestLog,
      waitForLog: (pred, timeoutMs) => pollFor(nginx.requestLog, pred, timeoutMs),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
