// Is an OS keychain really usable on this Linux session? Asked over the wire in pure Node, with a hard
// deadline, before the native keyring is ever loaded: without a bus, @napi-rs/keyring silently falls
// back to the kernel keyring, and against a bus that never answers it blocks its thread forever.
//
// "Usable" means: DBUS_SESSION_BUS_ADDRESS names a Unix socket, a bus answers on it, a Secret Service
// already owns org.freedesktop.secrets (asked with NO_AUTO_START, because an auto-started
// gnome-keyring comes up locked), it has a default collection, and that collection is unlocked
// (a locked one would make every keyring call pop an unlock prompt or wait for one).
import { DBusCallError, DBusConnection, parseBusAddress } from './dbus-connection.js';
import { sleep } from '../platform/sleep.js';
import { FLAG_NO_AUTO_START, readStringBody, readVariantBoolBody } from './dbus-wire.js';

export const DEFAULT_PROBE_TIMEOUT_MS = 500;

export type ProbeResult =
  | { ok: true; bus: string; collection: string }
  /** `problem` is one line for a human: what is missing. `timedOut`: nothing definite was learnt. */
  | { ok: false; problem: string; timedOut?: boolean };

const SECRETS = 'org.freedesktop.secrets';

export async function probeSecretService(address: string | undefined, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  if (!address) return { ok: false, problem: 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)' };
  const bus = parseBusAddress(address);
  if ('problem' in bus) return { ok: false, problem: bus.problem };

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let stage = 'the D-Bus session bus';
  let conn: DBusConnection | undefined;
  try {
    const open = await DBusConnection.open(bus, controller.signal);
    conn = open;
    stage = 'the Secret Service';
    let collection: string;
    try {
      collection = await readDefaultAlias(async () =>
        readStringBody(
          await open.call({
            destination: SECRETS,
            path: '/org/freedesktop/secrets',
            interface: 'org.freedesktop.Secret.Service',
            member: 'ReadAlias',
            args: [{ type: 's', value: 'default' }],
            flags: FLAG_NO_AUTO_START,
          }),
        ),
      );
    } catch (e) {
      if (e instanceof DBusCallError && /ServiceUnknown|NameHasNoOwner/.test(e.errorName)) {
        return { ok: false, problem: `no Secret Service (${SECRETS}) is running on the D-Bus session bus ${bus.display}` };
      }
      throw e;
    }
    if (collection === '/' || collection === '') {
      return { ok: false, problem: `the Secret Service on ${bus.display} has no default keyring` };
    }
    const locked = readVariantBoolBody(
      await conn.call({
        destination: SECRETS,
        path: collection,
        interface: 'org.freedesktop.DBus.Properties',
        member: 'Get',
        args: [
          { type: 's', value: 'org.freedesktop.Secret.Collection' },
          { type: 's', value: 'Locked' },
        ],
        flags: FLAG_NO_AUTO_START,
      }),
    );
    if (locked) return { ok: false, problem: `the default keyring (${collection}) on ${bus.display} is locked` };
    return { ok: true, bus: bus.display, collection };
  } catch (e) {
    if (controller.signal.aborted) {
      return { ok: false, problem: `${stage} at ${bus.display} did not answer within ${timeoutMs}ms`, timedOut: true };
    }
    return { ok: false, problem: `${stage} at ${bus.display} is not usable: ${describe(e)}` };
  } finally {
    clearTimeout(timer);
    conn?.close();
    controller.abort(); // destroys the socket if open() is still half-way
  }
}

/** How many times "no default collection" is asked again before it is believed. */
export const NO_DEFAULT_RETRIES = 2;

/**
 * ReadAlias("default"), asking again (on the same connection, after 20 then 40 ms) when the answer
 * is "/". gnome-keyring answers "/" for a collection that exists when it has not yet registered the
 * calling connection as a client (a race it loses under concurrent connections: its log then shows
 * `gkd_secret_service_get_pkcs11_session: assertion 'client' failed`); seen in CI as one helper of
 * six writing at once told "no default keyring". A keyring that really has no default costs 60 ms more.
 */
export async function readDefaultAlias(read: () => Promise<string>, pause: (ms: number) => Promise<void> = sleep): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const path = await read();
    if ((path !== '/' && path !== '') || attempt >= NO_DEFAULT_RETRIES) return path;
    await pause(20 * 2 ** attempt);
  }
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'the socket does not exist';
  if (code === 'ECONNREFUSED') return 'nothing is listening on the socket';
  if (code === 'EACCES') return 'permission denied on the socket';
  if (e instanceof DBusCallError) return `it answered ${e.errorName}`;
  return e instanceof Error ? e.message : String(e);
}
