// Starts a private D-Bus session bus and, on it, an unlocked gnome-keyring Secret Service, under a
// temp HOME/XDG tree, so the keychain tests talk to a real Secret Service without touching the
// user's. Missing tools FAIL the suite (with the install command): a skipped keychain test would
// hide a broken store.
//
// The bus uses its own config with no service directories, so nothing can be D-Bus-activated on it:
// a gnome-keyring auto-started by a client comes up locked (a known flake), and here it cannot happen.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Env } from '../../src/platform/paths.js';
import { DBusConnection, parseBusAddress } from '../../src/store/dbus-connection.js';
import { readUint32Body } from '../../src/store/dbus-wire.js';
import { probeSecretService } from '../../src/store/secret-service-probe.js';

export const KEYRING_PASSWORD = 'credmux-test-keyring-password';

export function requireTools(...tools: string[]): void {
  const dirs = (process.env.PATH ?? '').split(delimiter);
  const missing = tools.filter((t) => !dirs.some((d) => d && existsSync(join(d, t))));
  if (missing.length) {
    throw new Error(
      `${missing.join(', ')} not found on PATH: run scripts/install-test-deps.sh (installs dbus, gnome-keyring, libsecret-tools). ` +
        'The keychain tests need a real Secret Service and are never skipped.',
    );
  }
}

export interface PrivateBus {
  address: string;
  /** An isolated environment: temp HOME and XDG dirs, this bus, and PATH. */
  env: Env;
  root: string;
  stop(): Promise<void>;
}

async function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await waitExit(child, 3000);
}

export async function startPrivateBus(): Promise<PrivateBus> {
  requireTools('dbus-daemon');
  const root = await mkdtemp(join(tmpdir(), 'credmux-bus-'));
  const run = join(root, 'run');
  const home = join(root, 'home');
  await mkdir(run, { mode: 0o700 });
  await mkdir(home, { mode: 0o700 });
  await chmod(run, 0o700);
  const conf = join(root, 'bus.conf');
  await writeFile(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${join(run, 'bus')}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const bus = spawn('dbus-daemon', [`--config-file=${conf}`, '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  bus.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`dbus-daemon printed no address within 10s: ${stderr}`)), 10_000);
    bus.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(t);
        resolve(out.slice(0, nl).trim());
      }
    });
    bus.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`dbus-daemon exited (${code}): ${stderr}`));
    });
  });
  const env: Env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_RUNTIME_DIR: run,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    DBUS_SESSION_BUS_ADDRESS: address,
  };
  return {
    address,
    env,
    root,
    async stop() {
      await stopChild(bus);
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface SecretService extends PrivateBus {
  /** Runs secret-tool against this Secret Service. */
  secretTool(args: string[], input?: string): { status: number | null; stdout: string; stderr: string };
  /** Stops the keyring alone (SIGTERM), leaving the bus: a Secret Service going away from a live session. */
  stopKeyring(): Promise<void>;
  /**
   * For suites whose subject is not the keyring itself: starts gnome-keyring again on the same bus when
   * it is no longer there, and says so on stderr. gnome-keyring-daemon has been seen to exit under a
   * loaded CI machine between one test and the next; keychain.test.ts tests a Secret Service going away.
   */
  ensureUp(): Promise<void>;
}

/**
 * `gnome-keyring-daemon --foreground --unlock --components=secrets` (password on stdin) on `bus`;
 * ready when the probe sees an unlocked default collection. stop() sends it SIGTERM and waits.
 */
export async function startKeyring(bus: PrivateBus): Promise<{ stop(): Promise<void> }> {
  requireTools('gnome-keyring-daemon', 'secret-tool');
  const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
    env: bus.env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  keyring.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  keyring.stdin.end(KEYRING_PASSWORD);

  const deadline = Date.now() + 15_000;
  let last: string;
  for (;;) {
    const probe = await probeSecretService(bus.address, 1000);
    if (probe.ok) break;
    last = probe.problem;
    if (keyring.exitCode !== null || Date.now() > deadline) {
      await stopChild(keyring);
      throw new Error(`gnome-keyring-daemon did not come up unlocked on the private bus: ${last}; stderr: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { stop: () => stopChild(keyring) };
}

/**
 * A private bus plus an unlocked gnome-keyring (startKeyring), started before any client touches the
 * bus. stop() sends SIGTERM to the keyring, then the bus, and removes the temp tree.
 */
export async function startSecretService(): Promise<SecretService> {
  requireTools('dbus-daemon', 'gnome-keyring-daemon', 'secret-tool');
  const bus = await startPrivateBus();
  let keyring: { stop(): Promise<void> };
  try {
    keyring = await startKeyring(bus);
  } catch (e) {
    await bus.stop();
    throw e;
  }
  return {
    async ensureUp() {
      const probe = await probeSecretService(bus.address, 1000);
      if (probe.ok) return;
      process.stderr.write(`secret-service.ts: the test keyring was gone (${probe.problem}); starting it again\n`);
      await keyring.stop();
      keyring = await startKeyring(bus);
    },
    ...bus,
    secretTool(args, input) {
      const r = spawnSync('secret-tool', args, { env: bus.env as NodeJS.ProcessEnv, input, encoding: 'utf8', timeout: 10_000 });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    stopKeyring: () => keyring.stop(),
    async stop() {
      await keyring.stop();
      await bus.stop();
    },
  };
}

/**
 * Owns `name` on the bus and never answers a call: a Secret Service that hangs. close() releases it.
 */
export async function squatName(address: string, name: string): Promise<{ close(): void }> {
  const socket = parseBusAddress(address);
  if ('problem' in socket) throw new Error(socket.problem);
  const conn = await DBusConnection.open(socket, new AbortController().signal);
  const reply = await conn.call({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member: 'RequestName',
    args: [
      { type: 's', value: name },
      { type: 'u', value: 4 }, // DBUS_NAME_FLAG_DO_NOT_QUEUE
    ],
  });
  if (readUint32Body(reply) !== 1) throw new Error(`could not become the primary owner of ${name}`);
  return { close: () => conn.close() };
}
