// Runs @napi-rs/keyring in a helper process and bounds every call in time.
//
// Why a process: the native keyring connects to the bus synchronously inside `new AsyncEntry(…)`,
// on the calling JS thread, and waits forever on a bus that accepts and never answers (measured).
// An AbortSignal never gets a chance to fire, and a worker_thread stuck in native code makes even
// process.exit() hang (Node joins the thread). A child process can always be SIGKILLed. It is
// spawned on first use and reused (one spawn costs ~100 ms; a call on a live one ~1-10 ms), and
// unref'd, so an idle helper never keeps its parent alive; it exits when its stdin closes.
//
// Secrets cross only the pipes (never argv or the environment). The protocol is one JSON object per
// line each way: {id, op, account?, password?} → {id, ok, value | error}.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Env } from '../platform/paths.js';

const HELPER_SOURCE = String.raw`'use strict';
const keyring = require(process.argv[1]);
const service = process.argv[2];
// Pinned to the Secret Service on Linux: never fall back to the kernel keyring (which then fails
// with AccessDenied and may leave a key behind). Ignored on macOS and Windows.
const options = { linux: { store: 'secret-service' } };
const entry = (account) => new keyring.AsyncEntry(service, account, options);
const ops = {
  get: (r) => entry(r.account).getPassword(),
  set: (r) => entry(r.account).setPassword(r.password).then(() => null),
  delete: (r) => entry(r.account).deleteCredential(),
  find: () => keyring.findCredentialsAsync(service),
};
const reply = (m) => process.stdout.write(JSON.stringify(m) + '\n');
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  for (let i; (i = buf.indexOf('\n')) >= 0; ) {
    const req = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    Promise.resolve()
      .then(() => ops[req.op](req))
      .then(
        (value) => reply({ id: req.id, ok: true, value: value === undefined ? null : value }),
        (e) => reply({ id: req.id, ok: false, error: String((e && e.message) || e) }),
      );
  }
});
process.stdin.on('end', () => process.exit(0));
`;

export type AgentRequest =
  { op: 'get'; account: string } | { op: 'set'; account: string; password: string } | { op: 'delete'; account: string } | { op: 'find' };

export class AgentError extends Error {
  constructor(
    readonly reason: 'timeout' | 'failed' | 'unavailable',
    detail: string,
  ) {
    super(detail);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: AgentError) => void;
  timer: NodeJS.Timeout;
}

export interface AgentOptions {
  /** The helper's environment: DBUS_SESSION_BUS_ADDRESS picks the bus. Never carries a secret. */
  env: Env;
  service: string;
  timeoutMs: number;
}

export class KeychainAgent {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stdoutBuf = '';
  private stderrTail = '';

  constructor(private readonly opts: AgentOptions) {}

  /** `sensitive`: strings to scrub from any error text (the password being written). */
  call(req: AgentRequest, sensitive: string[] = []): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      let child: ChildProcessWithoutNullStreams;
      try {
        child = this.child ?? this.start();
      } catch (e) {
        reject(e);
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => this.abandon(new AgentError('timeout', 'no answer')), this.opts.timeoutMs);
      this.pending.set(id, {
        resolve,
        reject: (e) => reject(new AgentError(e.reason, scrub(e.message, sensitive))),
        timer,
      });
      child.stdin.write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  /** Stops the helper (it would also stop by itself when this process exits). */
  close(): void {
    this.abandon(new AgentError('unavailable', 'the keychain store was closed'));
  }

  private start(): ChildProcessWithoutNullStreams {
    let modulePath: string;
    try {
      // In the CJS bundles import.meta is empty; __filename is the bundle's own path there.
      modulePath = process
        .getBuiltinModule('node:module')
        .createRequire(typeof __filename === 'string' ? __filename : import.meta.url)
        .resolve('@napi-rs/keyring');
    } catch {
      throw new AgentError('unavailable', 'the @napi-rs/keyring package is not installed');
    }
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(this.opts.env)) if (v !== undefined) env[k] = v;
    delete env.NODE_OPTIONS; // the helper needs no preloads; keep it lean and predictable
    const { spawn } = process.getBuiltinModule('node:child_process'); // only when the keychain is used
    const child = spawn(process.execPath, ['-e', HELPER_SOURCE, modulePath, this.opts.service], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
      windowsHide: true,
    });
    this.child = child;
    this.stdoutBuf = '';
    this.stderrTail = '';
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as Socket).unref?.();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (this.child !== child) return;
      this.stdoutBuf += chunk;
      for (let i; (i = this.stdoutBuf.indexOf('\n')) >= 0;) {
        const line = this.stdoutBuf.slice(0, i);
        this.stdoutBuf = this.stdoutBuf.slice(i + 1);
        this.onReply(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-400);
    });
    child.stdin.on('error', () => {}); // EPIPE after the helper died: reported by 'exit' below
    child.on('error', (e) => {
      if (this.child === child) this.abandon(new AgentError('unavailable', `cannot start the keychain helper (${e.message})`));
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      const why = signal ? `signal ${signal}` : `exit code ${code}`;
      const tail = this.stderrTail.trim().split('\n').slice(-1)[0];
      this.abandon(new AgentError('failed', `the keychain helper stopped (${why})${tail ? `: ${tail}` : ''}`));
    });
    return child;
  }

  private onReply(line: string): void {
    let msg: { id?: number; ok?: boolean; value?: unknown; error?: string };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
    if (!p || msg.id === undefined) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new AgentError('failed', msg.error ?? 'unknown error'));
  }

  /** A hung or dead helper fails every call queued on it; the next call starts a fresh one. */
  private abandon(error: AgentError): void {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
  }
}

/**
 * The native errors we know never quote a password, but if one ever did, the detail is withheld as a
 * whole: redacting in place would leave a short secret guessable from the gaps.
 */
function scrub(text: string, sensitive: string[]): string {
  return sensitive.some((s) => s && text.includes(s)) ? 'the keychain reported an error (details withheld: they might contain the secret)' : text;
}
