// Runs FileStore operations in separate node processes: concurrency between processes, another
// user (root cannot be denied access, so read-only tests run as `nobody` when we are root), and
// resource limits (ulimit -f) can only be tested from outside the test process. src/store/file.ts is
// bundled with esbuild into a plain .cjs the child requires.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const CHILD_SOURCE = `'use strict';
// Lets a write past 'ulimit -f' fail with EFBIG instead of killing the process.
process.on('SIGXFSZ', () => {});
const { FileStore } = require(process.argv[2]);
const [dir, op] = process.argv.slice(3);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const store = new FileStore(dir);
  try {
    let value = null;
    if (op === 'put') await store.put(JSON.parse(input));
    else if (op === 'list') value = await store.list();
    else if (op === 'version') value = await store.version();
    else throw new Error('unknown op ' + op);
    process.stdout.write(JSON.stringify({ ok: true, value }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, name: e.name, code: e.code, message: e.message }));
  }
});
`;

/** Takes the write lock in a child process and holds it until killed; prints "held" once it has it. */
const HOLDER_SOURCE = `'use strict';
const { withFileLock } = require(process.argv[2]);
withFileLock(process.argv[3], 'a test lock', () => {
  process.stdout.write('held\\n');
  return new Promise(() => {});
});
setInterval(() => {}, 60_000);
`;

export interface ChildResult {
  ok: boolean;
  value?: unknown;
  name?: string;
  code?: string;
  message?: string;
}

export interface ChildRunner {
  /** A world-readable directory holding the bundle and the child script. */
  dir: string;
  run(
    storeDir: string,
    op: 'put' | 'list' | 'version',
    input?: unknown,
    opts?: { uid?: number; gid?: number; ulimitFileBlocks?: number },
  ): Promise<ChildResult>;
  /** A process holding `lockPath` through src/store/file-lock.ts, resolved once it holds it. */
  holdLock(lockPath: string): Promise<ChildProcess>;
}

export async function prepareChildRunner(): Promise<ChildRunner> {
  const dir = await mkdtemp(join(tmpdir(), 'credmux-child-'));
  await chmod(dir, 0o755); // readable by `nobody` too
  /** `src/store/<name>.ts` as a plain .cjs in `dir`, readable by `nobody`. */
  const bundled = async (name: string): Promise<string> => {
    const outfile = join(dir, `${name}.cjs`);
    await build({
      entryPoints: [resolve(import.meta.dirname, `../../src/store/${name}.ts`)],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile,
      logLevel: 'silent',
    });
    await chmod(outfile, 0o644);
    return outfile;
  };
  const bundle = await bundled('file');
  const lockBundle = await bundled('file-lock');
  const script = join(dir, 'child.cjs');
  await writeFile(script, CHILD_SOURCE, { mode: 0o644 });
  const holder = join(dir, 'holder.cjs');
  await writeFile(holder, HOLDER_SOURCE, { mode: 0o644 });

  return {
    dir,
    run(storeDir, op, input, opts = {}) {
      const nodeArgs = [script, bundle, storeDir, op];
      // `ulimit -f` counts 512- or 1024-byte blocks depending on the shell; tests use sizes far apart.
      const [cmd, args] =
        opts.ulimitFileBlocks !== undefined
          ? ['/bin/sh', ['-c', `ulimit -f ${opts.ulimitFileBlocks} && exec "$0" "$@"`, process.execPath, ...nodeArgs]]
          : [process.execPath, nodeArgs];
      return new Promise<ChildResult>((resolvePromise, reject) => {
        const child = spawn(cmd, args as string[], {
          stdio: ['pipe', 'pipe', 'pipe'],
          uid: opts.uid,
          gid: opts.gid,
          env: { PATH: process.env.PATH },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('exit', (code, signal) => {
          try {
            resolvePromise(JSON.parse(out) as ChildResult);
          } catch {
            reject(new Error(`child ${op} exited ${code ?? signal} without a result; stderr: ${err}`));
          }
        });
        child.stdin.end(input === undefined ? '' : JSON.stringify(input));
      });
    },
    holdLock(lockPath) {
      const child = spawn(process.execPath, [holder, lockBundle, lockPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
      return new Promise<ChildProcess>((resolvePromise, reject) => {
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout!.once('data', () => resolvePromise(child));
        child.on('error', reject);
        child.on('exit', (code, signal) => reject(new Error(`the lock holder exited ${code ?? signal} before holding the lock; stderr: ${err}`)));
      });
    },
  };
}
