// The daemon and the session's secret store (CREDMUX_STORE=auto), with a real gnome-keyring on a
// private D-Bus appearing and going away: a helper is never answered from a store its session does not
// use, `credmux daemon status` and `doctor` say which store the daemon serves and what is left in the
// other one, and `credmux import store --from …` moves entries across without overwriting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited } from '../daemon/helpers.js';
import { contextFingerprint } from '../../src/ipc/context.js';
import type { Env } from '../../src/platform/paths.js';
import { requireBuilt } from '../helpers/dist.js';
import { show, type RunResult } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startKeyring, startPrivateBus, startSecretService, type PrivateBus, type SecretService } from '../store/secret-service.js';

let sb: Sandbox;
let ss: SecretService;
/** The ssh session: no session bus, so the file store. */
let ssh: NodeJS.ProcessEnv;
/** The desktop session: a bus with an unlocked keyring, so the keychain. */
let desktop: NodeJS.ProcessEnv;

beforeAll(async () => {
  requireBuilt();
  sb = await createSandbox('session-store');
  ss = await startSecretService();
  const { CREDMUX_STORE: _file, ...auto } = sb.env;
  ssh = auto;
  desktop = { ...auto, DBUS_SESSION_BUS_ADDRESS: ss.address };
});
afterAll(async () => {
  await sb?.cleanup();
  await ss?.stop();
});

const credmux = (env: NodeJS.ProcessEnv, args: string[], input?: string) =>
  sb.run(sb.bin('credmux'), args, { env, ...(input === undefined ? {} : { input }) });
const login = async (env: NodeJS.ProcessEnv, url: string, user: string, pw: string): Promise<RunResult> => {
  const r = await credmux(env, ['login', url, '--username', user, '--password-stdin'], pw);
  expect(r.code, show(r)).toBe(0);
  return r;
};
const gitGet = (env: NodeJS.ProcessEnv, host: string) =>
  sb.run(sb.bin('git-credential-credmux'), ['get'], { env, input: `protocol=https\nhost=${host}\n\n` });

interface Status {
  running: boolean;
  pid?: number;
  context?: string;
  store?: { kind: string; location: string };
  requests?: { get: number; contextMismatch: number };
}
async function status(env: NodeJS.ProcessEnv): Promise<Status> {
  return JSON.parse((await credmux(env, ['daemon', 'status', '--json'])).stdout) as Status;
}
interface JsonCheck {
  area: string;
  status: string;
  summary: string;
  details?: string[];
  fix?: string;
}
async function doctor(env: NodeJS.ProcessEnv): Promise<JsonCheck[]> {
  return (JSON.parse((await credmux(env, ['doctor', '--json'])).stdout) as { checks: JsonCheck[] }).checks;
}
/** Waits (up to 5 s) until `pid` has exited: gone, or a zombie (its exit has finished). */
async function exitedPid(pid: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (exited(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`pid ${pid} still running`);
}

describe('a daemon started in an ssh session (file store), and a desktop session with a keyring appearing', () => {
  it(
    'the desktop helpers are never answered from the file store; status and doctor say so; import store moves what is left',
    { timeout: 90_000 },
    async () => {
      expect((await login(ssh, 'https://s.example.com', 'alice', 'file-pw')).stderr).toContain('file store');
      await login(ssh, 'https://f.example.com', 'bob', 'file-only-pw');
      expect((await credmux(ssh, ['daemon', 'start'])).code).toBe(0);
      expect((await gitGet(ssh, 's.example.com')).stdout).toBe('username=alice\npassword=file-pw\n');
      const daemon = await status(ssh);
      expect(daemon.store).toMatchObject({ kind: 'file' });
      expect((await credmux(ssh, ['daemon', 'status'])).stdout).toMatch(/store: +file store \(/);

      // The desktop session stores to the keychain; its helpers get that, never the daemon's file store.
      expect((await login(desktop, 'https://s.example.com', 'alice', 'key-pw')).stderr).toContain('OS keychain');
      const got = await gitGet(desktop, 's.example.com');
      expect(got.stdout, show(got)).toBe('username=alice\npassword=key-pw\n');
      expect((await gitGet(desktop, 'f.example.com')).stdout).toBe(''); // not in the keychain
      const after = await status(ssh);
      expect(after.pid).toBe(daemon.pid);
      expect(after.requests!.contextMismatch).toBeGreaterThanOrEqual(2); // asked, and declined
      expect((await gitGet(ssh, 's.example.com')).stdout).toBe('username=alice\npassword=file-pw\n'); // the ssh session still served

      // doctor, from the desktop: the daemon is another environment's, and one credential is left behind.
      const checks = await doctor(desktop);
      expect(checks.find((c) => c.area === 'daemon')).toMatchObject({ status: 'warn', summary: expect.stringContaining('another environment') });
      const left = checks.find((c) => c.area === 'store' && c.status === 'warn');
      expect(left, JSON.stringify(checks, null, 2)).toMatchObject({
        summary: expect.stringMatching(/^1 credential in the file store is not served here/),
        fix: expect.stringContaining('credmux import store --from file'),
      });
      expect(left!.details!.join('\n')).toContain('https://f.example.com  bob');
      expect(JSON.stringify(checks)).not.toMatch(/file-pw|file-only-pw|key-pw/);

      // import store: a dry run changes nothing; the real one copies bob, keeps alice's keychain password.
      const dry = await credmux(desktop, ['import', 'store', '--from', 'file', '--dry-run']);
      expect(dry.code, show(dry)).toBe(6); // the conflict
      expect(dry.stdout).toMatch(/would import +https:\/\/f\.example\.com {2}bob \(basic\)/);
      expect(dry.stdout).toMatch(/conflict +https:\/\/s\.example\.com {2}alice \(basic\): a different secret is already stored here; kept it/);
      expect(dry.stdout).not.toMatch(/file-pw|file-only-pw|key-pw/);
      expect((await gitGet(desktop, 'f.example.com')).stdout).toBe('');
      const real = await credmux(desktop, ['import', 'store', '--from', 'file']);
      expect(real.code, show(real)).toBe(6);
      expect(real.stdout).toContain('Imported 1, already present 0, conflicts 1.');
      expect((await gitGet(desktop, 'f.example.com')).stdout).toBe('username=bob\npassword=file-only-pw\n');
      expect((await gitGet(desktop, 's.example.com')).stdout).toBe('username=alice\npassword=key-pw\n');
      const again = await credmux(desktop, ['import', 'store', '--from', 'file']);
      expect(again.stdout).toContain('Imported 0, already present 1, conflicts 1.');
      // Nothing left behind now but the conflict, which doctor no longer counts (the key is served here).
      expect((await doctor(desktop)).find((c) => c.area === 'store' && c.status === 'warn')).toBeUndefined();
      // Importing from the store in use is a usage error that says where to run it instead.
      const same = await credmux(desktop, ['import', 'store', '--from', 'keychain']);
      expect(same.code, show(same)).toBe(2);
      expect(same.stderr).toContain('already uses the OS keychain');
      expect((await credmux(desktop, ['import', 'store'])).code).not.toBe(0); // --from is required

      expect((await credmux(ssh, ['daemon', 'stop'])).code).toBe(0);
    },
  );
});

describe('a daemon started in the desktop session (keychain), and the keyring going away', () => {
  it('the daemon notices at once and stops; the next helper answers from the file store', { timeout: 90_000 }, async () => {
    expect((await credmux(desktop, ['daemon', 'start'])).code).toBe(0);
    const d = await status(desktop);
    expect(d.store).toMatchObject({ kind: 'keychain' });
    expect((await gitGet(desktop, 's.example.com')).stdout).toBe('username=alice\npassword=key-pw\n');
    expect((await status(desktop)).requests!.get).toBe(d.requests!.get + 1); // the daemon answered it

    await ss.stopKeyring(); // the bus stays: only the Secret Service is gone
    await exitedPid(d.pid!);
    const r = await gitGet(desktop, 's.example.com');
    expect(r.stdout, show(r)).toBe('username=alice\npassword=file-pw\n'); // the file store: what the session uses now
    const log = (await sb.run('cat', [`${sb.home}/.local/state/credmux/daemon.log`])).stdout;
    expect(log).toContain("the session's secret store changed from keychain");
  });
});

describe('one session bus, its keyring appearing after the daemon started', () => {
  let bus: PrivateBus;
  let keyring: { stop(): Promise<void> } | undefined;
  afterAll(async () => {
    await credmux({ ...ssh, DBUS_SESSION_BUS_ADDRESS: bus?.address }, ['daemon', 'stop']);
    await keyring?.stop();
    await bus?.stop();
  });

  it("credmux login to the keychain is what the helpers then serve, not the daemon's file store", { timeout: 90_000 }, async () => {
    bus = await startPrivateBus();
    const session = { ...ssh, DBUS_SESSION_BUS_ADDRESS: bus.address };
    await login(ssh, 'https://s.example.com', 'alice', 'file-pw');
    expect((await credmux(session, ['daemon', 'stop'])).code).toBe(0); // one another session's helper started
    expect((await credmux(session, ['daemon', 'start'])).code).toBe(0);
    const d = await status(session);
    expect(d.context).toBe(contextFingerprint(session as Env));
    expect(d.store).toMatchObject({ kind: 'file' }); // no Secret Service on the bus yet
    expect((await gitGet(session, 's.example.com')).stdout).toBe('username=alice\npassword=file-pw\n');

    keyring = await startKeyring(bus);
    await login(session, 'https://s.example.com', 'alice', 'late-key-pw');
    const r = await gitGet(session, 's.example.com');
    expect(r.stdout, show(r)).toBe('username=alice\npassword=late-key-pw\n');
    await exitedPid(d.pid!); // it stopped (by itself, or when login saw it serving the other store)
  });
});
