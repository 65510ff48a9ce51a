// The session's secret store, for a daemon that must keep serving the one its session uses
// (src/daemon/store-watch.ts): which store would open now, and a watch on the session bus for a
// Secret Service coming, going, locking or unlocking. The engine's door to the store layer for it.
import type { Env } from '../platform/paths.js';
import { storeChoice } from '../store/select.js';
import { watchSecretService } from '../store/session-watch.js';

export function sessionStoreChoice(env: Env): Promise<{ kind: string; location: string }> {
  return storeChoice(env);
}

export function watchSessionStore(env: Env, onChange: () => void): Promise<() => void> {
  return watchSecretService(env.DBUS_SESSION_BUS_ADDRESS, onChange);
}
