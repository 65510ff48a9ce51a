// The helper hot path: argv + stdin → adapter → daemon (or the in-process engine) → adapter → stdout.
// Imports here must stay tiny: no yargs, ajv, jose or undici (a test counts what the bundle holds).
import { join } from 'node:path';
import type { Env } from '../platform/paths.js';
import { CredmuxError, type EngineRequest, type LineProtocol, type EngineResult, type ProtocolAdapter, type ProtocolOutput } from '../model/types.js';
import { askDaemon } from './daemon-client.js';
import { runBundle } from './code-cache.js';
import { writeOutput } from './output.js';
import { readStdin } from './stdin.js';

type EngineModule = typeof import('../engine/open.js');

/** The in-process engine: a separate bundle in dist/lib, or the source module under vitest. */
async function loadEngineModule(): Promise<EngineModule> {
  // The constant condition lets esbuild drop the source-mode branch (and its import) from the bundle.
  if (typeof __CREDMUX_BUNDLED__ !== 'undefined') {
    // From its V8 code cache, as the launchers start the helper bundles (src/lib/boot.ts).
    return runBundle(join(__dirname, '../lib/engine.cjs'), require) as EngineModule;
  } else {
    return import('../engine/open.js');
  }
}

/** Opened once per process: the cold path for a token rule resolves in process twice (deferred, then as
 * the fallback when no daemon answers), and opening reads the config and probes the store each time. */
const opened = new Map<Env, ReturnType<EngineModule['openEngine']>>();

export async function resolveInProcess(req: EngineRequest, env: Env, opts: { deferTokens?: boolean } = {}): Promise<EngineResult> {
  try {
    let engine = opened.get(env);
    if (!engine) {
      const { openEngine } = await loadEngineModule();
      engine = openEngine(env);
      opened.set(env, engine);
      engine.catch(() => opened.delete(env)); // a failed open is retried, not remembered
    }
    return await (await engine).handle(req, undefined, opts);
  } catch (e) {
    // The in-process engine is a separate bundle (dist/lib/engine.cjs) with its own copy of the class,
    // so `instanceof` misses its errors (e.g. CREDMUX_STORE=keychain with no usable keychain): match the shape.
    if (e instanceof CredmuxError || isCredmuxError(e)) return { op: 'error', error: { code: e.code, message: e.message } };
    throw e;
  }
}

function isCredmuxError(e: unknown): e is CredmuxError {
  return e instanceof Error && e.name === 'CredmuxError' && typeof (e as { code?: unknown }).code === 'string';
}

/**
 * Answers one request: from the daemon when one answers, else in this process. With no daemon yet,
 * one is started in the background and this call answers in process at once (a stored secret needs
 * no daemon), except for a rule that mints tokens: that waits for the daemon, so a burst of first
 * calls shares one exchange instead of minting one each.
 */
export async function resolveRequest(req: EngineRequest, env: Env, opts: { exitsAfter?: boolean } = {}): Promise<EngineResult> {
  return (await resolveTracked(req, env, opts)).result;
}

/** resolveRequest, telling whether the daemon answered: then nothing of this process is left to finish. */
export async function resolveTracked(
  req: EngineRequest,
  env: Env,
  opts: { exitsAfter?: boolean },
): Promise<{ result: EngineResult; byDaemon: boolean }> {
  if (env.CREDMUX_DAEMON === '0') return { result: await resolveInProcess(req, env), byDaemon: false };
  const viaDaemon = await askDaemon(req, env, { startInBackground: true, leaveOpen: opts.exitsAfter });
  if (viaDaemon) return { result: viaDaemon, byDaemon: true };
  const local = await resolveInProcess(req, env, { deferTokens: true });
  if (!(local.op === 'error' && local.error.code === 'deferred')) return { result: local, byDaemon: false };
  const late = await askDaemon(req, env);
  return late ? { result: late, byDaemon: true } : { result: await resolveInProcess(req, env), byDaemon: false };
}

/** What each protocol says when stdin exceeds the limit, in its own error shape. */
function tooLarge(adapter: ProtocolAdapter): ProtocolOutput {
  const msg = 'input larger than 1 MiB refused';
  switch (adapter.name) {
    case 'docker':
      return { stdout: `${msg}\n`, stderr: '', exitCode: 1 };
    case 'git':
      return { stdout: '', stderr: `credmux: ${msg}\n`, exitCode: 0 };
    case 'bazel':
      return { stdout: '', stderr: `credmux-bazel: ${msg}\n`, exitCode: 2 };
    case 'keyring':
      return { stdout: '', stderr: `keyring: ${msg}\n`, exitCode: 1 };
    case 'terraform':
      return { stdout: '', stderr: `terraform-credentials-credmux: ${msg}\n`, exitCode: 1 };
    case 'go':
      return { stdout: '', stderr: `credmux-go: ${msg}\n`, exitCode: 1 };
    case 'cargo': // the conversation (./conversation.ts) reads lines, each under the limit; this is for completeness
      return (adapter as LineProtocol).tooLarge;
    case 'kubectl': // reads no stdin; here for completeness
      return { stdout: '', stderr: `credmux-kube: ${msg}\n`, exitCode: 1 };
    case 'kubelet':
      return { stdout: '', stderr: `credmux-kubelet: ${msg}\n`, exitCode: 1 };
    case 'pnpm':
      return { stdout: '', stderr: `credmux-pnpm: ${msg}\n`, exitCode: 1 };
  }
}

const NO_STDIN = Buffer.alloc(0);

export async function runAdapter(adapter: ProtocolAdapter, argv: readonly string[], env: Env): Promise<ProtocolOutput> {
  return (await answer(adapter, argv, env)).out;
}

/** The protocol's output for one call, and whether the daemon answered it. */
async function answer(adapter: ProtocolAdapter, argv: readonly string[], env: Env): Promise<{ out: ProtocolOutput; byDaemon: boolean }> {
  const stdin = adapter.readsStdin === false ? { ok: true as const, data: NO_STDIN } : await readStdin();
  if (!stdin.ok) return { out: tooLarge(adapter), byDaemon: false };
  const parsed = adapter.parse(argv, stdin.data, env);
  if (parsed.kind === 'reply') return { out: parsed.output, byDaemon: false };
  // One request per process: it exits once the answer is written.
  const { result, byDaemon } = await resolveTracked(parsed.request, env, { exitsAfter: true });
  return { out: adapter.format(parsed.ctx, result), byDaemon };
}

/**
 * An executable's whole body: run, print, exit with the protocol's code. An answer from the daemon,
 * written whole, exits at once: nothing of this process is left to finish, and Node's teardown on a
 * natural exit (freeing the environment and the heap) costs a warm answer ~0.2-0.3 ms (interleaved
 * CPU time, Node 20). 'exit' listeners still run (a code cache
 * to save). Any other answer lets the event loop empty first: an in-process engine may still be writing,
 * or a stream draining what a full pipe did not take.
 */
export async function runEntry(adapter: ProtocolAdapter, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let out: ProtocolOutput;
  let byDaemon = false;
  try {
    ({ out, byDaemon } = await answer(adapter, argv, process.env));
  } catch (e) {
    // A bug, not a protocol answer: say what kind without echoing data we were handed.
    out = { stdout: '', stderr: `credmux: internal error (${(e as Error)?.name ?? 'unknown'}); please report it\n`, exitCode: 70 };
  }
  if (writeOutput(out) && byDaemon) process.exit(out.exitCode);
  process.exitCode = out.exitCode;
}
