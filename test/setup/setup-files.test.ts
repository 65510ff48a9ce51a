// `credmux setup <tool>` as a person meets it, on the BUILT binary in an empty HOME: it edits only its
// part of each tool's file, a second run changes nothing, `--dry-run` writes nothing, and `--undo`
// gives back every byte (a file that did not exist is removed again, with the directories made for it).
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { distBin, requireBuilt } from '../helpers/dist.js';
import { show } from '../helpers/run.js';
import { CREDMUX_OWN, newHome, snapshot, type Home } from './home.js';

const BIN = () => realpathSync(dirname(distBin('credmux')));
const TOOLS = ['bazel', 'git', 'docker', 'pip', 'uv', 'pnpm'] as const;
type Tool = (typeof TOOLS)[number];

/** What a user already has in each tool's file, written in that tool's own style. */
const EXISTING: Record<Tool, { file: string; text: string }> = {
  bazel: { file: '.bazelrc', text: 'build --jobs=4\n# my settings, no newline at the end' },
  git: { file: '.gitconfig', text: '[user]\n\tname = Alice\n[credential]\n\thelper = cache --timeout=60\n' },
  // docker writes tabs; credmux must keep them, and the auths.
  docker: {
    file: '.docker/config.json',
    text: '{\n\t"auths": {\n\t\t"ghcr.io": {\n\t\t\t"auth": "dTpw"\n\t\t}\n\t},\n\t"psFormat": "table {{.ID}}"\n}',
  },
  pip: { file: '.config/pip/pip.conf', text: '[global]\ntimeout = 60\nindex-url = https://pypi.org/simple\n\n[install]\nno-compile = true\n' },
  uv: { file: '.config/uv/uv.toml', text: '# my uv settings\nnative-tls = true\n\n[pip]\nindex-url = "https://pypi.org/simple"\n' },
  pnpm: { file: '.npmrc', text: 'save-exact=true\n//npm.other.example/:_authToken=other-tok\n; mine, no newline at the end' },
};

function gitGet(h: Home, file: string, key: string): string[] {
  try {
    return execFileSync('git', ['config', '--file', file, '--null', '--get-all', key], { env: h.env, encoding: 'utf8' }).split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/** The tool's file says what credmux wired, and still says everything the user had. */
function expectWired(h: Home, tool: Tool, hadFile: boolean) {
  const file = join(h.home, EXISTING[tool].file);
  const text = readFileSync(file, 'utf8');
  const bin = BIN();
  switch (tool) {
    case 'bazel':
      expect(text).toContain(`common --credential_helper=pkgs.example.com=${bin}/credmux-bazel\n`);
      if (hadFile) expect(text.startsWith(`${EXISTING.bazel.text}\n`)).toBe(true);
      break;
    case 'git':
      expect(gitGet(h, file, 'credential.https://pkgs.example.com.helper')).toEqual(['', `${bin}/git-credential-credmux`]);
      if (hadFile) expect(gitGet(h, file, 'credential.helper')).toEqual(['cache --timeout=60']);
      break;
    case 'docker': {
      const j = JSON.parse(text);
      expect(j.credHelpers).toEqual({ 'pkgs.example.com': 'credmux' });
      if (hadFile) {
        expect(j.auths).toEqual({ 'ghcr.io': { auth: 'dTpw' } });
        expect(text).toContain('\n\t"credHelpers"');
      }
      break;
    }
    case 'pip':
      expect(text).toMatch(/^\[global\]\n(?:.*\n)*keyring-provider = subprocess\n/);
      if (hadFile)
        expect(text).toContain('timeout = 60\nindex-url = https://pypi.org/simple\nkeyring-provider = subprocess\n\n[install]\nno-compile = true\n');
      expect(readlinkSync(join(h.home, '.local/share/credmux/keyring-bin/keyring'))).toBe(`${dirname(bin)}/keyring-bin/keyring`);
      break;
    case 'pnpm': {
      const line = /^\/\/pkgs\.example\.com\/:tokenHelper=(\S+)$/m.exec(text);
      expect(line, text).not.toBeNull();
      expect(readFileSync(line![1]!, 'utf8')).toContain(`exec '${bin}/credmux-pnpm' 'https://pkgs.example.com/'\n`);
      expect(lstatSync(line![1]!).mode & 0o777).toBe(0o700);
      expect(lstatSync(dirname(line![1]!)).mode & 0o777).toBe(0o700);
      if (hadFile) expect(text.startsWith(`${EXISTING.pnpm.text}\n\n`)).toBe(true);
      break;
    }
    case 'uv':
      if (hadFile)
        expect(text).toBe('# my uv settings\nnative-tls = true\nkeyring-provider = "subprocess"\n\n[pip]\nindex-url = "https://pypi.org/simple"\n');
      else expect(text).toBe('keyring-provider = "subprocess"\n');
      break;
  }
}

let h: Home;
beforeAll(() => requireBuilt());
afterEach(async () => {
  await h?.cleanup();
});

describe.each(TOOLS)('credmux setup %s', (tool) => {
  it.each([true, false])(
    'edits only its part (file existed: %s); twice changes nothing; --dry-run writes nothing; --undo restores every byte',
    async (hadFile) => {
      h = await newHome(tool);
      await h.login('https://pkgs.example.com', 'alice', 'pw-1');
      if (hadFile) {
        const f = join(h.home, EXISTING[tool].file);
        mkdirSync(dirname(f), { recursive: true });
        writeFileSync(f, EXISTING[tool].text, { mode: 0o640 });
      }
      const before = snapshot(h.home, CREDMUX_OWN);

      const dry = await h.credmux(['setup', tool, '--dry-run']);
      expect(dry.code, show(dry)).toBe(0);
      expect(dry.stdout).toContain('nothing is written');
      expect(dry.stdout).toMatch(/^\+[^+]/m); // a diff with added lines
      expect(snapshot(h.home, CREDMUX_OWN)).toEqual(before);
      expect(existsSync(join(h.home, '.local/state'))).toBe(false);

      const first = await h.credmux(['setup', tool]);
      expect(first.code, show(first)).toBe(0);
      expectWired(h, tool, hadFile);
      if (hadFile) {
        expect(lstatSync(join(h.home, EXISTING[tool].file)).mode & 0o777).toBe(0o640); // mode kept
        expect(readFileSync(join(h.home, `${EXISTING[tool].file}.credmux-backup`), 'utf8')).toBe(EXISTING[tool].text);
      }
      const after = snapshot(h.home, CREDMUX_OWN);

      const second = await h.credmux(['setup', tool]);
      expect(second.code, show(second)).toBe(0);
      expect(second.stdout).toContain('already set up, no change');
      expect(snapshot(h.home, CREDMUX_OWN)).toEqual(after);

      const dryUndo = await h.credmux(['setup', tool, '--undo', '--dry-run']);
      expect(dryUndo.code, show(dryUndo)).toBe(0);
      expect(snapshot(h.home, CREDMUX_OWN)).toEqual(after);

      const undo = await h.credmux(['setup', tool, '--undo']);
      expect(undo.code, show(undo)).toBe(0);
      expect(snapshot(h.home, CREDMUX_OWN)).toEqual(before);

      const again = await h.credmux(['setup', tool, '--undo']);
      expect(again.code, show(again)).toBe(0);
      expect(again.stdout).toContain('nothing to undo');
    },
  );
});

describe('setup keeps what the person did since', () => {
  it('git: undo after the user edited the config removes only credmux entries; the user edit stays', async () => {
    h = await newHome('git-edit');
    await h.login('https://pkgs.example.com', 'alice', 'pw');
    writeFileSync(join(h.home, '.gitconfig'), EXISTING.git.text);
    await h.ok(['setup', 'git']);
    execFileSync('git', ['config', '--global', 'alias.co', 'checkout'], { env: h.env });
    const undo = await h.ok(['setup', 'git', '--undo']);
    expect(undo.stdout).toContain('edited since setup');
    const file = join(h.home, '.gitconfig');
    expect(gitGet(h, file, 'alias.co')).toEqual(['checkout']);
    expect(gitGet(h, file, 'credential.https://pkgs.example.com.helper')).toEqual([]);
    expect(readFileSync(file, 'utf8')).not.toContain('credmux');
    expect(gitGet(h, file, 'credential.helper')).toEqual(['cache --timeout=60']);
  });

  it('docker: a logged-out registry leaves the config on the next setup; undo still restores the original', async () => {
    h = await newHome('docker-logout');
    await h.login('https://a.example.com', 'alice', 'pw');
    await h.login('registry.example.com:5000', 'bob', 'pw');
    const f = join(h.home, EXISTING.docker.file);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, EXISTING.docker.text);
    await h.ok(['setup', 'docker']);
    expect(JSON.parse(readFileSync(f, 'utf8')).credHelpers).toEqual({ 'a.example.com': 'credmux', 'registry.example.com:5000': 'credmux' });
    await h.ok(['logout', 'https://a.example.com']);
    await h.ok(['setup', 'docker']);
    expect(JSON.parse(readFileSync(f, 'utf8')).credHelpers).toEqual({ 'registry.example.com:5000': 'credmux' });
    await h.ok(['setup', 'docker', '--undo']);
    expect(readFileSync(f, 'utf8')).toBe(EXISTING.docker.text);
  });

  it('a symlinked config (dotfiles) is edited where it lives, and the link stays a link', async () => {
    h = await newHome('symlink');
    await h.login('https://pkgs.example.com', 'alice', 'pw');
    mkdirSync(join(h.home, 'dotfiles'));
    const real = join(h.home, 'dotfiles', 'gitconfig');
    writeFileSync(real, EXISTING.git.text);
    symlinkSync(real, join(h.home, '.gitconfig'));
    await h.ok(['setup', 'git']);
    expect(lstatSync(join(h.home, '.gitconfig')).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toContain('git-credential-credmux');
    await h.ok(['setup', 'git', '--undo']);
    expect(readFileSync(real, 'utf8')).toBe(EXISTING.git.text);
    expect(lstatSync(join(h.home, '.gitconfig')).isSymbolicLink()).toBe(true);
  });

  it('pip and uv share the keyring link: undoing one keeps it for the other', async () => {
    h = await newHome('keyring-link');
    const before = snapshot(h.home, CREDMUX_OWN);
    await h.ok(['setup', 'pip']);
    await h.ok(['setup', 'uv']);
    const link = join(h.home, '.local/share/credmux/keyring-bin/keyring');
    await h.ok(['setup', 'pip', '--undo']);
    expect(readlinkSync(link)).toBe(`${dirname(BIN())}/keyring-bin/keyring`);
    await h.ok(['setup', 'uv', '--undo']);
    expect(existsSync(link)).toBe(false);
    expect(snapshot(h.home, CREDMUX_OWN)).toEqual(before);
  });
});

describe('what cannot be wired is said, with the command that would', () => {
  it('bazel: IPs and localhost are skipped with a note; --unscoped adds one unscoped helper; --workspace edits that .bazelrc', async () => {
    h = await newHome('bazel-scopes');
    await h.login('http://127.0.0.1:8080', 'alice', 'pw');
    await h.login('https://localhost:9000', 'alice', 'pw');
    await h.credmux(['login', '*.pkg.dev', '--token-stdin', '--username', 'oauth2accesstoken'], { input: 'tok' });
    const r = await h.ok(['setup', 'bazel']);
    expect(r.stdout).toMatch(
      /Not wired \(Bazel scopes need a domain name with a dot.*127\.0\.0\.1:8080.*localhost:9000.*credmux setup bazel --unscoped/s,
    );
    const rc = readFileSync(join(h.home, '.bazelrc'), 'utf8');
    expect(rc).toContain(`common --credential_helper=*.pkg.dev=${BIN()}/credmux-bazel\n`);
    expect(rc).not.toContain('127.0.0.1');
    expect(rc).not.toMatch(/--credential_helper=\//);

    await h.ok(['setup', 'bazel', '--unscoped']);
    const rc2 = readFileSync(join(h.home, '.bazelrc'), 'utf8');
    expect(rc2).toContain(`common --credential_helper=${BIN()}/credmux-bazel\n`);
    expect(rc2.match(/credmux setup bazel --undo/g)).toHaveLength(1); // one block, replaced in place

    const ws = join(h.root, 'ws');
    mkdirSync(ws);
    await h.ok(['setup', 'bazel', '--workspace', ws]);
    expect(readFileSync(join(ws, '.bazelrc'), 'utf8')).toContain('*.pkg.dev=');
    await h.ok(['setup', 'bazel', '--workspace', ws, '--undo']);
    expect(existsSync(join(ws, '.bazelrc'))).toBe(false);
    expect(readFileSync(join(h.home, '.bazelrc'), 'utf8')).toBe(rc2); // the other file untouched
  });

  it('docker: a wildcard cannot be wired; the message says to add hosts explicitly, and how', async () => {
    h = await newHome('docker-wildcard');
    await h.credmux(['login', '*.pkg.dev', '--token-stdin', '--username', 'oauth2accesstoken'], { input: 'tok' });
    const r = await h.ok(['setup', 'docker']);
    expect(r.stdout).toContain('Docker has no wildcard registries, so these cannot be wired: https://*.pkg.dev');
    expect(r.stdout).toContain('credmux login REGISTRY.example.com');
    expect(existsSync(join(h.home, '.docker'))).toBe(false);
  });

  it('git: a wildcard becomes the domain plus one and two label wildcards; a path turns on useHttpPath', async () => {
    h = await newHome('git-wildcard');
    await h.credmux(['login', '*.example.com', '--token-stdin'], { input: 'tok' });
    await h.login('https://git.other.org/team', 'bob', 'pw');
    await h.ok(['setup', 'git']);
    const f = join(h.home, '.gitconfig');
    const helper = `${BIN()}/git-credential-credmux`;
    for (const url of ['https://example.com', 'https://*.example.com', 'https://*.*.example.com', 'https://git.other.org/team']) {
      expect(gitGet(h, f, `credential.${url}.helper`)).toEqual(['', helper]);
    }
    expect(gitGet(h, f, 'credential.https://git.other.org/team.usehttppath')).toEqual(['true']);
    expect(gitGet(h, f, 'credential.https://example.com.usehttppath')).toEqual([]);
  });

  it('nothing stored and no rules: says so and exits 1, writing nothing', async () => {
    h = await newHome('empty');
    for (const tool of ['bazel', 'git', 'docker'] as const) {
      const r = await h.credmux(['setup', tool]);
      expect(r.code, show(r)).toBe(1);
      expect(r.stdout).toContain('Nothing to wire');
    }
    expect(snapshot(h.home, CREDMUX_OWN)).toEqual({});
  });

  it('a config file setup cannot parse is reported with the file, and left alone', async () => {
    h = await newHome('bad-docker');
    await h.login('https://pkgs.example.com', 'alice', 'pw');
    const f = join(h.home, '.docker', 'config.json');
    mkdirSync(dirname(f));
    writeFileSync(f, '{"auths": ');
    const r = await h.credmux(['setup', 'docker']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f} is not valid JSON`);
    expect(readFileSync(f, 'utf8')).toBe('{"auths": ');
  });
});

describe('credmux setup podman (podman, skopeo, buildah: registries.conf credential-helpers)', () => {
  const dropIn = () => join(h.home, '.config/containers/registries.conf.d/99-credmux.conf');
  /** The environment with docker-credential-credmux on PATH, as podman and skopeo must find it. */
  function withHelper(): NodeJS.ProcessEnv {
    const bin = join(h.root, 'bin');
    mkdirSync(bin, { recursive: true });
    if (!existsSync(join(bin, 'docker-credential-credmux')))
      symlinkSync(distBin('docker-credential-credmux'), join(bin, 'docker-credential-credmux'));
    return { ...h.env, PATH: `${bin}:${h.env.PATH}` };
  }

  it('refuses while docker-credential-credmux is not on PATH (podman would then fail on every registry), writing nothing', async () => {
    h = await newHome('podman-no-helper');
    const r = await h.credmux(['setup', 'podman']);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('docker-credential-credmux is not on PATH');
    expect(r.stderr).toContain('then run credmux setup podman again');
    expect(snapshot(h.home, CREDMUX_OWN)).toEqual({});
  });

  it.each([false, true])(
    'puts credmux first and keeps the helpers before it (user registries.conf: %s); twice changes nothing; --dry-run writes nothing; --undo restores every byte',
    async (userConf) => {
      h = await newHome('podman');
      const env = withHelper();
      const userFile = join(h.home, '.config/containers/registries.conf');
      const mine = 'unqualified-search-registries = ["docker.io"]\ncredential-helpers = ["containers-auth.json", "pass"]\n';
      if (userConf) {
        mkdirSync(dirname(userFile), { recursive: true });
        writeFileSync(userFile, mine);
      }
      const before = snapshot(h.home, CREDMUX_OWN);
      const dry = await h.ok(['setup', 'podman', '--dry-run'], { env });
      expect(dry.stdout).toMatch(/^\+credential-helpers = \["credmux", /m);
      expect(snapshot(h.home, CREDMUX_OWN)).toEqual(before);

      const first = await h.ok(['setup', 'podman'], { env });
      expect(first.stdout).not.toContain('Action needed');
      const helpers = userConf ? '["credmux", "containers-auth.json", "pass"]' : '["credmux", "containers-auth.json"]';
      expect(readFileSync(dropIn(), 'utf8')).toContain(`\ncredential-helpers = ${helpers}\n`);
      if (userConf) expect(readFileSync(userFile, 'utf8')).toBe(mine); // the person's file is not touched
      const after = snapshot(h.home, CREDMUX_OWN);
      expect((await h.ok(['setup', 'podman'], { env })).stdout).toContain('already set up, no change');
      expect(snapshot(h.home, CREDMUX_OWN)).toEqual(after);

      const json = JSON.parse((await h.ok(['setup', 'podman', '--undo', '--dry-run', '--json'], { env })).stdout);
      expect(json).toMatchObject({ tool: 'podman', undo: true, dryRun: true, changes: [{ path: dropIn(), kind: 'delete' }] });
      await h.ok(['setup', 'podman', '--undo'], { env });
      expect(snapshot(h.home, CREDMUX_OWN)).toEqual(before);
    },
  );
});
