// doctor: credentials left in the store this session does not use. After moving from an ssh session
// (the file store) to a desktop one (the OS keychain) — or CREDMUX_STORE changed — what was stored
// before is still there but no helper here serves it: "3 credentials in the file store are not served
// here". Counted by (URL, username) against this session's entries; never a secret shown.
import type { StoredEntry } from '../../model/types.js';
import { dataDir, type Env } from '../../platform/paths.js';
import { FileStore } from '../../store/file.js';
import { KeychainStore } from '../../store/keychain.js';
import { probeSecretService } from '../../store/secret-service-probe.js';
import type { SecretStore } from '../../store/types.js';
import { describeStore } from '../daemon-store-sync.js';
import { withTimeout, type Check } from './check.js';

const TIMEOUT_MS = 3_000;
/** Shown by URL and username; more than this are summed up. */
const SHOWN = 10;

export async function checkOtherStore(env: Env, current: SecretStore, entries: StoredEntry[]): Promise<Check[]> {
  const other = await otherStore(env, current);
  if (!other) return [];
  let theirs: StoredEntry[];
  try {
    theirs = await withTimeout(other.list(), TIMEOUT_MS, `the ${other.kind} store`);
  } catch {
    return []; // unreadable or unreachable: nothing can be said about what is in it
  } finally {
    if (other instanceof KeychainStore) other.close();
  }
  const here = new Set(entries.map((e) => `${e.url}\n${e.username}`));
  const left = theirs.filter((e) => !here.has(`${e.url}\n${e.username}`));
  if (left.length === 0) return [];
  const n = left.length;
  const name = other.kind === 'file' ? 'the file store' : 'the OS keychain';
  return [
    {
      section: 'credmux',
      area: 'store',
      status: 'warn',
      summary: `${n} credential${n === 1 ? '' : 's'} in ${name} ${n === 1 ? 'is' : 'are'} not served here (this session uses the ${describeStore(current)})`,
      details: [
        ...left.slice(0, SHOWN).map((e) => `${e.url}  ${e.username === '' ? '(no username)' : e.username} (${e.kind})`),
        ...(n > SHOWN ? [`… and ${n - SHOWN} more`] : []),
        `in the ${describeStore(other)}`,
      ],
      fix: `credmux import store --from ${other.kind} --dry-run   (then without --dry-run: copies them, keeping what is here)`,
    },
  ];
}

/**
 * The store this session does not use, when it can be read from here: the file store beside the
 * keychain; the keychain beside the file store only where one answers (CREDMUX_STORE=file in a desktop
 * session) — in auto mode the file store is used precisely because none does.
 */
async function otherStore(env: Env, current: SecretStore): Promise<SecretStore | undefined> {
  if (current.kind === 'keychain') return new FileStore(dataDir(env));
  if (current.kind !== 'file' || (env.CREDMUX_STORE ?? '').trim() !== 'file') return undefined;
  if (!(await probeSecretService(env.DBUS_SESSION_BUS_ADDRESS)).ok) return undefined;
  return new KeychainStore({ env });
}
