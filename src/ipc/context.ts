// A daemon answers with the config and store of the environment it was started from. A client whose
// environment selects another config or store (CREDMUX_CONFIG, CREDMUX_STORE, XDG_CONFIG_HOME, …)
// must not be answered from the wrong one: each request carries this fingerprint, and on a mismatch
// the daemon declines and the client resolves in process. (The socket path already separates
// different XDG_RUNTIME_DIR/XDG_CACHE_HOME values.)
//
// The session bus is part of it too, unless CREDMUX_STORE=file: in auto (or keychain) mode the store
// is the Secret Service on that bus, so a daemon started from an ssh session (no bus: the file store)
// never answers a desktop session's helpers (the keychain), nor the reverse. Whether the Secret
// Service on one bus is usable can change while a daemon runs: src/daemon/store-watch.ts.
import { resolve } from 'node:path';
import type { Env } from '../platform/paths.js';

/** Settings of the daemon itself or of the client, which do not change what the engine answers. */
const NOT_CONTEXT = new Set(['CREDMUX_DAEMON', 'CREDMUX_DAEMON_BIN', 'CREDMUX_IDLE_TIMEOUT', 'CREDMUX_EXTRA_CA_CERTS']);

/** `cwd`: where a relative CREDMUX_CONFIG is resolved; read only then (a getcwd call every warm answer would pay for nothing). */
export function contextFingerprint(env: Env, cwd?: string): string {
  const picked: string[] = [];
  const fileStore = (env.CREDMUX_STORE ?? '').trim() === 'file';
  const isContext = (name: string) =>
    name === 'HOME' ||
    name === 'XDG_CONFIG_HOME' ||
    name === 'XDG_DATA_HOME' ||
    (name === 'DBUS_SESSION_BUS_ADDRESS' && !fileStore) ||
    (name.startsWith('CREDMUX_') && !NOT_CONTEXT.has(name));
  // Picked, then sorted: a CI runner's environment holds a hundred names or more, and this runs on
  // every warm helper call; sorting only the few that count gives the same order.
  for (const name of Object.keys(env).filter(isContext).sort()) {
    const value = env[name];
    if (value === undefined) continue;
    // A relative config path means the same file for a client and the daemon it spawned (in another cwd) only once resolved.
    picked.push(`${name}=${name === 'CREDMUX_CONFIG' && value ? resolve(cwd ?? process.cwd(), value) : value}`);
  }
  // FNV-1a (32 bit): short and dependency-free; this tells environments apart, it guards no secret.
  let h = 0x811c9dc5;
  const s = picked.join('\0');
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
