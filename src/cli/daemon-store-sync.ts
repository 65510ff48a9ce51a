// After the CLI wrote to the store this session uses (login, logout, import), a daemon started from
// this same environment but serving the other store — it chose when the session looked different:
// the keyring not yet unlocked, or gone since — would go on answering the helpers from that one, and
// `credmux login` would seem not to work. Such a daemon is stopped; the next helper starts one on the
// session's store. (The daemon also notices by itself: src/daemon/store-watch.ts; this makes the
// command's own effect certain.) A daemon of another environment is left alone: helpers of this one
// are not answered by it anyway (the caller context).
import { contextFingerprint } from '../ipc/context.js';
import type { Env } from '../platform/paths.js';
import type { Io } from './credentials.js';

export interface StoreName {
  kind: string;
  location: string;
}

export function describeStore(s: StoreName): string {
  return s.kind === 'file' ? `file store (${s.location})` : s.kind === 'keychain' ? `OS keychain (${s.location})` : `${s.kind} store (${s.location})`;
}

export async function keepDaemonOnStore(env: Env, store: StoreName, io: Io): Promise<void> {
  if (env.CREDMUX_DAEMON === '0') return;
  const { daemonStatus, stopDaemon } = await import('../client/daemon-control.js');
  const s = await daemonStatus(env).catch(() => undefined);
  if (!s?.running || !s.store || s.context !== contextFingerprint(env)) return;
  if (s.store.kind === store.kind && s.store.location === store.location) return;
  await stopDaemon(env).catch(() => undefined);
  io.err(
    `Stopped the credmux daemon (pid ${s.pid}): it served the ${describeStore(s.store)}, not the ${describeStore(store)} this session uses; the next request starts one on it\n`,
  );
}
