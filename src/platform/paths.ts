// Every file credmux touches derives from XDG_* with HOME fallbacks, so a test that sets HOME
// (and unsets XDG_*) to a temp dir is fully isolated.
import { join } from 'node:path';

export type Env = Record<string, string | undefined>;

/** The user's home: HOME, else the account's home directory. */
export function home(env: Env): string {
  // node:os only without HOME: loading it costs every helper answer a module it almost never needs.
  return env.HOME || process.getBuiltinModule('node:os').homedir();
}

function xdg(env: Env, name: string, fallback: string[]): string {
  const v = env[name];
  // The XDG spec says relative values are invalid and must be ignored.
  if (v && v.startsWith('/')) return v;
  return join(home(env), ...fallback);
}

export function configDir(env: Env): string {
  return join(xdg(env, 'XDG_CONFIG_HOME', ['.config']), 'credmux');
}

export function configFile(env: Env): string {
  return env.CREDMUX_CONFIG || join(configDir(env), 'config.json');
}

/** The file store lives here (0700). */
export function dataDir(env: Env): string {
  return join(xdg(env, 'XDG_DATA_HOME', ['.local', 'share']), 'credmux');
}

/** Logs and token-state records (never secrets). */
export function stateDir(env: Env): string {
  return join(xdg(env, 'XDG_STATE_HOME', ['.local', 'state']), 'credmux');
}

/** Caches that can be rebuilt at will (the helpers' V8 code caches for a Node they were not built with). */
export function cacheDir(env: Env): string {
  return join(xdg(env, 'XDG_CACHE_HOME', ['.cache']), 'credmux');
}

/** The daemon's socket directory: $XDG_RUNTIME_DIR/credmux, else under the cache dir. */
export function runtimeDir(env: Env): string {
  const rt = env.XDG_RUNTIME_DIR;
  if (rt && rt.startsWith('/')) return join(rt, 'credmux');
  return join(cacheDir(env), 'run');
}
