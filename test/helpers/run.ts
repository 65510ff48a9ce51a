// Runs a real client (git, docker, skopeo, pip, a credmux entry) and captures what it did. Never
// throws on a non-zero exit: tests assert on the exit code, and a failure shows both streams.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null (like pip's subprocess). */
  input?: string;
  timeoutMs?: number;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      env: opts.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // A hung client (a prompt we failed to disable, a helper waiting on stdin) must fail the test, not stall it.
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      stderr += `\n[killed after ${opts.timeoutMs ?? 20_000} ms]`;
    }, opts.timeoutMs ?? 20_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) {
      p.stdin!.on('error', () => {}); // the command may exit without reading it
      p.stdin!.end(opts.input);
    }
  });
}

/** For failure messages: what the command printed. */
export function show(r: RunResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}
