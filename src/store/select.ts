// Chooses the secret store from the environment alone (nothing cached, so a long-lived process that
// calls it again sees the session as it is now). CREDMUX_STORE=auto|keychain|file.
//
// auto: macOS and Windows always have a keychain. Elsewhere the keychain is used only when the probe
// proves a live session bus with an unlocked Secret Service on it, in ≤ 500 ms; anything less means
// a request could hang, prompt or land in the kernel keyring, so the file store is used instead.
import { dataDir, type Env } from '../platform/paths.js';
import { CredmuxError } from '../model/types.js';
import { FileStore } from './file.js';
import { KeychainStore } from './keychain.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probeSecretService } from './secret-service-probe.js';
import type { SecretStore } from './types.js';

const CHOICES = ['auto', 'keychain', 'file'] as const;
type Choice = (typeof CHOICES)[number];

export interface OpenStoreOptions {
  /** For tests: pretend to run on another platform. */
  platform?: NodeJS.Platform;
  probeTimeoutMs?: number;
  keychainTimeoutMs?: number;
}

export async function openStore(env: Env, opts: OpenStoreOptions = {}): Promise<{ store: SecretStore; reason: string }> {
  const choice = readChoice(env);
  const file = (why: string): { store: SecretStore; reason: string } => {
    const store = new FileStore(dataDir(env));
    return { store, reason: `file store at ${store.file}: ${why}` };
  };
  const keychain = (why: string): { store: SecretStore; reason: string } => {
    const store = new KeychainStore({ env, timeoutMs: opts.keychainTimeoutMs, platform: opts.platform });
    return { store, reason: `OS keychain (${store.location}): ${why}` };
  };

  if (choice === 'file') return file('CREDMUX_STORE=file');
  const platform = opts.platform ?? process.platform;
  if (platform === 'darwin' || platform === 'win32') return keychain(`CREDMUX_STORE=${choice}`);

  const probe = await probeSecretService(env.DBUS_SESSION_BUS_ADDRESS, opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
  if (probe.ok) return keychain(`CREDMUX_STORE=${choice} and an unlocked Secret Service answers`);
  if (choice === 'auto') return file(probe.problem);
  throw new CredmuxError(
    'store',
    `CREDMUX_STORE=keychain, but the OS keychain is not usable: ${probe.problem}. ` +
      'Run credmux inside a desktop or D-Bus session with an unlocked keyring ' +
      "(e.g. dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets < password-file; …'), " +
      'or set CREDMUX_STORE=file',
  );
}

/**
 * Which store openStore would open now, by kind and location, without keeping it: for a daemon that
 * checks its store is still the session's (src/daemon/store-watch.ts).
 */
export async function storeChoice(env: Env, opts: OpenStoreOptions = {}): Promise<{ kind: SecretStore['kind']; location: string }> {
  const { store } = await openStore(env, opts);
  if (store instanceof KeychainStore) store.close();
  return { kind: store.kind, location: store.location };
}

function readChoice(env: Env): Choice {
  const raw = (env.CREDMUX_STORE ?? '').trim();
  if (raw === '') return 'auto';
  if ((CHOICES as readonly string[]).includes(raw)) return raw as Choice;
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  throw new CredmuxError('config', `CREDMUX_STORE="${shown}" is not valid; use one of: ${CHOICES.join(', ')} (default auto)`);
}
