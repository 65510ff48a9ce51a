import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDir, type Env } from '../../src/platform/paths.js';
import { FileStore } from '../../src/store/file.js';
import { KeychainStore } from '../../src/store/keychain.js';
import { NO_DEFAULT_RETRIES, readDefaultAlias } from '../../src/store/secret-service-probe.js';
import { openStore } from '../../src/store/select.js';
import { rejectionOf } from './contract.js';
import { startPrivateBus, startSecretService, squatName, type PrivateBus, type SecretService } from './secret-service.js';

let scratch: string;
let home: string;
let ss: SecretService;
let bareBus: PrivateBus;
let hungBus: PrivateBus;
let squatter: { close(): void };
let silent: Server;
let silentPath: string;
let silentAbstract: Server;
const abstractName = `credmux-test-silent-${process.pid}`;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'credmux-select-'));
  home = join(scratch, 'home');
  [ss, bareBus, hungBus] = await Promise.all([startSecretService(), startPrivateBus(), startPrivateBus()]);
  squatter = await squatName(hungBus.address, 'org.freedesktop.secrets');
  const mute = (): Server => createServer((sock) => sock.on('data', () => {}));
  silentPath = join(scratch, 'silent.sock');
  silent = mute();
  await new Promise<void>((r) => silent.listen(silentPath, r));
  silentAbstract = mute();
  await new Promise<void>((r) => silentAbstract.listen(`\0${abstractName}`, r));
});
afterAll(async () => {
  squatter?.close();
  silent?.close();
  silentAbstract?.close();
  await Promise.all([ss?.stop(), bareBus?.stop(), hungBus?.stop()]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** An isolated environment: temp HOME, no XDG overrides, only what the test adds. */
const envWith = (extra: Env): Env => ({ HOME: home, PATH: process.env.PATH, ...extra });

async function timed(env: Env, opts?: Parameters<typeof openStore>[1]) {
  const t = performance.now();
  const r = await openStore(env, opts);
  const ms = performance.now() - t;
  if (r.store instanceof KeychainStore) r.store.close();
  return { ...r, ms };
}

describe('openStore: CREDMUX_STORE=auto on Linux', () => {
  it('without DBUS_SESSION_BUS_ADDRESS: the file store, decided well under 1 s, and the reason says why', async () => {
    const r = await timed(envWith({}));
    expect(r.store).toBeInstanceOf(FileStore);
    expect(r.store.location).toBe(join(dataDir(envWith({})), 'credentials.json'));
    expect(r.reason).toBe(`file store at ${r.store.location}: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)`);
    expect(r.ms).toBeLessThan(250);
  });

  it('is the default when CREDMUX_STORE is unset or empty', async () => {
    expect((await timed(envWith({ CREDMUX_STORE: '' }))).store.kind).toBe('file');
    expect((await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: ss.address }))).store.kind).toBe('keychain');
  });

  it.each([
    ['a socket path that does not exist', () => `unix:path=${join(scratch, 'nothing-here')}`, /socket does not exist/],
    ['an abstract socket nobody listens on', () => `unix:abstract=credmux-nobody-${process.pid}`, /nothing is listening/],
    ['a transport it cannot probe', () => 'tcp:host=127.0.0.1,port=9', /no unix:path= or unix:abstract= transport/],
  ])('with %s: the file store, fast', async (_label, address, why) => {
    const r = await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: address() }));
    expect(r.store).toBeInstanceOf(FileStore);
    expect(r.reason).toMatch(why);
    expect(r.ms).toBeLessThan(400);
  });

  it.each([
    ['a socket', () => `unix:path=${silentPath}`],
    ['an abstract socket', () => `unix:abstract=${abstractName}`],
  ])('with %s that accepts and never answers: the file store within the 500 ms bound', async (_label, address) => {
    const r = await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: address() }));
    expect(r.store).toBeInstanceOf(FileStore);
    expect(r.reason).toMatch(/the D-Bus session bus at unix:.* did not answer within 500ms/);
    expect(r.ms).toBeGreaterThanOrEqual(450);
    expect(r.ms).toBeLessThan(1500);
  });

  it('with a live bus but no Secret Service on it: the file store, and nothing is auto-started', async () => {
    const r = await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: bareBus.address }));
    expect(r.store).toBeInstanceOf(FileStore);
    expect(r.reason).toMatch(/no Secret Service \(org\.freedesktop\.secrets\) is running on the D-Bus session bus unix:path=/);
    expect(r.ms).toBeLessThan(400);
  });

  it('with a Secret Service that owns its name but never answers: the file store within the bound', async () => {
    const r = await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: hungBus.address }));
    expect(r.store).toBeInstanceOf(FileStore);
    expect(r.reason).toMatch(/the Secret Service at unix:path=.* did not answer within 500ms/);
    expect(r.ms).toBeLessThan(1500);
  });

  it('with a live bus and an unlocked gnome-keyring: the keychain, and it works', async () => {
    const env = envWith({ DBUS_SESSION_BUS_ADDRESS: ss.address });
    const t = performance.now();
    const { store, reason } = await openStore(env);
    const ms = performance.now() - t;
    try {
      expect(store).toBeInstanceOf(KeychainStore);
      expect(reason).toBe(
        `OS keychain (Secret Service on ${ss.address.split(',')[0]}, service "credmux"): CREDMUX_STORE=auto and an unlocked Secret Service answers`,
      );
      expect(ms).toBeLessThan(400);
      // It talks to the bus from `env`, not from process.env.
      await store.put({ url: 'https://select.example', username: 'u', kind: 'basic', secret: 'pw' });
      expect(ss.secretTool(['lookup', 'service', 'credmux', 'username', 'u@https://select.example']).stdout).toContain('"secret":"pw"');
      expect(await store.remove(() => true)).toBe(1);
    } finally {
      (store as KeychainStore).close();
    }
  });

  it('caches nothing: the same process gets the store its env describes, every call', async () => {
    expect((await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: ss.address }))).store.kind).toBe('keychain');
    expect((await timed(envWith({}))).store.kind).toBe('file');
    expect((await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: ss.address }))).store.kind).toBe('keychain');
  });

  it('on macOS and Windows: the keychain without probing', async () => {
    for (const platform of ['darwin', 'win32'] as const) {
      const r = await timed(envWith({}), { platform });
      expect(r.store.kind).toBe('keychain');
      expect(r.reason).toMatch(platform === 'darwin' ? /macOS Keychain/ : /Windows Credential Manager/);
      expect(r.ms).toBeLessThan(100);
    }
  });
});

describe('openStore: explicit choices', () => {
  it('CREDMUX_STORE=file: the file store under dataDir, even with a keychain available', async () => {
    const env = envWith({ CREDMUX_STORE: 'file', DBUS_SESSION_BUS_ADDRESS: ss.address, XDG_DATA_HOME: join(scratch, 'xdg-data') });
    const r = await timed(env);
    expect(r.store).toBeInstanceOf(FileStore);
    expect((r.store as FileStore).dir).toBe(join(scratch, 'xdg-data', 'credmux'));
    expect(r.reason).toBe(`file store at ${join(scratch, 'xdg-data', 'credmux', 'credentials.json')}: CREDMUX_STORE=file`);
  });

  it('CREDMUX_STORE=keychain with a usable keychain: the keychain', async () => {
    const r = await timed(envWith({ CREDMUX_STORE: 'keychain', DBUS_SESSION_BUS_ADDRESS: ss.address }));
    expect(r.store.kind).toBe('keychain');
    expect(r.reason).toMatch(/CREDMUX_STORE=keychain/);
  });

  it('CREDMUX_STORE=keychain without a bus: an error saying what is missing and how to fix it', async () => {
    const t = performance.now();
    const e = await rejectionOf(openStore(envWith({ CREDMUX_STORE: 'keychain' })));
    expect(performance.now() - t).toBeLessThan(250);
    expect(e.code).toBe('store');
    expect(e.message).toMatch(/no D-Bus session bus \(DBUS_SESSION_BUS_ADDRESS unset\)/);
    expect(e.message).toMatch(/gnome-keyring-daemon --unlock/);
    expect(e.message).toMatch(/set CREDMUX_STORE=file/);
  });

  it('CREDMUX_STORE=keychain with a silent bus: the error, within the bound', async () => {
    const t = performance.now();
    const e = await rejectionOf(openStore(envWith({ CREDMUX_STORE: 'keychain', DBUS_SESSION_BUS_ADDRESS: `unix:path=${silentPath}` })));
    expect(performance.now() - t).toBeLessThan(1500);
    expect(e.message).toMatch(/did not answer within 500ms.*CREDMUX_STORE=file/);
  });

  it.each(['bogus', 'Keychain', 'files', 'memory'])('CREDMUX_STORE=%s: a config error listing the valid values', async (value) => {
    const e = await rejectionOf(openStore(envWith({ CREDMUX_STORE: value })));
    expect(e.code).toBe('config');
    expect(e.message).toBe(`CREDMUX_STORE="${value}" is not valid; use one of: auto, keychain, file (default auto)`);
  });
});

describe('openStore with a locked keyring', () => {
  it('auto falls back to the file store and keychain refuses, instead of prompting', async () => {
    const locked = await startSecretService();
    try {
      // secret-tool 0.20 locks the collection and then dies on a signal while exiting: its status is
      // not checked; the reason asserted below proves the collection is locked.
      locked.secretTool(['lock', '--collection=login']);
      const r = await timed(envWith({ DBUS_SESSION_BUS_ADDRESS: locked.address }));
      expect(r.store.kind).toBe('file');
      expect(r.reason).toMatch(/the default keyring \(\/org\/freedesktop\/secrets\/collection\/login\) on unix:path=.* is locked/);
      await expect(openStore(envWith({ CREDMUX_STORE: 'keychain', DBUS_SESSION_BUS_ADDRESS: locked.address }))).rejects.toThrow(
        /is locked.*CREDMUX_STORE=file/,
      );
      // A store opened before the keyring was locked refuses at once rather than asking for an unlock.
      const store = new KeychainStore({ env: locked.env, lockDir: join(scratch, 'locked-lock') });
      try {
        const t = performance.now();
        await expect(store.get({ url: 'https://a.example', username: 'u' })).rejects.toThrow(
          /^cannot read a keychain item in the OS keychain: the default keyring .* is locked; check that a Secret Service/,
        );
        expect(performance.now() - t).toBeLessThan(400);
      } finally {
        store.close();
      }
    } finally {
      await locked.stop();
    }
  });
});

describe('readDefaultAlias (the probe asking for the default collection)', () => {
  const answers = (...paths: string[]) => {
    const asked: string[] = [];
    return { asked, read: async () => (asked.push('ReadAlias'), paths.shift() ?? '/') };
  };
  const noPause = async () => {};

  it('asks again when gnome-keyring answers "/" for a caller it has not registered yet', async () => {
    const a = answers('/', '/org/freedesktop/secrets/collection/login');
    expect(await readDefaultAlias(a.read, noPause)).toBe('/org/freedesktop/secrets/collection/login');
    expect(a.asked).toHaveLength(2);
  });

  it('believes "/" after NO_DEFAULT_RETRIES more answers, pausing 20 then 40 ms', async () => {
    const a = answers();
    const pauses: number[] = [];
    expect(await readDefaultAlias(a.read, async (ms) => void pauses.push(ms))).toBe('/');
    expect(a.asked).toHaveLength(1 + NO_DEFAULT_RETRIES);
    expect(pauses).toEqual([20, 40]);
  });

  it('takes a collection path at once', async () => {
    const a = answers('/org/freedesktop/secrets/collection/login');
    expect(await readDefaultAlias(a.read, noPause)).toBe('/org/freedesktop/secrets/collection/login');
    expect(a.asked).toHaveLength(1);
  });
});
