// KeychainStore against a real Secret Service (gnome-keyring on a private session bus started by
// this file), cross-checked with secret-tool; and against buses that never answer.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEntry } from '../../src/model/types.js';
import { encodeAccount } from '../../src/store/keychain-codec.js';
import { KeychainStore } from '../../src/store/keychain.js';
import { basic, rejectionOf, storeContract } from './contract.js';
import { startPrivateBus, startSecretService, squatName, type PrivateBus, type SecretService } from './secret-service.js';

let ss: SecretService;
let scratch: string;
let n = 0;

beforeAll(async () => {
  ss = await startSecretService();
  scratch = await mkdtemp(join(tmpdir(), 'credmux-kc-'));
});
afterAll(async () => {
  await ss?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Each store gets its own service name (an empty namespace) and lock directory. */
function openKeychain(opts: { timeoutMs?: number } = {}): KeychainStore {
  n++;
  return new KeychainStore({ env: ss.env, service: `credmux-test-${n}`, lockDir: join(scratch, `lock-${n}`), ...opts });
}

storeContract('KeychainStore (gnome-keyring over a private D-Bus)', async () => {
  const store = openKeychain();
  return { store, cleanup: () => store.close() };
});

describe('KeychainStore on a real Secret Service', () => {
  it('stores one item per entry that secret-tool finds under service + account', async () => {
    const s = openKeychain();
    const service = `credmux-test-${n}`;
    try {
      const e: StoredEntry = {
        url: 'https://pkgs.example.com/simple',
        username: '__token__',
        kind: 'bearer',
        secret: 'tok-123',
        expiresAt: 1893456000,
      };
      await s.put(e);
      const account = encodeAccount(e);
      expect(account).toBe('__token__@https://pkgs.example.com/simple');
      const looked = ss.secretTool(['lookup', 'service', service, 'username', account]);
      expect(looked.status, looked.stderr).toBe(0);
      expect(JSON.parse(looked.stdout)).toEqual({ v: 1, kind: 'bearer', secret: 'tok-123', expiresAt: 1893456000 });
      // Removing through credmux removes the Secret Service item.
      expect(await s.remove(() => true)).toBe(1);
      expect(ss.secretTool(['lookup', 'service', service, 'username', account]).stdout).toBe('');
    } finally {
      s.close();
    }
  });

  it('reads an item a peer wrote with secret-tool in the same layout', async () => {
    const s = openKeychain();
    try {
      const account = `${encodeURIComponent('al@ce')}@https://git.example.com`;
      const stored = ss.secretTool(
        ['store', '--label=peer', 'service', `credmux-test-${n}`, 'username', account],
        JSON.stringify({ v: 1, kind: 'basic', secret: 'pw' }),
      );
      expect(stored.status, stored.stderr).toBe(0);
      expect(await s.get({ url: 'https://git.example.com', username: 'al@ce' })).toEqual(basic('https://git.example.com', 'al@ce', 'pw'));
      expect(await s.list()).toEqual([basic('https://git.example.com', 'al@ce', 'pw')]);
    } finally {
      s.close();
    }
  });

  it('reports a damaged item by name instead of dropping it, without echoing its secret', async () => {
    const s = openKeychain();
    try {
      await s.put(basic('https://a.example', 'u', 'fine'));
      ss.secretTool(['store', '--label=junk', 'service', `credmux-test-${n}`, 'username', 'u@https://b.example'], 'plain-password-not-json');
      const e = await rejectionOf(s.list());
      expect(e.code).toBe('store');
      expect(e.message).toContain('"u@https://b.example"');
      expect(e.message).toContain('secret-tool clear');
      expect(e.message).not.toContain('plain-password-not-json');
    } finally {
      s.close();
    }
  });

  it('separate stores (one helper process each) writing at once lose nothing and never duplicate a key', async () => {
    n++;
    const opts = { env: ss.env, service: `credmux-test-${n}`, lockDir: join(scratch, `lock-${n}`) };
    const stores = Array.from({ length: 6 }, () => new KeychainStore(opts));
    try {
      await Promise.all(
        stores.flatMap((s, i) => [
          s.put(basic(`https://h${i}.example`, 'u', `own-${i}`)),
          s.put(basic('https://shared.example', 'u', `shared-${i}`)),
        ]),
      );
      const all = await stores[0]!.list();
      expect(all).toHaveLength(7);
      const search = ss.secretTool(['search', '--all', 'service', opts.service, 'username', 'u@https://shared.example']);
      expect(search.stdout.match(/^\[/gm) ?? []).toHaveLength(1);
    } finally {
      for (const s of stores) s.close();
    }
  });

  it('version() changes after every write, also when another store instance wrote', async () => {
    n++;
    const opts = { env: ss.env, service: `credmux-test-${n}`, lockDir: join(scratch, `lock-${n}`) };
    const a = new KeychainStore(opts);
    const b = new KeychainStore(opts);
    try {
      const v0 = await a.version();
      await b.put(basic('https://a.example', 'u', 'x'));
      const v1 = await a.version();
      expect(v1).not.toBe(v0);
      expect(await a.version()).toBe(v1); // stable while nothing changes
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('KeychainStore when the keychain cannot answer', () => {
  let hang: Server;
  let hangPath: string;
  let hungBus: PrivateBus;
  let squatter: { close(): void };

  beforeAll(async () => {
    // A socket that accepts and never says a word: the native keyring would block forever on it.
    hangPath = join(scratch, 'hang.sock');
    hang = createServer((sock) => sock.on('data', () => {}));
    await new Promise<void>((r) => hang.listen(hangPath, r));
    // A real bus where "the Secret Service" owns its name but never answers a call.
    hungBus = await startPrivateBus();
    squatter = await squatName(hungBus.address, 'org.freedesktop.secrets');
  });
  afterAll(async () => {
    squatter?.close();
    await hungBus?.stop();
    hang?.close();
  });

  const expectTimeout = async (p: Promise<unknown>, ms: number, started: number): Promise<void> => {
    const e = await rejectionOf(p);
    const elapsed = Date.now() - started;
    expect(e.code).toBe('store');
    expect(e.message).toMatch(new RegExp(`^the OS keychain did not answer within ${ms}ms`));
    expect(e.message).toMatch(/CREDMUX_STORE=file/);
    expect(e.message).not.toContain('never-show-this');
    expect(elapsed).toBeGreaterThanOrEqual(ms - 50);
    expect(elapsed).toBeLessThan(ms + 1500);
  };
  const silentEnv = () => ({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${hangPath}`, PATH: process.env.PATH });
  const allOps = (s: KeychainStore): (() => Promise<unknown>)[] => [
    () => s.get({ url: 'https://a.example', username: 'u' }),
    () => s.list(),
    () => s.put(basic('https://a.example', 'u', 'never-show-this')),
    () => s.remove(() => true),
  ];

  it('on a socket that never answers, every operation fails after the 500 ms preflight probe', async () => {
    const s = new KeychainStore({ env: silentEnv(), timeoutMs: 2000, lockDir: join(scratch, 'lock-hang') });
    try {
      for (const op of allOps(s)) await expectTimeout(op(), 500, Date.now());
    } finally {
      s.close();
    }
  });

  it('on a socket that never answers, the helper process itself is bounded too (SIGKILLed at the timeout)', async () => {
    const s = new KeychainStore({ env: silentEnv(), timeoutMs: 600, lockDir: join(scratch, 'lock-hang2'), preflight: false });
    try {
      for (const op of allOps(s)) await expectTimeout(op(), 600, Date.now());
    } finally {
      s.close();
    }
  });

  it('times out on a bus whose Secret Service owns its name and never replies', async () => {
    const probed = new KeychainStore({ env: hungBus.env, lockDir: join(scratch, 'lock-hung') });
    const raw = new KeychainStore({ env: hungBus.env, timeoutMs: 800, lockDir: join(scratch, 'lock-hung'), preflight: false });
    try {
      let t = Date.now();
      await expectTimeout(probed.put(basic('https://a.example', 'u', 'never-show-this')), 500, t);
      t = Date.now();
      await expectTimeout(raw.put(basic('https://a.example', 'u', 'never-show-this')), 800, t);
    } finally {
      probed.close();
      raw.close();
    }
  });

  it('the helper bound defaults to 2 s', async () => {
    const s = new KeychainStore({ env: silentEnv(), lockDir: join(scratch, 'lock-default'), preflight: false });
    try {
      const t = Date.now();
      const e = await rejectionOf(s.get({ url: 'https://a.example', username: 'u' }));
      expect(e.message).toMatch(/^the OS keychain did not answer within 2s/);
      expect(Date.now() - t).toBeGreaterThanOrEqual(1950);
    } finally {
      s.close();
    }
  });

  it('without a session bus it fails fast, naming the missing bus', async () => {
    const s = new KeychainStore({ env: { PATH: process.env.PATH }, lockDir: join(scratch, 'lock-nobus') });
    try {
      const t = Date.now();
      const e = await rejectionOf(s.put(basic('https://a.example', 'u', 'never-show-this')));
      expect(e.message).toMatch(
        /^cannot write a keychain item in the OS keychain: no D-Bus session bus \(DBUS_SESSION_BUS_ADDRESS unset\); .*CREDMUX_STORE=file/,
      );
      expect(Date.now() - t).toBeLessThan(400);
    } finally {
      s.close();
    }
  });

  it('the helper never falls back to the kernel keyring when there is no bus', async () => {
    const s = new KeychainStore({ env: { PATH: process.env.PATH }, lockDir: join(scratch, 'lock-nobus2'), preflight: false });
    try {
      const t = Date.now();
      const e = await rejectionOf(s.put(basic('https://a.example', 'u', 'never-show-this')));
      expect(e.message).toMatch(/^cannot write a keychain item in the OS keychain: .*DBUS_SESSION_BUS_ADDRESS/);
      expect(e.message).not.toContain('never-show-this');
      expect(Date.now() - t).toBeLessThan(1500);
      // A secret that happens to occur in the native error text withholds that text entirely.
      const withheld = await rejectionOf(s.put(basic('https://a.example', 'u', 'autolaunch')));
      expect(withheld.message).toMatch(/details withheld/);
      expect(withheld.message).not.toContain('autolaunch');
    } finally {
      s.close();
    }
  });
});
