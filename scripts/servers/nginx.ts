// A private nginx (Debian's never starts by itself: policy-rc.d) on 127.0.0.1, with auth_basic
// and an access log that records who authenticated. Shared by the git and PyPI servers.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpGet, readLines, superviseProcess, waitReady, withFreePort, run, type Supervised } from './process.js';

/** One request as the server saw it. `user` is the Basic-auth user sent (even when rejected). */
export interface AuthLogLine {
  user: string;
  status: number;
  method: string;
  uri: string;
}

/** Writes an htpasswd file with one bcrypt entry (what both nginx and docker-registry accept). */
export async function writeHtpasswd(file: string, user: string, password: string): Promise<void> {
  // -i reads the password from stdin, keeping it off the command line (ps shows argv).
  const line = await run('htpasswd', ['-niB', user], { input: password });
  await writeFile(file, line, { mode: 0o600 });
}

export interface NginxServer {
  port: number;
  dir: string;
  proc: Supervised;
  requestLog(): Promise<AuthLogLine[]>;
}

/**
 * Starts nginx with `serverBody` (the `location` blocks) inside a server on 127.0.0.1:<port>.
 * Adds an unauthenticated `/__ready` that answers a nonce, so readiness can't be faked by
 * another process that happens to hold the port.
 */
export async function startNginx(dir: string, serverBody: string): Promise<NginxServer> {
  for (const d of ['body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) await mkdir(join(dir, 'tmp', d), { recursive: true });
  const accessLog = join(dir, 'access.log');
  const errorLog = join(dir, 'error.log');
  const nonce = randomBytes(8).toString('hex');

  return withFreePort(async (port) => {
    const conf = join(dir, 'nginx.conf');
    await writeFile(
      conf,
      `daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;  # workers must read our 0700 temp dir' : ''}
pid ${dir}/nginx.pid;
error_log ${errorLog} warn;
events { worker_connections 128; }
http {
  client_body_temp_path ${dir}/tmp/body;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  proxy_temp_path ${dir}/tmp/proxy;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  types { text/html html; application/octet-stream whl; }
  default_type application/octet-stream;
  # $remote_user is the Basic-auth user as sent, so tests pair it with $status.
  log_format credmux escape=json '{"user":"$remote_user","status":$status,"method":"$request_method","uri":"$request_uri"}';
  access_log ${accessLog} credmux;
  server {
    listen 127.0.0.1:${port};
    location = /__ready { access_log off; return 200 "${nonce}"; }
${serverBody}
  }
}
`,
    );
    // -e: the error log before the config is read (else nginx tries /var/log/nginx/error.log).
    const proc = superviseProcess('nginx', ['-e', errorLog, '-p', dir, '-c', conf], {
      cwd: dir,
      logFile: join(dir, 'nginx.out'),
      rmOnOrphan: dir,
    });
    const ok = await waitReady(proc, async () => (await httpGet(`http://127.0.0.1:${port}/__ready`)).body === nonce);
    if (!ok) {
      const exited = proc.hasExited();
      await proc.stop();
      const why = readLines(errorLog)
        .concat(readLines(join(dir, 'nginx.out')))
        .join('\n');
      // Lost the port to another process: try another. Anything else is a real failure.
      if (!exited || why.includes('Address already in use')) return undefined;
      throw new Error(`nginx did not start:\n${why}`);
    }
    return {
      port,
      dir,
      proc,
      requestLog: async () => readLines(accessLog).map((l) => JSON.parse(l) as AuthLogLine),
    };
  });
}
