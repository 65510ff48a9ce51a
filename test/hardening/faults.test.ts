// Faults, seen the way a user's tools see them: the BUILT entries as real processes on a store that is
// read-only or full (a private mount namespace per run), a corrupted credentials file, a Secret
// Service that never answers, a clock that jumps, and a daemon SIGKILLed in the middle of a burst.
// test/store/ covers the stores' own contracts; this file covers what reaches git, Docker, Bazel,
// pip and the CLI.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import type { Credential, EngineResult } from '../../src/model/types.js';
import { daemonStatus } from '../../src/client/daemon-control.js';
import { adapters } from '../../src/protocols/index.js';
import { FileStore } from '../../src/store/file.js';
import { requireTools, type Entry } from '../helpers/dist.js';
import { startPrivateBus, squatName, type PrivateBus } from '../store/secret-service.js';
import {
  cloneHome,
  daemonExecutable,
  disposeBuiltSnapshot,
  emptyHome,
  entryPath,
  SEEDED_SECRETS,
  seededTemplate,
  show,
  sleep,
  runBytes,
  type BytesResult,
  type Home,
} from './helpers.js';

let template: Home;
beforeAll(async () => {
  template = await seededTemplate();
}, 60_000);
afterAll(() => {
  template?.cleanup();
  disposeBuiltSnapshot();
});

const ALICE = 'username=alice\npassword=Victim-S3cret-7f3a9c\n';
const NEW_SECRET = 'Fault-New-S3cret-x1';

// ---------------------------------------------------------------------------------------------
// A read-only or full store directory

/** What each writing entry is asked, and how its protocol reports a failure behind it. */
interface Writer {
  name: string;
  entry: Entry;
  argv: string[];
  stdin?: string;
  /** Where the error goes and with which exit code. */
  stream: 'stdout' | 'stderr';
  exitCode: number;
  prefix: string;
}

const WRITERS: Writer[] = [
  {
    name: 'git store',
    entry: 'git-credential-credmux',
    argv: ['store'],
    stdin: `protocol=https\nhost=new.example.com\nusername=u\npassword=${NEW_SECRET}\n\n`,
    stream: 'stderr',
    exitCode: 1,
    prefix: 'credmux: ',
  },
  {
    name: 'git erase',
    entry: 'git-credential-credmux',
    argv: ['erase'],
    stdin: 'protocol=https\nhost=victim.example.com\nusername=alice\n\n',
    stream: 'stderr',
    exitCode: 1,
    prefix: 'credmux: ',
  },
  {
    name: 'docker store',
    entry: 'docker-credential-credmux',
    argv: ['store'],
    stdin: JSON.stringify({ ServerURL: 'new.example.com', Username: 'u', Secret: NEW_SECRET }),
    stream: 'stdout',
    exitCode: 1,
    prefix: 'credmux: ',
  },
  {
    name: 'docker erase',
    entry: 'docker-credential-credmux',
    argv: ['erase'],
    stdin: 'victim.example.com',
    stream: 'stdout',
    exitCode: 1,
    prefix: 'credmux: ',
  },
  {
    name: 'keyring set',
    entry: 'keyring',
    argv: ['set', 'https://new.example.com/simple/', 'u'],
    stdin: `${NEW_SECRET}\n`,
    stream: 'stderr',
    exitCode: 1,
    prefix: 'keyring: ',
  },
  {
    name: 'keyring del',
    entry: 'keyring',
    argv: ['del', 'https://victim.example.com/', 'alice'],
    stream: 'stderr',
    exitCode: 1,
    prefix: 'keyring: ',
  },
  {
    name: 'credmux login',
    entry: 'credmux',
    argv: ['login', 'https://new.example.com', '--username', 'u', '--password-stdin'],
    stdin: `${NEW_SECRET}\n`,
    stream: 'stderr',
    exitCode: 4,
    prefix: 'credmux: ',
  },
  { name: 'credmux logout', entry: 'credmux', argv: ['logout', 'https://victim.example.com'], stream: 'stderr', exitCode: 4, prefix: 'credmux: ' },
];

const NS_SCRIPT = String.raw`
D="$1"; OUT="$2"; MODE="$3"; shift 3
case "$MODE" in
  ro) mount --bind "$D" "$D" && mount -o remount,bind,ro "$D" || exit 97 ;;
  full)
    mkdir "$OUT/orig" && cp -a "$D/." "$OUT/orig/" &&
    mount -t tmpfs -o size=64k,mode=0700 tmpfs "$D" && cp -a "$OUT/orig/." "$D/" || exit 97
    dd if=/dev/zero of="$D/zz-filler" bs=1k 2>/dev/null
    ;;
esac
"$@" < "$OUT/stdin" > "$OUT/stdout" 2> "$OUT/stderr"
echo $? > "$OUT/code"
ls -A "$D" > "$OUT/ls"
cat "$D/credentials.json" > "$OUT/after"
`;

interface NsRun {
  r: { code: number | null; stdout: string; stderr: string };
  after: Buffer;
  listing: string[];
}

/** Runs one entry in a private mount namespace where the store directory is read-only or full. */
async function inBrokenStore(h: Home, mode: 'ro' | 'full', entry: Entry, argv: string[], stdin = ''): Promise<NsRun> {
  const out = mkdtempSync(join(tmpdir(), 'credmux-ns-'));
  try {
    writeFileSync(join(out, 'stdin'), stdin);
    const unshare = process.getuid?.() === 0 ? ['--mount', '--propagation', 'private'] : ['--map-root-user', '--mount', '--propagation', 'private'];
    const r = await runBytes(
      '/usr/bin/env',
      ['unshare', ...unshare, 'sh', '-c', NS_SCRIPT, 'ns', h.dataDir, out, mode, entryPath(entry), ...argv],
      h.env,
    );
    if (r.code !== 0)
      throw new Error(
        `the mount namespace could not be set up (${mode}); these tests need root or unprivileged user namespaces, and unshare/mount from util-linux: ${show(r)}`,
      );
    return {
      r: {
        code: Number(readFileSync(join(out, 'code'), 'utf8')),
        stdout: readFileSync(join(out, 'stdout'), 'utf8'),
        stderr: readFileSync(join(out, 'stderr'), 'utf8'),
      },
      after: readFileSync(join(out, 'after')),
      listing: readFileSync(join(out, 'ls'), 'utf8').split('\n').filter(Boolean).sort(),
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe('a store directory that is read-only or full, through every writing entry', () => {
  let h: Home;
  let before: Buffer;
  let listing: string[];
  beforeAll(() => {
    requireTools(['unshare', 'mount', 'dd']);
    h = cloneHome(template);
    before = readFileSync(h.storeFile);
    listing = readdirSync(h.dataDir).sort();
  });
  afterAll(() => h?.cleanup());

  const meaning = { ro: /read-only file system \(EROFS\)/, full: /no space left on device \(ENOSPC\)/ };
  for (const mode of ['ro', 'full'] as const) {
    for (const w of WRITERS) {
      it(`${mode === 'ro' ? 'read-only' : 'full'}: ${w.name} fails in its protocol's shape, names the file and the cause, and the old data stays`, async () => {
        const { r, after, listing: left } = await inBrokenStore(h, mode, w.entry, w.argv, w.stdin);
        const msg = w.stream === 'stdout' ? r.stdout : r.stderr;
        const other = w.stream === 'stdout' ? r.stderr : r.stdout;
        expect(r.code, show(r)).toBe(w.exitCode);
        expect(other, show(r)).toBe('');
        expect(msg.startsWith(w.prefix), show(r)).toBe(true);
        expect(msg, show(r)).toContain(h.storeFile);
        expect(msg, show(r)).toMatch(meaning[mode]);
        expect(msg.split('\n').filter(Boolean), 'one line').toHaveLength(1);
        for (const s of [NEW_SECRET, ...SEEDED_SECRETS]) expect(r.stdout + r.stderr).not.toContain(s);
        expect(after.equals(before), 'the credentials file is unchanged').toBe(true);
        // No temp file, no lock left behind (the filler is ours).
        expect(left.filter((n) => n !== 'zz-filler')).toEqual(listing);
      });
    }
    it(`${mode === 'ro' ? 'read-only' : 'full'}: reading still works for every protocol`, async () => {
      const git = await inBrokenStore(h, mode, 'git-credential-credmux', ['get'], 'protocol=https\nhost=victim.example.com\n\n');
      expect(git.r.stdout, show(git.r)).toBe(ALICE);
      const bazel = await inBrokenStore(h, mode, 'credmux-bazel', ['get'], '{"uri":"https://victim.example.com/x"}');
      expect(JSON.parse(bazel.r.stdout), show(bazel.r)).toEqual({
        headers: { Authorization: [`Basic ${Buffer.from('alice:Victim-S3cret-7f3a9c').toString('base64')}`] },
      });
      const listed = await inBrokenStore(h, mode, 'credmux', ['list']);
      expect(listed.r.code, show(listed.r)).toBe(0);
      expect(listed.r.stdout).toContain('https://victim.example.com  alice');
    });
  }
});

// ---------------------------------------------------------------------------------------------
// A corrupted credentials file

describe('a corrupted credentials file, through each protocol entry and the CLI', () => {
  // Truncated mid-secret: a parser error message that quoted the input would print it.
  const GARBAGE = '{"version":1,"entries":[{"url":"https://victim.example.com","username":"alice","kind":"basic","secret":"Corrupt-Kept-S3cret-5';
  const RUNS: Array<{ entry: Entry; argv: string[]; stdin?: string; stream: 'stdout' | 'stderr'; exitCode: number }> = [
    { entry: 'git-credential-credmux', argv: ['get'], stdin: 'protocol=https\nhost=victim.example.com\n\n', stream: 'stderr', exitCode: 1 },
    {
      entry: 'git-credential-credmux',
      argv: ['store'],
      stdin: `protocol=https\nhost=new.example.com\nusername=u\npassword=${NEW_SECRET}\n\n`,
      stream: 'stderr',
      exitCode: 1,
    },
    { entry: 'git-credential-credmux', argv: ['erase'], stdin: 'protocol=https\nhost=victim.example.com\n\n', stream: 'stderr', exitCode: 1 },
    { entry: 'credmux-bazel', argv: ['get'], stdin: '{"uri":"https://victim.example.com/"}', stream: 'stderr', exitCode: 1 },
    { entry: 'docker-credential-credmux', argv: ['get'], stdin: 'victim.example.com', stream: 'stdout', exitCode: 1 },
    {
      entry: 'docker-credential-credmux',
      argv: ['store'],
      stdin: JSON.stringify({ ServerURL: 'new.example.com', Username: 'u', Secret: NEW_SECRET }),
      stream: 'stdout',
      exitCode: 1,
    },
    { entry: 'docker-credential-credmux', argv: ['erase'], stdin: 'victim.example.com', stream: 'stdout', exitCode: 1 },
    { entry: 'docker-credential-credmux', argv: ['list'], stdin: '', stream: 'stdout', exitCode: 1 },
    { entry: 'keyring', argv: ['get', 'https://victim.example.com/', 'alice'], stream: 'stderr', exitCode: 1 },
    { entry: 'keyring', argv: ['set', 'https://new.example.com/', 'u'], stdin: `${NEW_SECRET}\n`, stream: 'stderr', exitCode: 1 },
    { entry: 'keyring', argv: ['del', 'https://victim.example.com/', 'alice'], stream: 'stderr', exitCode: 1 },
    { entry: 'credmux', argv: ['list'], stream: 'stderr', exitCode: 4 },
    { entry: 'credmux', argv: ['get', 'https://victim.example.com'], stream: 'stderr', exitCode: 4 },
    {
      entry: 'credmux',
      argv: ['login', 'https://new.example.com', '--username', 'u', '--password-stdin'],
      stdin: `${NEW_SECRET}\n`,
      stream: 'stderr',
      exitCode: 4,
    },
    { entry: 'credmux', argv: ['logout', 'https://victim.example.com'], stream: 'stderr', exitCode: 4 },
  ];

  it('is refused by every entry in its own error shape, backed up exactly once, and never emptied or rewritten', async () => {
    const h = cloneHome(template);
    try {
      writeFileSync(h.storeFile, GARBAGE, { mode: 0o600 });
      for (const run of RUNS) {
        const r = await runBytes(run.entry, run.argv, h.env, run.stdin === undefined ? undefined : Buffer.from(run.stdin));
        const label = `${run.entry} ${run.argv.join(' ')}\n${show(r)}`;
        expect(r.code, label).toBe(run.exitCode);
        const msg = run.stream === 'stdout' ? r.stdout : r.stderr;
        expect(msg, label).toContain(`the credential file ${h.storeFile} is corrupted (it is not valid JSON)`);
        expect(msg, label).toMatch(/A copy was saved to .*credentials\.json\.corrupt-/);
        expect(msg, label).toContain(`mv ${h.storeFile} ${h.storeFile}.bad`);
        if (run.stream === 'stderr') expect(r.stdout, label).toBe('');
        for (const s of ['Corrupt-Kept-S3cret-5', NEW_SECRET]) expect(r.stdout + r.stderr, label).not.toContain(s);
        expect(readFileSync(h.storeFile, 'utf8'), `${label}: the file was touched`).toBe(GARBAGE);
      }
      const backups = readdirSync(h.dataDir).filter((n) => n.includes('.corrupt-'));
      expect(backups, 'one backup however many refusals').toHaveLength(1);
      expect(readFileSync(join(h.dataDir, backups[0]!), 'utf8')).toBe(GARBAGE);
      expect(readdirSync(h.dataDir).sort()).toEqual(['credentials.json', backups[0]!].sort());
    } finally {
      h.cleanup();
    }
  }, 60_000);

  it('a file emptied by a crash elsewhere (0 bytes) is refused, not read as "no credentials" and overwritten', async () => {
    const h = cloneHome(template);
    try {
      writeFileSync(h.storeFile, '');
      const r = await runBytes(
        'git-credential-credmux',
        ['store'],
        h.env,
        Buffer.from(`protocol=https\nhost=new.example.com\nusername=u\npassword=${NEW_SECRET}\n\n`),
      );
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain('is corrupted (it is empty)');
      expect(readFileSync(h.storeFile, 'utf8')).toBe('');
    } finally {
      h.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A Secret Service that never answers

describe('a Secret Service that never answers, through CREDMUX_STORE=auto/keychain and the entries', () => {
  let bus: PrivateBus;
  let squatter: { close(): void };
  let hang: Server;
  let scratch: string;
  let hangAddress: string;

  beforeAll(async () => {
    // A real bus where "the Secret Service" owns its name and never replies…
    bus = await startPrivateBus();
    squatter = await squatName(bus.address, 'org.freedesktop.secrets');
    // …and a socket that accepts and never says a word (no bus at all behind it).
    scratch = mkdtempSync(join(tmpdir(), 'credmux-hang-'));
    const path = join(scratch, 'hang.sock');
    hang = createServer((sock) => sock.on('data', () => {}));
    await new Promise<void>((r) => hang.listen(path, r));
    hangAddress = `unix:path=${path}`;
  }, 30_000);
  afterAll(async () => {
    squatter?.close();
    await bus?.stop();
    hang?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const GETS: Array<{ entry: Entry; argv: string[]; stdin?: string; served: (r: BytesResult) => boolean }> = [
    { entry: 'git-credential-credmux', argv: ['get'], stdin: 'protocol=https\nhost=victim.example.com\n\n', served: (r) => r.stdout === ALICE },
    { entry: 'credmux-bazel', argv: ['get'], stdin: '{"uri":"https://victim.example.com/"}', served: (r) => r.stdout.includes('"Authorization"') },
    {
      entry: 'docker-credential-credmux',
      argv: ['get'],
      stdin: 'victim.example.com',
      served: (r) => JSON.parse(r.stdout).Secret === 'Victim-S3cret-7f3a9c',
    },
    { entry: 'keyring', argv: ['get', 'https://victim.example.com/simple/', 'alice'], served: (r) => r.stdout === 'Victim-S3cret-7f3a9c\n' },
  ];

  for (const kind of ['a squatter that owns org.freedesktop.secrets', 'a socket that never speaks'] as const) {
    it(`auto (${kind}): every entry answers from the file store within 3 s (a 500 ms probe), and credmux list says why`, async () => {
      const address = kind === 'a socket that never speaks' ? hangAddress : bus.address;
      const h = cloneHome(template, { CREDMUX_STORE: 'auto', DBUS_SESSION_BUS_ADDRESS: address });
      try {
        // Each entry waits out the probe's 500 ms: all four on one kind of hang, git alone on the other.
        for (const g of kind === 'a socket that never speaks' ? GETS.slice(0, 1) : GETS) {
          const r = await runBytes(g.entry, g.argv, h.env, g.stdin === undefined ? undefined : Buffer.from(g.stdin));
          expect(r.code, `${g.entry}\n${show(r)}`).toBe(0);
          expect(g.served(r), `${g.entry}\n${show(r)}`).toBe(true);
          expect(r.ms, `${g.entry} took ${Math.round(r.ms)} ms`).toBeLessThan(3000);
        }
        const list = await runBytes('credmux', ['list'], h.env);
        expect(list.code, show(list)).toBe(0);
        const stage = kind === 'a socket that never speaks' ? 'the D-Bus session bus' : 'the Secret Service';
        expect(list.stdout).toContain(
          `Store: file store at ${h.storeFile}: ${stage} at ${address.replace(/,guid=.*/, '')} did not answer within 500ms`,
        );
        expect(list.ms).toBeLessThan(3000);
      } finally {
        h.cleanup();
      }
    });
  }

  it('keychain (forced): every entry fails within 3 s in its protocol shape, naming CREDMUX_STORE=file as the way out', async () => {
    const h = cloneHome(template, { CREDMUX_STORE: 'keychain', DBUS_SESSION_BUS_ADDRESS: bus.address });
    try {
      for (const g of GETS) {
        const r = await runBytes(g.entry, g.argv, h.env, g.stdin === undefined ? undefined : Buffer.from(g.stdin));
        const label = `${g.entry}\n${show(r)}`;
        expect(r.code, label).not.toBe(0);
        expect(r.ms, label).toBeLessThan(3000);
        const msg = g.entry === 'docker-credential-credmux' ? r.stdout : r.stderr;
        expect(msg, label).toMatch(/did not answer within 500ms.*CREDMUX_STORE=file/);
        if (g.entry !== 'docker-credential-credmux') expect(r.stdout, label).toBe('');
      }
    } finally {
      h.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The clock jumps

describe('the system clock jumping forward and back, for expiring stored credentials', () => {
  const EXP = 2_000_000_000; // 2033-05-18T03:33:20Z

  async function ask(engine: ReturnType<typeof createEngine>, protocol: 'git' | 'bazel', stdin: string): Promise<string> {
    const a = adapters[protocol];
    const parsed = a.parse(['get'], Buffer.from(stdin));
    if (parsed.kind !== 'request') throw new Error('refused');
    return (a.format as (c: unknown, r: EngineResult) => { stdout: string })(parsed.ctx, await engine.handle(parsed.request)).stdout;
  }

  it('serves the same credential with its true expiry before, after a jump past it, and after the jump back; the store is never rewritten', async () => {
    const h = emptyHome('clock');
    try {
      let now = EXP - 3600;
      const store = new FileStore(h.dataDir);
      const engine = createEngine({ store, now: () => now });
      const stored = await engine.handle({
        op: 'store',
        url: 'https://git.example.com',
        credential: { kind: 'basic', username: 'u', secret: 'Expiring-S3cret', expiresAt: EXP },
      });
      expect(stored).toEqual({ op: 'store', stored: true });
      const bytes = readFileSync(join(h.dataDir, 'credentials.json'));
      const gitAnswer = `username=u\npassword=Expiring-S3cret\npassword_expiry_utc=${EXP}\n`;
      const bazelAnswer = `{"headers":{"Authorization":["Basic ${Buffer.from('u:Expiring-S3cret').toString('base64')}"]},"expires":"2033-05-18T03:33:20Z"}\n`;
      for (const t of [EXP - 3600, EXP + 86_400 * 365, EXP - 86_400 * 365 * 10, EXP + 1, EXP - 1]) {
        now = t;
        expect(await ask(engine, 'git', 'protocol=https\nhost=git.example.com\n\n'), `now=${t}`).toBe(gitAnswer);
        expect(await ask(engine, 'bazel', '{"uri":"https://git.example.com/x"}'), `now=${t}`).toBe(bazelAnswer);
        // git stores back what it was served after every fetch: never a rewrite, whatever the clock says.
        const back = adapters.git.parse(
          ['store'],
          Buffer.from(`protocol=https\nhost=git.example.com\nusername=u\npassword=Expiring-S3cret\npassword_expiry_utc=${EXP}\n\n`),
        );
        if (back.kind !== 'request') throw new Error('refused');
        expect(await engine.handle(back.request)).toEqual({ op: 'store', stored: false });
        expect(readFileSync(join(h.dataDir, 'credentials.json')).equals(bytes), `now=${t}: the store was rewritten`).toBe(true);
      }
    } finally {
      h.cleanup();
    }
  });

  it("an expiry beyond what RFC 3339 can write, or a clock at 0, never breaks Bazel's answer", async () => {
    for (const [expiresAt, now] of [
      [253402300800, 0],
      [-5, 1_700_000_000],
      [Number.MAX_SAFE_INTEGER, 1_700_000_000],
    ] as const) {
      const engine = createEngine({ store: new (await import('../../src/store/memory.js')).MemoryStore(), now: () => now });
      await engine.handle({
        op: 'store',
        url: 'https://b.example.com',
        credential: { kind: 'bearer', username: '__token__', secret: 'T0k-x', expiresAt },
      });
      const out = await ask(engine, 'bazel', '{"uri":"https://b.example.com/"}');
      const body = JSON.parse(out) as { headers: unknown; expires?: string };
      expect(body.headers).toEqual({ Authorization: ['Bearer T0k-x'] });
      if (body.expires !== undefined) expect(body.expires).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    }
  });

  it('after the clock jumps back, the newest login still wins over an older one for the same URL', async () => {
    let now = 1_800_000_000;
    const engine = createEngine({ store: new (await import('../../src/store/memory.js')).MemoryStore(), now: () => now });
    const login = (username: string, secret: string): Promise<EngineResult> =>
      engine.handle({ op: 'store', url: 'https://pkgs.example.com', credential: { kind: 'basic', username, secret } as Credential });
    await login('old-user', 'Old-S3cret');
    now -= 86_400; // NTP corrects a clock that ran a day fast
    await login('new-user', 'New-S3cret');
    const r = await engine.handle({ op: 'get', url: 'https://pkgs.example.com/simple/' });
    expect(r).toMatchObject({ op: 'get', credential: { username: 'new-user', secret: 'New-S3cret' } });
  });
});

// ---------------------------------------------------------------------------------------------
// The daemon dies under load

describe('the daemon SIGKILLed under load', () => {
  it('fails no request and loses no stored secret; one daemon serves afterwards', async () => {
    const h = cloneHome(template, { CREDMUX_IDLE_TIMEOUT: '60' });
    delete h.env.CREDMUX_DAEMON; // the entries start the daemon that ships beside them
    const daemonBin = daemonExecutable().path;
    const pids = (): number[] => daemonPidsFor(daemonBin, h.env.XDG_RUNTIME_DIR!);
    try {
      const first = await runBytes('git-credential-credmux', ['get'], h.env, Buffer.from('protocol=https\nhost=victim.example.com\n\n'));
      expect(first.stdout, show(first)).toBe(ALICE);
      // That first call answered in process and started the daemon in the background.
      let status = await daemonStatus(h.env);
      for (const deadline = Date.now() + 10_000; !status.running && Date.now() < deadline; status = await daemonStatus(h.env)) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(status.running, JSON.stringify(status)).toBe(true);

      const N = 45;
      const results: Array<{ i: number; r: BytesResult }> = [];
      let killed = 0;
      let next = 0;
      const worker = async () => {
        while (next < N) {
          const i = next++;
          const op = i % 3 === 0 ? 'store' : 'get';
          const stdin =
            op === 'store'
              ? `protocol=https\nhost=load${i}.example.com\nusername=u${i}\npassword=Load-S3cret-${i}\n\n`
              : 'protocol=https\nhost=victim.example.com\n\n';
          results.push({ i, r: await runBytes('git-credential-credmux', [op], h.env, Buffer.from(stdin)) });
          // Kill whatever daemon serves, twice, while requests are in flight.
          if ((i === 12 || i === 30) && killed < 2) {
            for (const pid of pids()) process.kill(pid, 'SIGKILL');
            killed++;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      expect(killed).toBe(2);

      for (const { i, r } of results) {
        expect(r.code, `request ${i}\n${show(r)}`).toBe(0);
        if (i % 3 !== 0) expect(r.stdout, `get ${i}\n${show(r)}`).toBe(ALICE);
        else expect(r.stdout + r.stderr, `store ${i}`).toBe('');
      }
      // Every store landed, and the seeded secrets are all still there: read the file itself.
      const entries = await new FileStore(h.dataDir).list();
      expect(entries).toHaveLength(6 + N / 3);
      for (let i = 0; i < N; i += 3) {
        expect(
          entries.find((e) => e.url === `https://load${i}.example.com`),
          `load${i}`,
        ).toMatchObject({ username: `u${i}`, secret: `Load-S3cret-${i}` });
      }
      for (const s of SEEDED_SECRETS.slice(0, 6))
        expect(
          entries.some((e) => e.secret === s),
          s,
        ).toBe(true);

      // The next request is served by one daemon (a new one), never two.
      const again = await runBytes('git-credential-credmux', ['get'], h.env, Buffer.from('protocol=https\nhost=victim.example.com\n\n'));
      expect(again.stdout).toBe(ALICE);
      // A daemon that lost the start race exits by itself (EXIT_BUSY): wait for the count to settle.
      for (let t = 0; t < 100 && pids().length !== 1; t++) await sleep(30);
      expect(pids()).toHaveLength(1);
      let after = await daemonStatus(h.env);
      for (let t = 0; t < 100 && !after.running; t++) {
        await sleep(30);
        after = await daemonStatus(h.env);
      }
      expect(after.running).toBe(true);
      if (after.running && status.running) expect(after.pid).not.toBe(status.pid);
    } finally {
      for (const pid of pids()) process.kill(pid, 'SIGKILL');
      h.cleanup();
    }
  }, 60_000);
});

/** Live daemon processes started from `bin` for this runtime dir (by /proc cmdline and environ). */
function daemonPidsFor(bin: string, runtimeDir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(bin)) continue;
      if (readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z') continue;
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`XDG_RUNTIME_DIR=${runtimeDir}`)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
