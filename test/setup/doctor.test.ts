// `credmux doctor` on the BUILT binary: a deliberately broken setup is reported problem by problem,
// each with the command that fixes it, and exits 6; once fixed (by running exactly those commands)
// it exits 0. Never prints a secret.
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { distBin, requireBuilt } from '../helpers/dist.js';
import { run, show } from '../helpers/run.js';
import { newHome, type Home } from './home.js';
import { waitUntil } from '../daemon/helpers.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const SECRET = 'pw-doctor-Lk3s';

interface JsonCheck {
  area: string;
  status: 'ok' | 'info' | 'warn' | 'error';
  summary: string;
  fix?: string;
}

let h: Home;
beforeAll(() => requireBuilt());
afterEach(async () => {
  await h?.cleanup();
});

async function doctorJson(env?: NodeJS.ProcessEnv): Promise<{ code: number | null; ok: boolean; checks: JsonCheck[]; raw: string }> {
  const r = await h.credmux(['doctor', '--json'], env ? { env } : {});
  const j = JSON.parse(r.stdout) as { ok: boolean; checks: JsonCheck[] };
  return { code: r.code, ok: j.ok, checks: j.checks, raw: r.stdout + r.stderr };
}

const find = (checks: JsonCheck[], area: string) => checks.find((c) => c.area === area || c.area.startsWith(area));

describe('credmux doctor', () => {
  it('reports each broken piece with its fix and exits 6: invalid config, helper not on PATH, a helper path that is gone, an expired token', async () => {
    h = await newHome('doctor-broken');
    await h.login('https://pkgs.example.com', 'alice', SECRET);
    // An expired credential, stored the way git stores one (password_expiry_utc in the past).
    const stored = await run(distBin('git-credential-credmux'), ['store'], {
      env: h.env,
      input: `protocol=https\nhost=old.example.com\nusername=bob\npassword=${SECRET}-old\npassword_expiry_utc=1000000000\n\n`,
    });
    expect(stored.code, show(stored)).toBe(0);
    await h.ok(['setup', 'docker']); // docker-credential-credmux is not on this PATH
    await h.ok(['setup', 'pip']); // neither is the keyring directory
    writeFileSync(join(h.home, '.bazelrc'), 'common --credential_helper=pkgs.example.com=/opt/gone/credmux-bazel\n');
    mkdirSync(join(h.home, '.config', 'credmux'), { recursive: true });
    writeFileSync(join(h.home, '.config', 'credmux', 'config.json'), '{"rules":[{"match":"https://ci.example.com","source":{"type":"env"}}]}');

    const text = await h.credmux(['doctor']);
    expect(text.code, show(text)).toBe(6);
    expect(text.stdout + text.stderr).not.toContain(SECRET);
    expect(text.stdout).toMatch(/\[FAIL\] config: .*\n.*\/rules\/0\/source: missing "var"/);
    expect(text.stdout).toMatch(/problems? found/);

    const { code, ok, checks, raw } = await doctorJson();
    expect(code).toBe(6);
    expect(ok).toBe(false);
    expect(raw).not.toContain(SECRET);

    const config = find(checks, 'config')!;
    expect(config.status).toBe('error');
    expect(config.fix).toContain(join(h.home, '.config', 'credmux', 'config.json'));

    const docker = find(checks, 'docker')!;
    expect(docker.status).toBe('error');
    expect(docker.summary).toContain('docker-credential-credmux is not on PATH');
    expect(docker.fix).toMatch(/ln -sf \S+\/docker-credential-credmux /);

    const pip = find(checks, 'pip')!;
    expect(pip.status).toBe('error');
    expect(pip.fix).toContain(`export PATH=${join(h.home, '.local', 'share', 'credmux', 'keyring-bin')}:"$PATH"`);

    const bazel = find(checks, 'bazel')!;
    expect(bazel.status).toBe('error');
    expect(bazel.summary + JSON.stringify(bazel)).toContain('/opt/gone/credmux-bazel does not exist or is not executable');
    expect(bazel.fix).toBe(`delete line 1 of ${join(h.home, '.bazelrc')} (not written by credmux setup), then: credmux setup bazel`);

    const expired = find(checks, 'stored https://old.example.com')!;
    expect(expired.status).toBe('error');
    expect(expired.summary).toContain('expired at 2001-09-09T01:46:40Z');
    expect(expired.fix).toContain('credmux login https://old.example.com --username bob --password-stdin');
    expect(find(checks, 'stored https://pkgs.example.com')!.status).toBe('ok');

    // Follow the fixes: config moved away, the printed PATH fixes applied, bazel re-run, the expired one re-stored.
    await run('sh', ['-c', `mv ${join(h.home, '.config/credmux/config.json')} ${join(h.home, '.config/credmux/config.json.broken')}`], {
      env: h.env,
    });
    const linkFix = docker
      .fix!.split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('mkdir -p '))!;
    expect((await run('sh', ['-c', linkFix], { env: h.env })).code).toBe(0);
    writeFileSync(join(h.home, '.bazelrc'), '');
    await h.ok(['setup', 'bazel']);
    await h.login('https://old.example.com', 'bob', `${SECRET}-new`);
    const env = { ...h.env, PATH: `${join(h.home, '.local/share/credmux/keyring-bin')}:${join(h.home, '.local/bin')}:${h.env.PATH}` };
    const fixed = await doctorJson(env);
    expect(
      fixed.checks.filter((c) => c.status === 'error'),
      fixed.raw,
    ).toEqual([]);
    expect(fixed.code).toBe(0);
    expect(fixed.ok).toBe(true);
  });

  it('a healthy setup exits 0 and says every wired tool runs THIS credmux', async () => {
    h = await newHome('doctor-ok');
    await h.login('https://pkgs.example.com', 'alice', SECRET);
    for (const tool of ['bazel', 'git', 'docker', 'pip', 'uv', 'go']) await h.ok(['setup', tool]);
    const bin = join(h.root, 'bin');
    mkdirSync(bin);
    expect((await run('ln', ['-s', distBin('docker-credential-credmux'), join(bin, 'docker-credential-credmux')], { env: h.env })).code).toBe(0);
    const env = { ...h.env, PATH: `${join(h.home, '.local/share/credmux/keyring-bin')}:${bin}:${h.env.PATH}` };
    const r = await h.credmux(['doctor'], { env });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).not.toContain('[FAIL]');
    for (const tool of ['bazel', 'git', 'docker', 'pip', 'uv', 'go']) expect(r.stdout).toMatch(new RegExp(`\\[ok  \\] ${tool}: `));
    expect(r.stdout).toContain('All good.');
  });

  it("reads token state from the running daemon: a minted token's validity, and a failing source as a problem", async () => {
    h = await newHome('doctor-daemon');
    mkdirSync(join(h.home, '.config', 'credmux'), { recursive: true });
    writeFileSync(
      join(h.home, '.config', 'credmux', 'config.json'),
      JSON.stringify({
        rules: [
          { id: 'good', match: 'https://good.example.com', source: { type: 'command', command: ['/bin/echo', SECRET], ttlSeconds: 600 } },
          { id: 'bad', match: 'https://bad.example.com', source: { type: 'command', command: ['/bin/false'] } },
        ],
      }),
    );
    const env = { ...h.env };
    delete env.CREDMUX_DAEMON; // the first helper request starts the daemon
    let pid: number | undefined;
    try {
      const good = await run(distBin('credmux-bazel'), ['get'], { env, input: '{"uri":"https://good.example.com/x"}' });
      expect(good.code, show(good)).toBe(0);
      const bad = await run(distBin('credmux-bazel'), ['get'], { env, input: '{"uri":"https://bad.example.com/x"}' });
      expect(bad.code, show(bad)).not.toBe(0);
      const d = await doctorJson(env);
      const daemon = find(d.checks, 'daemon')!;
      expect(daemon.status, d.raw).toBe('ok');
      pid = Number(/pid (\d+)/.exec(daemon.summary)![1]);
      expect(d.raw).not.toContain(SECRET);
      expect(find(d.checks, 'rule good')!).toMatchObject({
        status: 'ok',
        summary: expect.stringMatching(/^fresh, valid until \S+Z, last refresh \S+Z$/),
      });
      const failing = find(d.checks, 'rule bad')!;
      expect(failing.status).toBe('error');
      expect(failing.summary).toMatch(/failed refresh/);
      expect(failing.fix).toContain('credmux get https://bad.example.com');
      expect(d.code).toBe(6);
    } finally {
      if (pid) {
        process.kill(pid, 'SIGTERM');
        // Gone before the home is deleted: a daemon still exiting writes into it.
        await waitUntil(() => !alive(pid!), 10_000, 'the daemon to exit');
      }
    }
  });

  it('an env rule whose variable is unset is a source problem with the export that fixes it; set, it is fine', async () => {
    h = await newHome('doctor-env');
    mkdirSync(join(h.home, '.config', 'credmux'), { recursive: true });
    writeFileSync(
      join(h.home, '.config', 'credmux', 'config.json'),
      '{"rules":[{"id":"ci","match":"https://ci.example.com","source":{"type":"env","var":"CI_TOKEN"}}]}',
    );
    const { code, checks } = await doctorJson();
    const rule = find(checks, 'rule ci')!;
    expect(rule.status).toBe('error');
    expect(rule.fix).toContain('export CI_TOKEN=');
    expect(code).toBe(6);
    const set = await doctorJson({ ...h.env, CI_TOKEN: SECRET });
    expect(find(set.checks, 'rule ci')!.status).toBe('ok');
    expect(set.raw).not.toContain(SECRET);
    expect(set.code).toBe(0);
  });

  it("dist/bin (the README's PATH line) holds no `keyring`; doctor says when the `keyring` on PATH is credmux's, and repairs a stale link", async () => {
    h = await newHome('doctor-keyring');
    const distBinDir = dirname(distBin('credmux'));
    expect(existsSync(join(distBinDir, 'keyring'))).toBe(false);
    const withDistBin = { ...h.env, PATH: `${distBinDir}:${h.env.PATH}` };
    const before = find((await doctorJson(withDistBin)).checks, 'keyring');
    if (before) expect(before.summary).toContain("not credmux's"); // Python's keyring, where the machine has one

    await h.ok(['setup', 'pip']);
    const keyringBin = join(h.home, '.local/share/credmux/keyring-bin');
    const onPath = { ...withDistBin, PATH: `${keyringBin}:${withDistBin.PATH}` };
    const ours = find((await doctorJson(onPath)).checks, 'keyring')!;
    expect(ours.status).toBe('info');
    expect(ours.summary).toContain(`\`keyring\` on PATH is credmux's (${join(keyringBin, 'keyring')})`);
    expect(ours.summary).toContain('any other program that runs `keyring`');

    // A link from an older layout (dist/bin/keyring, gone now): putting it on PATH cannot help, setup again does.
    rmSync(join(keyringBin, 'keyring'));
    symlinkSync('/opt/old-credmux/dist/bin/keyring', join(keyringBin, 'keyring'));
    const pip = find((await doctorJson(onPath)).checks, 'pip')!;
    expect(pip.status).toBe('error');
    expect(pip.fix).toBe('run: credmux setup pip');
    await h.ok(['setup', 'pip']);
    expect(find((await doctorJson(onPath)).checks, 'pip')!.status).toBe('ok');
  });

  it('podman: not wired, wired (credmux first), or after containers-auth.json; plaintext auths for registries credmux serves are flagged, never shown', async () => {
    h = await newHome('doctor-podman');
    const bin = join(h.root, 'bin');
    mkdirSync(bin);
    symlinkSync(distBin('docker-credential-credmux'), join(bin, 'docker-credential-credmux'));
    const env: NodeJS.ProcessEnv = { ...h.env, PATH: `${bin}:${h.env.PATH}` };
    expect(find((await doctorJson(env)).checks, 'podman')).toMatchObject({ status: 'info', fix: 'credmux setup podman' });
    await h.ok(['setup', 'podman'], { env });
    const wired = find((await doctorJson(env)).checks, 'podman')!;
    expect(wired.status).toBe('ok');
    expect(wired.summary).toContain('ask credmux first');

    await h.ok(['setup', 'podman', '--undo'], { env });
    const userConf = join(h.home, '.config', 'containers', 'registries.conf');
    mkdirSync(dirname(userConf), { recursive: true });
    writeFileSync(userConf, 'credential-helpers = ["containers-auth.json", "credmux"]\n');
    const late = find((await doctorJson(env)).checks, 'podman')!;
    expect(late.status).toBe('warn');
    expect(late.summary).toContain('a podman or skopeo login writes its password into auth.json');

    // Plain-text copies of passwords for registries credmux serves, in docker's and containers' files.
    await h.login('reg.example.com', 'alice', SECRET);
    await h.login('127.0.0.1:5000', 'alice', SECRET);
    await h.login('docker.io', 'alice', SECRET);
    const auth = Buffer.from(`alice:${SECRET}`).toString('base64');
    mkdirSync(join(h.home, '.docker'), { recursive: true });
    writeFileSync(
      join(h.home, '.docker', 'config.json'),
      JSON.stringify({
        auths: { 'reg.example.com': { auth }, 'other.example.com': { auth }, 'https://index.docker.io/v1/': { auth }, 'quay.io': {} },
      }),
    );
    const runtimeAuth = join(env.XDG_RUNTIME_DIR!, 'containers', 'auth.json');
    mkdirSync(dirname(runtimeAuth), { recursive: true });
    writeFileSync(runtimeAuth, JSON.stringify({ auths: { '127.0.0.1:5000': { auth } } }));
    const { checks, raw } = await doctorJson(env);
    const plain = find(checks, 'plaintext')! as JsonCheck & { details: string[] };
    expect(plain.status).toBe('warn');
    expect(plain.details.sort()).toEqual(
      [
        `${join(h.home, '.docker', 'config.json')}: "reg.example.com"`,
        `${join(h.home, '.docker', 'config.json')}: "https://index.docker.io/v1/"`,
        `${runtimeAuth}: "127.0.0.1:5000"`,
      ].sort(),
    );
    expect(plain.fix).toContain('delete those entries from "auths"');
    expect(raw).not.toContain(SECRET);
    expect(raw).not.toContain(auth);
  });
});
