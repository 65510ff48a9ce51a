// Tells a long-lived process (the daemon) when the session's choice of store may have changed, as it
// happens: a Secret Service taking or losing its name on the session bus (gnome-keyring starting,
// exiting), a keyring locked or unlocked (its properties changing), or the bus itself going away. The
// daemon then chooses again (src/daemon/store-watch.ts). One D-Bus connection held open, subscribed to
// those signals; nothing is polled. Best effort: without a usable bus there is nothing to watch.
import { DBusConnection, parseBusAddress } from './dbus-connection.js';

const SECRETS = 'org.freedesktop.secrets';

/** How long connecting may take before the watch gives up (the daemon still looks now and then). */
const OPEN_TIMEOUT_MS = 1_000;

const MATCHES = [
  `type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${SECRETS}'`,
  `type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/secrets'`,
];

/**
 * Calls `onChange` whenever the Secret Service on the bus at `address` may have come, gone, locked or
 * unlocked, and once if the bus connection is lost. Resolves with the function that stops watching;
 * a bus that cannot be watched resolves with one that does nothing.
 */
export async function watchSecretService(address: string | undefined, onChange: () => void): Promise<() => void> {
  const bus = address === undefined ? undefined : parseBusAddress(address);
  if (!bus || 'problem' in bus) return () => {};
  // The signal bounds the connection's life (dbus-connection.ts): aborted only to stop, or when
  // connecting takes too long.
  const life = new AbortController();
  const tooSlow = setTimeout(() => life.abort(), OPEN_TIMEOUT_MS);
  let conn: DBusConnection;
  try {
    conn = await DBusConnection.open(bus, life.signal);
    for (const rule of MATCHES) {
      await conn.call({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'AddMatch',
        args: [{ type: 's', value: rule }],
      });
    }
  } catch {
    life.abort();
    return () => {};
  } finally {
    clearTimeout(tooSlow);
  }
  let stopped = false;
  conn.unref();
  conn.onSignal = (m) => {
    if (!stopped && (m.member === 'NameOwnerChanged' || m.member === 'PropertiesChanged')) onChange();
  };
  conn.onClose = () => {
    if (!stopped) onChange();
  };
  return () => {
    stopped = true;
    conn.close();
    life.abort();
  };
}
