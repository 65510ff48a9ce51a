// `credmux setup cargo` and the cargo check of `credmux doctor`, on the BUILT binary in an empty HOME:
// what is written into $CARGO_HOME/config.toml for each shape of file a person may have, that a second
// run changes nothing, that --dry-run writes nothing, that --undo gives the bytes back (or, after the
// person edited the file, takes out only credmux's entry), and what doctor says at each step.
// Config shapes: rust-lang/cargo doc/book/src/reference/config.md ([registry], [registries.<name>],
// global-credential-providers) and registry-authentication.md.
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, requireBuilt } from '../helpers/dist.js';
import { show } from '../helpers/run.js';
import { newHome, type Home } from './home.js';

let h: Home;
beforeAll(() => requireBuilt());
afterEach(async () => {
  await h?.cleanup();
});

/** Setup writes the real path of the built entry. */
const OURS = () => join(realpathSync(DIST_BIN), 'cargo-credential-credmux');

const cargoDir = () => join(h.home, '.cargo');
const configFile = () => join(cargoDir(), 'config.toml');
const read = () => readFileSync(configFile(), 'utf8');
const providers = () => (parse(read()) as { registry?: { 'global-credential-providers'?: string[] } }).registry?.['global-credential-providers'];

function write(text: string, name = 'config.toml'): void {
  mkdirSync(cargoDir(), { recursive: true });
  writeFileSync(join(cargoDir(), name), text);
}

async function cargoCheck(env?: NodeJS.ProcessEnv): Promise<{ status: string; summary: string; fix?: string; details?: string[] }> {
  const r = await h.credmux(['doctor', '--json'], env ? { env } : {});
  const j = JSON.parse(r.stdout) as { checks: { area: string; status: string; summary: string; fix?: string; details?: string[] }[] };
  return j.checks.find((c) => c.area === 'cargo')!;
}

describe('credmux setup cargo', () => {
  it('with no config: creates [registry] with cargo:token kept before credmux; again: no change; --undo: the file is gone', async () => {
    h = await newHome('cargo-fresh');
    expect((await cargoCheck()).status).toBe('info');
    const dry = await h.ok(['setup', 'cargo', '--dry-run']);
    expect(dry.stdout).toContain('+global-credential-providers = ["cargo:token", ');
    expect(existsSync(configFile())).toBe(false);

    await h.ok(['setup', 'cargo']);
    expect(providers()).toEqual(['cargo:token', OURS()]);
    expect(await cargoCheck()).toMatchObject({ status: 'ok' });
    expect((await h.ok(['setup', 'cargo'])).stdout).toContain('already set up, no change');

    await h.ok(['setup', 'cargo', '--undo']);
    expect(existsSync(configFile())).toBe(false);
    expect((await cargoCheck()).status).toBe('info');
  });

  it('keeps every other byte: comments, other tables, a [registry] with other keys; --undo restores the file byte for byte', async () => {
    h = await newHome('cargo-keep');
    const before =
      '# my cargo config\n[net]\nretry = 3 # flaky wifi\n\n[registry]\ndefault = "corp"\n\n[registries.corp]\nindex = "sparse+https://pkgs.example.test/index/"\n';
    write(before);
    await h.ok(['setup', 'cargo']);
    const after = read();
    expect(after).toBe(
      before.replace('default = "corp"\n', `default = "corp"\nglobal-credential-providers = ["cargo:token", ${JSON.stringify(OURS())}]\n`),
    );
    await h.ok(['setup', 'cargo', '--undo']);
    expect(read()).toBe(before);
  });

  it('appends to a list the person set, keeping its order (cargo asks from the end), and replaces a stale credmux entry', async () => {
    h = await newHome('cargo-list');
    const before = '[registry]\nglobal-credential-providers = [\n  "cargo:libsecret",\n  "/old/place/cargo-credential-credmux",\n]\n';
    write(before);
    await h.ok(['setup', 'cargo']);
    expect(providers()).toEqual(['cargo:libsecret', OURS()]);
    await h.ok(['setup', 'cargo', '--undo']);
    expect(read()).toBe(before);
  });

  it('after the person edits the file, --undo takes out only credmux and keeps their change', async () => {
    h = await newHome('cargo-edited');
    write('[registry]\ndefault = "corp"\n');
    await h.ok(['setup', 'cargo']);
    writeFileSync(configFile(), `${read()}\n[net]\nretry = 5\n`);
    await h.ok(['setup', 'cargo', '--undo']);
    const value = parse(read()) as Record<string, Record<string, unknown>>;
    expect(value.registry).toEqual({ default: 'corp' });
    expect(value.net).toEqual({ retry: 5 });
  });

  it('edits the legacy extension-less config when that is the file cargo reads', async () => {
    h = await newHome('cargo-legacy');
    write('[net]\nretry = 1\n', 'config');
    await h.ok(['setup', 'cargo']);
    expect(existsSync(configFile())).toBe(false);
    expect(readFileSync(join(cargoDir(), 'config'), 'utf8')).toContain('[registry]\nglobal-credential-providers = ["cargo:token", ');
  });

  it('refuses what it cannot edit exactly, changing nothing: an inline [registry] table, a file that is not TOML', async () => {
    h = await newHome('cargo-refuse');
    const inline = 'registry = { default = "corp" }\n';
    write(inline);
    const r = await h.credmux(['setup', 'cargo']);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('edit it by hand: under [registry], global-credential-providers = ["cargo:token", ');
    expect(read()).toBe(inline);

    write('[registry\n');
    const bad = await h.credmux(['setup', 'cargo']);
    expect(bad.code, show(bad)).toBe(2);
    expect(bad.stderr).toMatch(/is not valid TOML \(line 1/);
    expect((await cargoCheck()).status).toBe('error');
  });

  it('warns where cargo would not ask credmux: the environment overrides the list, a registry names its own provider', async () => {
    h = await newHome('cargo-warn');
    write('[registries.corp]\nindex = "sparse+https://pkgs.example.test/index/"\ncredential-provider = "cargo:token"\n');
    const env = { ...h.env, CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS: 'cargo:token' };
    const r = await h.ok(['setup', 'cargo'], { env });
    expect(r.stdout).toContain('Action needed: CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS is set and overrides the config file');
    expect(r.stdout).toContain('Action needed: registry "corp" names its own credential-provider');
    // doctor reads what cargo reads: the environment's list has no credmux.
    expect((await cargoCheck(env)).status).toBe('info');
    const check = await cargoCheck();
    expect(check.status).toBe('warn');
    expect(check.details?.join('\n')).toContain('registry "corp" names its own credential-provider');
  });

  it('doctor fails a credmux entry that cannot run, and names the fix', async () => {
    h = await newHome('cargo-gone');
    write('[registry]\nglobal-credential-providers = ["cargo:token", "/opt/gone/cargo-credential-credmux"]\n');
    const check = await cargoCheck();
    expect(check).toMatchObject({ status: 'error', summary: expect.stringContaining('cannot run') });
    expect(check.fix).toContain('credmux setup cargo');
    await h.ok(['setup', 'cargo']);
    expect(providers()).toEqual(['cargo:token', OURS()]);
    expect((await cargoCheck()).status).toBe('ok');
  });
});
