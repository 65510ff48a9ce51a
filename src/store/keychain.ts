// The OS keychain store (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows)
// through @napi-rs/keyring, one item per entry (layout in keychain-codec.ts).
//
// Every call is bounded (default 2 s) by running the native keyring in a helper process
// (keychain-agent.ts). On Linux each call is preceded by the pure-Node Secret Service probe (~2 ms):
// a keyring locked since the store was opened would otherwise make the native keyring ask for an
// unlock prompt, and no helper path may prompt.
//
// Writes are serialised across processes by a lock under the data directory, so remove()'s
// find-then-delete and concurrent puts of one key cannot interleave. version() is a generation file
// in that directory, rewritten after every write: cheap to stat, but blind to changes made by other
// programs (secret-tool, Seahorse) — those show up after a daemon restart.
import { fsp } from '../platform/lazy-fs.js';
import { fileIdentity } from '../platform/file-identity.js';
import { join } from 'node:path';
import { dataDir, type Env } from '../platform/paths.js';
import { CredmuxError, type EntryKey, type StoredEntry } from '../model/types.js';
import { writeFileAtomic } from '../platform/atomic-write.js';
import { entryForPut } from './entry.js';
import { withFileLock } from './file-lock.js';
import { storeFsError } from './fs-errors.js';
import { AgentError, KeychainAgent, type AgentRequest } from './keychain-agent.js';
import { decodeItem, encodeAccount, encodePassword } from './keychain-codec.js';
import { parseBusAddress } from './dbus-connection.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probeSecretService } from './secret-service-probe.js';
import { ensurePrivateDir } from './secure-dir.js';
import type { SecretStore, WriteOptions } from './types.js';

export const KEYCHAIN_SERVICE = 'credmux';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 2000;

export interface KeychainStoreOptions {
  /** The environment of the keychain helper; its DBUS_SESSION_BUS_ADDRESS picks the bus on Linux. */
  env: Env;
  timeoutMs?: number;
  /** The item namespace; tests use their own. */
  service?: string;
  /** Where the write lock and the generation file live; default dataDir(env). */
  lockDir?: string;
  platform?: NodeJS.Platform;
  /** Probe the Secret Service before each call (Linux). Tests turn it off to reach the helper's own bounds. */
  preflight?: boolean;
}

export class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const;
  readonly location: string;
  private readonly agent: KeychainAgent;
  private readonly service: string;
  private readonly timeoutMs: number;
  private readonly lockDir: string;
  private readonly platform: NodeJS.Platform;
  private readonly bus: string | undefined;
  private readonly busAddress: string | undefined;
  private readonly preflight: boolean;
  /** Writers in this process queue here first, so they do not spin on their own lock. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: KeychainStoreOptions) {
    this.service = opts.service ?? KEYCHAIN_SERVICE;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_KEYCHAIN_TIMEOUT_MS;
    this.lockDir = opts.lockDir ?? dataDir(opts.env);
    this.platform = opts.platform ?? process.platform;
    this.busAddress = opts.env.DBUS_SESSION_BUS_ADDRESS;
    const parsed = this.busAddress === undefined ? undefined : parseBusAddress(this.busAddress);
    this.bus = parsed && 'display' in parsed ? parsed.display : this.busAddress;
    this.preflight = (opts.preflight ?? true) && this.platform !== 'darwin' && this.platform !== 'win32';
    this.agent = new KeychainAgent({ env: opts.env, service: this.service, timeoutMs: this.timeoutMs });
    const backend =
      this.platform === 'darwin'
        ? 'macOS Keychain'
        : this.platform === 'win32'
          ? 'Windows Credential Manager'
          : `Secret Service on ${this.bus ?? 'the session bus'}`;
    this.location = `${backend}, service "${this.service}"`;
  }

  async list(): Promise<StoredEntry[]> {
    const found = (await this.ask({ op: 'find' }, 'list the keychain items')) as { account: string; password: string }[];
    return found.map(({ account, password }) => this.decode(account, password));
  }

  async get(key: EntryKey): Promise<StoredEntry | undefined> {
    const account = encodeAccount(key);
    const password = (await this.ask({ op: 'get', account }, 'read a keychain item')) as string | null;
    return password === null ? undefined : this.decode(account, password);
  }

  async put(entry: StoredEntry, opts: WriteOptions = {}): Promise<void> {
    const e = entryForPut(entry);
    const password = encodePassword(e);
    await this.locked(async () => {
      opts.guard?.();
      await this.ask({ op: 'set', account: encodeAccount(e), password }, 'write a keychain item', [password, e.secret, e.oauthRefreshToken ?? '']);
    });
  }

  async remove(predicate: (entry: StoredEntry) => boolean, opts: WriteOptions = {}): Promise<number> {
    return this.locked(async () => {
      let removed = 0;
      const doomed = (await this.list()).filter((e) => predicate(e));
      if (doomed.length) opts.guard?.();
      for (const e of doomed) {
        if (await this.ask({ op: 'delete', account: encodeAccount(e) }, 'delete a keychain item')) removed++;
      }
      return removed;
    });
  }

  async version(): Promise<string> {
    try {
      return fileIdentity(await fsp().stat(this.generationFile()));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
      throw storeFsError(`cannot inspect ${this.generationFile()}`, e);
    }
  }

  /** Stops the keychain helper process now (it also stops when this process exits). */
  close(): void {
    this.agent.close();
  }

  private generationFile(): string {
    return join(this.lockDir, `keychain-${this.service}.generation`);
  }

  /** Runs a write under the inter-process lock, then bumps the generation so daemons reload. */
  private locked<T>(write: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      await ensurePrivateDir(this.lockDir, true);
      const lockPath = join(this.lockDir, `keychain-${this.service}.lock`);
      return withFileLock(lockPath, `the keychain (${this.location})`, async (assertHeld) => {
        assertHeld();
        try {
          return await write();
        } finally {
          // Even a failed write may have changed something (a partial remove): always bump.
          await writeFileAtomic(this.generationFile(), `${Date.now()}-${process.pid}-${Math.random()}\n`).catch(() => {});
        }
      });
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  private async ask(req: AgentRequest, doing: string, sensitive: string[] = []): Promise<unknown> {
    if (this.preflight) {
      const budget = Math.min(DEFAULT_PROBE_TIMEOUT_MS, this.timeoutMs);
      const probe = await probeSecretService(this.busAddress, budget);
      if (!probe.ok) {
        const lead = probe.timedOut
          ? `the OS keychain did not answer within ${duration(budget)} (trying to ${doing})`
          : `cannot ${doing} in the OS keychain`;
        throw new CredmuxError('store', `${lead}: ${probe.problem}; ${this.fix()}, or set CREDMUX_STORE=file`);
      }
    }
    try {
      return await this.agent.call(req, sensitive);
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      throw new CredmuxError('store', this.explain(e, doing));
    }
  }

  private fix(): string {
    if (this.platform === 'darwin') return 'unlock the login keychain (security unlock-keychain)';
    if (this.platform === 'win32') return 'check that the Credential Manager service is running';
    return `check that a Secret Service (e.g. gnome-keyring-daemon) is running and unlocked on the D-Bus session bus ${this.bus ?? '(DBUS_SESSION_BUS_ADDRESS unset)'}`;
  }

  private explain(e: AgentError, doing: string): string {
    if (e.reason === 'timeout')
      return `the OS keychain did not answer within ${duration(this.timeoutMs)} (trying to ${doing}); ${this.fix()}, or set CREDMUX_STORE=file`;
    return `cannot ${doing} in the OS keychain: ${e.message}; ${this.fix()}, or set CREDMUX_STORE=file`;
  }

  private decode(account: string, password: string): StoredEntry {
    const d = decodeItem(account, password);
    if ('entry' in d) return d.entry;
    // Not dropped silently: a damaged item would otherwise vanish from `list` and be unservable.
    const clear = this.platform === 'linux' ? ` (e.g. secret-tool clear service ${this.service} username '${account}')` : '';
    throw new CredmuxError(
      'store',
      `the keychain item "${account}" (service "${this.service}") is not a valid credmux entry: ${d.problem}. Remove or fix it${clear}, then store it again`,
    );
  }
}

const duration = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
