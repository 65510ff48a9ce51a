// The real terraform (1.11, /usr/local/bin) installing a module from a private registry on
// https://127.0.0.1:<port> whose discovery, versions and download demand a bearer token, with
// credmux as its credentials helper (terraform-credentials-credmux in ~/.terraform.d/plugins).
//
// Evidence is the registry's own record of the Authorization each request carried, not terraform's
// exit code alone: a helper terraform cannot find is only logged, and terraform carries on without it.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireBuiltAndTools } from '../helpers/dist.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startTerraformRegistry, type TerraformRegistry } from '../helpers/terraform-registry.js';

const TOKEN = 'tf-token-Q7w2e9R4';

let registry: TerraformRegistry;
let sb: Sandbox;

beforeAll(async () => {
  requireBuiltAndTools(['terraform', 'tar', 'openssl']);
  registry = await startTerraformRegistry([TOKEN]);
});
afterAll(async () => {
  await registry?.stop();
});
beforeEach(async () => {
  sb = await createSandbox('terraform');
  registry.requests.length = 0;
});
afterEach(async () => {
  await sb.cleanup();
});

/** terraform's environment: the sandbox's, no network beyond loopback, the test CA trusted. */
function tfEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...sb.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', SSL_CERT_FILE: registry.caFile, ...extra };
}

/** A working directory whose only content is one registry module (no provider to download). */
function workDir(name = 'work'): string {
  const dir = join(sb.root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'main.tf'),
    `module "hello" {\n  source  = "${registry.moduleSource}"\n  version = "1.0.0"\n}\n\noutput "greeting" {\n  value = module.hello.greeting\n}\n`,
  );
  return dir;
}

const init = (dir: string, env = tfEnv()) => sb.run('terraform', ['init', '-input=false', '-no-color'], { cwd: dir, env, timeoutMs: 60_000 });

/** What the protocol asks, done by hand: the helper in the plugin directory, the block in ~/.terraformrc. */
function wireByHand(): string {
  const plugins = join(sb.home, '.terraform.d', 'plugins');
  mkdirSync(plugins, { recursive: true });
  const helper = join(plugins, 'terraform-credentials-credmux');
  symlinkSync(sb.bin('terraform-credentials-credmux'), helper);
  writeFileSync(join(sb.home, '.terraformrc'), 'credentials_helper "credmux" {\n  args = []\n}\n');
  return helper;
}

const bearer = `Bearer ${TOKEN}`;
const seen = (path: RegExp) => registry.requests.filter((r) => path.test(r.path));

describe('terraform init → terraform-credentials-credmux', () => {
  it('installs the module: discovery, versions and download carried the token credmux served', async () => {
    wireByHand();
    await sb.credmux(['login', `https://${registry.host}`, '--token-stdin', '--for', 'terraform'], TOKEN);
    const dir = workDir();

    const r = await init(dir);
    expect(r.code, show(r)).toBe(0);
    expect(readFileSync(join(dir, '.terraform/modules/hello/main.tf'), 'utf8')).toContain(registry.moduleOutput);

    for (const path of [/^\/\.well-known\/terraform\.json$/, /\/versions$/, /\/1\.0\.0\/download$/]) {
      const hits = seen(path);
      expect(hits.length, `${path} requested`).toBeGreaterThan(0);
      expect(hits.every((h) => h.authorization === bearer && h.status !== 401)).toBe(true);
    }
    // The package itself is fetched without the token (hashicorp/terraform#28659): the URL is the key.
    expect(seen(/^\/pkg\//).map((h) => [h.method, h.authorization, h.status])).toEqual([
      ['HEAD', undefined, 200],
      ['GET', undefined, 200],
    ]);
  });

  it('without credmux the same init fails: the registry refused every request it got', async () => {
    await sb.credmux(['login', `https://${registry.host}`, '--token-stdin'], TOKEN); // stored, but terraform is not wired
    const r = await init(workDir());
    expect(r.code, show(r)).not.toBe(0);
    expect(registry.requests.length).toBeGreaterThan(0);
    expect(registry.requests.every((q) => q.authorization === undefined && q.status === 401)).toBe(true);
    expect(seen(/^\/pkg\//)).toEqual([]);
  });

  it('with the helper wired but no credential stored, terraform gets {} and the registry says 401', async () => {
    wireByHand();
    const r = await init(workDir(), tfEnv({ TF_LOG: 'DEBUG' }));
    expect(r.code, show(r)).not.toBe(0);
    // Found and run (terraform only logs a helper it cannot find), and its {} meant "no credentials".
    expect(r.stderr).not.toContain('Unable to find credentials helper');
    expect(r.stderr).not.toContain('Failed to get credentials');
    expect(registry.requests.every((q) => q.authorization === undefined && q.status === 401)).toBe(true);
  });

  it('a helper failure reaches terraform as its error text (discovery logs it and goes on without), and nothing is sent', async () => {
    wireByHand();
    // A rule whose token comes from an unset variable: the helper fails with a message on stderr.
    mkdirSync(join(sb.home, '.config', 'credmux'), { recursive: true });
    writeFileSync(
      join(sb.home, '.config', 'credmux', 'config.json'),
      JSON.stringify({ rules: [{ id: 'tf', match: `https://${registry.host}`, source: { type: 'env', var: 'TF_REGISTRY_TOKEN_UNSET' } }] }),
    );
    // terraform-svchost disco.go logs a helper error as a warning and discovers without credentials.
    const r = await init(workDir(), tfEnv({ TF_LOG: 'WARN' }));
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/error in \S*terraform-credentials-credmux: terraform-credentials-credmux: .*TF_REGISTRY_TOKEN_UNSET/s);
    expect(registry.requests.every((q) => q.authorization === undefined)).toBe(true);
  });
});

describe('credmux setup terraform, then the real terraform', () => {
  it.each([
    ['~/.terraformrc', undefined],
    ['TF_CLI_CONFIG_FILE', 'ci.tfrc'],
  ])('wires it through %s: init authenticates; after --undo it no longer does', async (_via, cliConfig) => {
    const env = tfEnv(cliConfig ? { TF_CLI_CONFIG_FILE: join(sb.root, cliConfig) } : {});
    await sb.credmux(['login', `https://${registry.host}`, '--token-stdin'], TOKEN);
    const setup = await sb.run(sb.bin('credmux'), ['setup', 'terraform'], { env });
    expect(setup.code, show(setup)).toBe(0);

    const ok = await init(workDir(), env);
    expect(ok.code, show(ok)).toBe(0);
    expect(seen(/\/download$/).map((h) => h.authorization)).toEqual([bearer]);

    const undo = await sb.run(sb.bin('credmux'), ['setup', 'terraform', '--undo'], { env });
    expect(undo.code, show(undo)).toBe(0);
    registry.requests.length = 0;
    const after = await init(workDir('after-undo'), env);
    expect(after.code, show(after)).not.toBe(0);
    expect(registry.requests.every((q) => q.authorization === undefined && q.status === 401)).toBe(true);
  });
});

describe('store and forget, as terraform runs them', () => {
  it('store (the token on stdin, as terraform-svchost writes it) is what the next init sends; terraform logout forgets it', async () => {
    const helper = wireByHand();
    // terraform-svchost auth/helper_program.go: argv [abs path, "store", host], stdin ctyjson of {"token": …}.
    const stored = await sb.run(helper, ['store', registry.host], { input: JSON.stringify({ token: TOKEN }) });
    expect(stored.code, show(stored)).toBe(0);
    expect(stored.stdout).toBe('');
    expect(await sb.listEntries()).toMatchObject([{ url: `https://${registry.host}`, kind: 'bearer', protocols: ['terraform'] }]);

    const dir = workDir();
    const ok = await init(dir);
    expect(ok.code, show(ok)).toBe(0);
    expect(seen(/\/download$/).map((h) => h.authorization)).toEqual([bearer]);

    // The real `terraform logout` runs the helper's forget (no credentials file names the host).
    const logout = await sb.run('terraform', ['logout', registry.host, '-no-color'], { env: tfEnv() });
    expect(logout.code, show(logout)).toBe(0);
    expect(logout.stdout).toContain('credentials helper');
    expect(await sb.listEntries()).toEqual([]);

    registry.requests.length = 0;
    const again = await init(workDir('again'));
    expect(again.code, show(again)).not.toBe(0);
    expect(registry.requests.every((q) => q.authorization === undefined && q.status === 401)).toBe(true);
  });

  it('a store with more than a token is refused whole: nothing stored, the reason on stderr', async () => {
    const helper = wireByHand();
    const r = await sb.run(helper, ['store', registry.host], { input: JSON.stringify({ token: TOKEN, refresh: 'r-Q7w2e9R4' }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"refresh"');
    expect(r.stderr).not.toContain(TOKEN);
    expect(await sb.listEntries()).toEqual([]);
  });
});
