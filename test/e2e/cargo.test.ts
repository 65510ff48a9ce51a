// The real cargo (≥ 1.74) asking credmux for a token through its credential-provider protocol, against
// a sparse registry on 127.0.0.1 that requires authentication on every request (`auth-required`,
// scripts/servers/cargo-registry.ts). Wired the way a person wires it: `credmux setup cargo` edits the
// private CARGO_HOME's config.toml. Every success is checked against the registry's log (the token on
// config.json, the index file and the .crate download); every negative control fails at the registry.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireBuiltAndTools } from '../helpers/dist.js';
import { show, type RunResult } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startCargoRegistry, type CargoRegistry } from '../helpers/servers.js';

const TOKEN = 'cargo-e2e-token-7Qw2';
const LOGIN_TOKEN = 'Bearer cargo-login-token-Zr81';

let registry: CargoRegistry;
/**
 * The toolchain's cargo and rustc themselves, not rustup's proxies: those look for toolchains under
 * $HOME, which each test replaces (cargo fetch runs `rustc -vV`).
 */
let cargoBin: string;
let rustcBin: string | undefined;
let sb: Sandbox;
let env: NodeJS.ProcessEnv;
let cargoHome: string;
let project: string;

function realCargo(): string {
  try {
    return execFileSync('rustup', ['which', 'cargo'], { encoding: 'utf8' }).trim();
  } catch {
    return 'cargo'; // a cargo installed without rustup
  }
}

beforeAll(async () => {
  requireBuiltAndTools(['cargo', 'tar']);
  cargoBin = realCargo();
  const rustc = join(dirname(cargoBin), 'rustc');
  rustcBin = isAbsolute(cargoBin) && existsSync(rustc) ? rustc : undefined;
  const version = execFileSync(cargoBin, ['--version'], { encoding: 'utf8' });
  const [, major, minor] = /^cargo (\d+)\.(\d+)/.exec(version) ?? [];
  // The JSON provider protocol, --cargo-plugin and auth-required are stable since cargo 1.74.
  if (!(Number(major) > 1 || Number(minor) >= 74)) throw new Error(`cargo ≥ 1.74 needed, found ${version.trim()}: install it with rustup`);
  registry = await startCargoRegistry({ token: TOKEN });
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

beforeEach(async () => {
  sb = await createSandbox('cargo');
  cargoHome = join(sb.root, 'cargo-home');
  project = join(sb.root, 'app');
  env = { ...sb.env, CARGO_HOME: cargoHome, CARGO_TERM_COLOR: 'never', CARGO_NET_RETRY: '0', ...(rustcBin ? { RUSTC: rustcBin } : {}) };
  await mkdir(join(project, 'src'), { recursive: true });
  await mkdir(cargoHome, { recursive: true });
  // Upstream shape: doc/book/src/reference/registries.md (an alternative registry by name).
  await writeFile(join(cargoHome, 'config.toml'), `[registries.corp]\nindex = "${registry.indexUrl}"\n`);
  await writeFile(
    join(project, 'Cargo.toml'),
    `[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n${registry.crate} = { version = "0.1", registry = "corp" }\n`,
  );
  await writeFile(join(project, 'src', 'lib.rs'), '');
  registry.setToken(TOKEN);
});
afterEach(async () => {
  await sb.cleanup();
});

function cargo(args: string[], input?: string): Promise<RunResult> {
  return sb.run(cargoBin, args, { cwd: project, env, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
}

async function credmux(args: string[], input?: string): Promise<RunResult> {
  const r = await sb.run(sb.bin('credmux'), args, { env, ...(input === undefined ? {} : { input }) });
  if (r.code !== 0) throw new Error(`credmux ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

/** Requests since `from` that the registry accepted, by path. */
async function authorizedPaths(from: number): Promise<string[]> {
  return (await registry.requestLog())
    .slice(from)
    .filter((l) => l.authorized && l.status === 200)
    .map((l) => l.path);
}

const crateFiles = () => {
  const cache = join(cargoHome, 'registry', 'cache');
  return existsSync(cache) ? readdirSync(cache).flatMap((d) => readdirSync(join(cache, d))) : [];
};

describe('cargo → cargo-credential-credmux → the daemon', () => {
  it('generate-lockfile and fetch get the registry token only through credmux', async () => {
    await credmux(['setup', 'cargo']);
    expect(readFileSync(join(cargoHome, 'config.toml'), 'utf8')).toMatch(
      /global-credential-providers = \["cargo:token", "\/[^"]*\/cargo-credential-credmux"\]/,
    );

    // Wired, but nothing stored: credmux says not-found, cargo:token has nothing, the registry refuses.
    let from = (await registry.requestLog()).length;
    const without = await cargo(['generate-lockfile']);
    expect(without.code, show(without)).not.toBe(0);
    expect(without.stderr).toMatch(/no token found/);
    expect(await authorizedPaths(from)).toEqual([]);

    await credmux(['login', registry.credmuxUrl, '--token-stdin', '--for', 'cargo'], TOKEN);
    from = (await registry.requestLog()).length;
    const lock = await cargo(['generate-lockfile']);
    expect(lock.code, show(lock)).toBe(0);
    const lockfile = readFileSync(join(project, 'Cargo.lock'), 'utf8');
    expect(lockfile).toContain(`name = "${registry.crate}"`);
    expect(lockfile).toContain(`source = "${registry.indexUrl.replace(/\/$/, '')}`);
    const fetched = await cargo(['fetch']);
    expect(fetched.code, show(fetched)).toBe(0);
    expect(crateFiles()).toContain(`${registry.crate}-${registry.version}.crate`);
    // The token on every kind of request auth-required covers: config, index file, download.
    const paths = await authorizedPaths(from);
    expect(paths).toEqual(
      expect.arrayContaining(['/index/config.json', `/index/3/d/${registry.crate}`, `/dl/${registry.crate}/${registry.version}.crate`]),
    );
    // cargo kept no copy of its own.
    expect(existsSync(join(cargoHome, 'credentials.toml'))).toBe(false);

    // Unwired again, cargo has no provider for an authenticated registry and refuses before asking.
    await credmux(['setup', 'cargo', '--undo']);
    expect(readFileSync(join(cargoHome, 'config.toml'), 'utf8')).toBe(`[registries.corp]\nindex = "${registry.indexUrl}"\n`);
    const unwired = await cargo(['generate-lockfile']);
    expect(unwired.code, show(unwired)).not.toBe(0);
    expect(unwired.stderr).toMatch(/credential-provider/);
  }, 180_000);

  it('cargo login stores through credmux, cargo logout erases there', async () => {
    await credmux(['setup', 'cargo']);
    registry.setToken(LOGIN_TOKEN);

    // cargo login reads the token from stdin when it is not a terminal and hands it to the provider.
    const login = await cargo(['login', '--registry', 'corp'], `${LOGIN_TOKEN}\n`);
    expect(login.code, show(login)).toBe(0);
    expect(login.stdout + login.stderr).not.toContain(LOGIN_TOKEN);
    expect(existsSync(join(cargoHome, 'credentials.toml'))).toBe(false);
    const entries = await sb.listEntries();
    expect(entries).toEqual([expect.objectContaining({ url: registry.credmuxUrl.replace(/\/$/, ''), kind: 'bearer' })]);
    expect((await sb.served(registry.credmuxUrl))?.secret).toBe(LOGIN_TOKEN);

    // The stored token, verbatim (scheme included), is what the registry now sees.
    const from = (await registry.requestLog()).length;
    const lock = await cargo(['generate-lockfile']);
    expect(lock.code, show(lock)).toBe(0);
    expect(await authorizedPaths(from)).toEqual(expect.arrayContaining(['/index/config.json', `/index/3/d/${registry.crate}`]));

    const logout = await cargo(['logout', '--registry', 'corp']);
    expect(logout.code, show(logout)).toBe(0);
    expect(await sb.listEntries()).toEqual([]);
    const after = await cargo(['generate-lockfile']);
    expect(after.code, show(after)).not.toBe(0);
    expect(after.stderr).toMatch(/no token found/);

    // Nothing left to erase: cargo's own wording for "not logged in", and still exit 0.
    const again = await cargo(['logout', '--registry', 'corp']);
    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).toMatch(/not currently logged in/);
  }, 180_000);
});
