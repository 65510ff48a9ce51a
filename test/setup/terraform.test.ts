// `credmux setup terraform`: the credentials_helper block in the CLI config Terraform and OpenTofu
// read, the helper linked into ~/.terraform.d/plugins, --dry-run writing nothing, --undo giving every
// byte back, and the configs it must refuse. The CLI config rules are hashicorp/terraform
// internal/command/cliconfig/{cliconfig.go,config_unix.go} and opentofu/opentofu's same files.
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { distBin } from '../helpers/dist.js';
import { show } from '../helpers/run.js';
import { CREDMUX_OWN, newHome, snapshot, type Home } from './home.js';

let h: Home | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const BLOCK = /^credentials_helper "credmux" \{\n {2}args = \[\]\n\}$/m;
const link = (home: string) => join(home, '.terraform.d/plugins/terraform-credentials-credmux');

describe('credmux setup terraform', () => {
  it('creates ~/.terraformrc with the block and links the helper; again changes nothing; --undo leaves the home as it was', async () => {
    h = await newHome('tf');
    const before = snapshot(h.home, CREDMUX_OWN);
    const r = await h.ok(['setup', 'terraform']);
    expect(r.stdout).toContain('.terraformrc: created');
    expect(readFileSync(join(h.home, '.terraformrc'), 'utf8')).toMatch(BLOCK);
    expect(lstatSync(link(h.home)).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link(h.home))).toBe(distBin('terraform-credentials-credmux'));

    const again = await h.ok(['setup', 'terraform']);
    expect(again.stdout).toContain('already set up, no change');

    await h.ok(['setup', 'terraform', '--undo']);
    expect(snapshot(h.home, CREDMUX_OWN)).toEqual(before);
  });

  it('appends to an existing ~/.terraformrc (comments and strings that mention the block do not count) and restores it byte for byte', async () => {
    h = await newHome('tf-existing');
    const existing =
      '# credentials_helper "other" { }\nplugin_cache_dir = "$HOME/.terraform.d/plugin-cache"\n' +
      'host "example.com" {\n  services = {\n    "modules.v1" = "https://example.com/credentials_helper \\"x\\" {}"\n  }\n}\n';
    writeFileSync(join(h.home, '.terraformrc'), existing, { mode: 0o600 });
    const dry = await h.ok(['setup', 'terraform', '--dry-run']);
    expect(dry.stdout).toContain('+credentials_helper "credmux" {');
    expect(readFileSync(join(h.home, '.terraformrc'), 'utf8')).toBe(existing);
    expect(existsSync(link(h.home))).toBe(false);

    await h.ok(['setup', 'terraform']);
    const after = readFileSync(join(h.home, '.terraformrc'), 'utf8');
    expect(after.startsWith(existing)).toBe(true);
    expect(after).toMatch(BLOCK);
    expect(lstatSync(join(h.home, '.terraformrc')).mode & 0o777).toBe(0o600);

    await h.ok(['setup', 'terraform', '--undo']);
    expect(readFileSync(join(h.home, '.terraformrc'), 'utf8')).toBe(existing);
  });

  it('undo after the person edited the file takes out only the block', async () => {
    h = await newHome('tf-edited');
    await h.ok(['setup', 'terraform']);
    const rc = join(h.home, '.terraformrc');
    writeFileSync(rc, `plugin_cache_dir = "/tmp/x"\n${readFileSync(rc, 'utf8')}disable_checkpoint = true\n`);
    await h.ok(['setup', 'terraform', '--undo']);
    expect(readFileSync(rc, 'utf8')).toBe('plugin_cache_dir = "/tmp/x"\ndisable_checkpoint = true\n');
  });

  it('honours TF_CLI_CONFIG_FILE (the only file either tool then reads), and writes ~/.tofurc too when OpenTofu has one', async () => {
    h = await newHome('tf-override');
    const cfg = join(h.root, 'ci.tfrc');
    const r = await h.ok(['setup', 'terraform'], { env: { ...h.env, TF_CLI_CONFIG_FILE: cfg } });
    expect(readFileSync(cfg, 'utf8')).toMatch(BLOCK);
    expect(existsSync(join(h.home, '.terraformrc'))).toBe(false);
    expect(r.stdout).toContain(cfg);
    await h.ok(['setup', 'terraform', '--undo'], { env: { ...h.env, TF_CLI_CONFIG_FILE: cfg } });
    expect(existsSync(cfg)).toBe(false);

    writeFileSync(join(h.home, '.tofurc'), 'plugin_cache_dir = "/tmp/tofu"\n');
    await h.ok(['setup', 'terraform']);
    expect(readFileSync(join(h.home, '.tofurc'), 'utf8')).toMatch(BLOCK);
    expect(readFileSync(join(h.home, '.terraformrc'), 'utf8')).toMatch(BLOCK);
    await h.ok(['setup', 'terraform', '--undo']);
    expect(readFileSync(join(h.home, '.tofurc'), 'utf8')).toBe('plugin_cache_dir = "/tmp/tofu"\n');
  });

  it('a JSON-syntax CLI config gets the helper as JSON, and undo restores it', async () => {
    h = await newHome('tf-json');
    const cfg = join(h.root, 'cli.tfrc.json');
    const original = '{"plugin_cache_dir": "/tmp/c"}\n';
    writeFileSync(cfg, original);
    const env = { ...h.env, TF_CLI_CONFIG_FILE: cfg };
    await h.ok(['setup', 'terraform'], { env });
    expect(JSON.parse(readFileSync(cfg, 'utf8'))).toEqual({ plugin_cache_dir: '/tmp/c', credentials_helper: { credmux: { args: [] } } });
    await h.ok(['setup', 'terraform', '--undo'], { env });
    expect(readFileSync(cfg, 'utf8')).toBe(original);
  });

  it.each([
    ['in ~/.terraformrc', '.terraformrc'],
    ['in a ~/.terraform.d/*.tfrc Terraform merges', '.terraform.d/other.tfrc'],
  ])('refuses while another credentials_helper is configured %s (Terraform allows one), writing nothing', async (_what, file) => {
    h = await newHome('tf-conflict');
    mkdirSync(join(h.home, '.terraform.d'), { recursive: true });
    writeFileSync(join(h.home, file), 'credentials_helper "vault" {\n  args = ["--team", "a"]\n}\n');
    const before = snapshot(h.home, CREDMUX_OWN);
    const r = await h.credmux(['setup', 'terraform']);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('credentials_helper "vault"');
    expect(r.stderr).toContain('remove that block');
    expect(snapshot(h.home, CREDMUX_OWN)).toEqual(before);
  });

  it('login --for terraform names the setup that wires it', async () => {
    h = await newHome('tf-for');
    const r = await h.ok(['login', 'https://registry.example.com', '--token-stdin', '--for', 'terraform'], { input: 'tok-123456' });
    expect(r.stdout + r.stderr).toContain('credmux setup terraform');
  });
});

describe('credmux doctor: terraform', () => {
  const terraformChecks = async (home: Home, env = home.env) => {
    const r = await home.credmux(['doctor', '--json'], { env });
    return (JSON.parse(r.stdout) as { checks: { area: string; status: string; summary: string; fix?: string }[] }).checks.filter(
      (c) => c.area === 'terraform',
    );
  };

  it('not wired: info with the setup command; wired: ok, naming the helper terraform will run', async () => {
    h = await newHome('tf-doctor');
    expect(await terraformChecks(h)).toMatchObject([{ status: 'info', fix: 'credmux setup terraform' }]);
    await h.ok(['setup', 'terraform']);
    const [c] = await terraformChecks(h);
    expect(c).toMatchObject({ status: 'ok' });
    expect(c!.summary).toContain(link(h.home));
  });

  it('the block without the helper in the plugin directory is an error (terraform would only log it)', async () => {
    h = await newHome('tf-doctor-missing');
    writeFileSync(join(h.home, '.terraformrc'), 'credentials_helper "credmux" {}\n');
    const [c] = await terraformChecks(h);
    expect(c).toMatchObject({ status: 'error', fix: 'credmux setup terraform' });
    const r = await h.credmux(['doctor']);
    expect(r.code).toBe(6);
  });

  it('a versioned helper of another credmux in the plugin directory is an error: Terraform prefers it', async () => {
    h = await newHome('tf-doctor-foreign');
    await h.ok(['setup', 'terraform']);
    const other = join(h.home, '.terraform.d/plugins/terraform-credentials-credmux_v2.0.0');
    writeFileSync(other, '#!/bin/sh\necho {}\n', { mode: 0o755 });
    expect(await terraformChecks(h)).toMatchObject([{ status: 'error', summary: expect.stringContaining(other) }]);
  });

  it('TF_TOKEN_<host> and a credentials block for a host credmux serves are reported: they win over the helper', async () => {
    h = await newHome('tf-doctor-outranked');
    await h.ok(['login', 'https://my-reg.example.com', '--token-stdin'], { input: 'tok-abcdef' });
    await h.ok(['setup', 'terraform']);
    mkdirSync(join(h.home, '.terraform.d'), { recursive: true });
    writeFileSync(
      join(h.home, '.terraform.d/credentials.tfrc.json'),
      JSON.stringify({ credentials: { 'my-reg.example.com': { token: 'old-Tok-999' } } }),
    );
    const checks = await terraformChecks(h, { ...h.env, TF_TOKEN_my__reg_example_com: 'env-Tok-777', TF_TOKEN_other_example_org: 'x' });
    const warn = checks.find((c) => c.status === 'warn');
    expect(warn?.summary).toContain('TF_TOKEN_my__reg_example_com (for my-reg.example.com)');
    expect(warn?.summary).toContain('credentials "my-reg.example.com"');
    expect(warn?.summary).not.toContain('other_example_org');
    expect(JSON.stringify(checks)).not.toMatch(/env-Tok-777|old-Tok-999|tok-abcdef/);
  });
});
