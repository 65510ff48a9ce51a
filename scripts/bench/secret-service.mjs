// For npm run bench: Docker's own Secret Service helper (docker-credential-secretservice) on a real,
// private gnome-keyring, so its `get` is timed beside ours on the same lookup. Undefined when the tools
// are not installed (scripts/install-test-deps.sh installs them) or the keyring does not come up.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Pids whose environment holds `entry` (Linux /proc; none elsewhere). */
function processesWith(entry) {
  const pids = [];
  let names = [];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {}
  for (const n of names) {
    try {
      if (readFileSync(`/proc/${n}/environ`, 'utf8').split('\0').includes(entry)) pids.push(Number(n));
    } catch {}
  }
  return pids;
}

function which(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Starts a session bus and a gnome-keyring whose "login" collection exists and is unlocked (the
 * collection docker-credential-secretservice writes to), stores `cred` through the helper, and returns
 * the command to time plus stop(). `--login` creates and unlocks that collection from the password on
 * stdin; `--start` then serves it.
 */
export async function secretServicePeer(dir, cred) {
  const helper = which('docker-credential-secretservice');
  if (!helper || !which('dbus-daemon') || !which('gnome-keyring-daemon')) return undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = await new Promise((resolve) => {
    bus.stdout.once('data', (d) => resolve(d.toString().trim()));
    bus.once('exit', () => resolve(undefined));
  });
  if (!address) return undefined;
  const env = { PATH: process.env.PATH, HOME: dir, XDG_RUNTIME_DIR: dir, XDG_DATA_HOME: join(dir, 'data'), DBUS_SESSION_BUS_ADDRESS: address };
  spawnSync('gnome-keyring-daemon', ['--login'], { env, input: 'bench', stdio: ['pipe', 'ignore', 'ignore'] });
  const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--start', '--components=secrets'], { env, stdio: 'ignore' });
  // Neither keeps the bench alive; stop() ends both, and so does the bench's exit.
  bus.unref();
  bus.stdout.destroy();
  keyring.unref();
  process.on('exit', () => stop());
  // `--login` leaves a keyring daemon of its own behind: end every process on this private bus.
  const stop = () => {
    keyring.kill();
    for (const pid of processesWith(`DBUS_SESSION_BUS_ADDRESS=${address}`)) {
      try {
        process.kill(pid);
      } catch {}
    }
    bus.kill();
  };
  const input = JSON.stringify({ ServerURL: cred.host, Username: cred.username, Secret: cred.secret });
  for (let i = 0; i < 100; i++) {
    if (spawnSync(helper, ['store'], { env, input }).status === 0)
      return { name: 'docker-credential-secretservice get', cmd: helper, argv: ['get'], input: cred.host, env, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  stop();
  return undefined;
}
