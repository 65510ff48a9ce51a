// Real pnpm (10.x, pinned in devDependencies) installing a package from a real auth-required registry
// (verdaccio, pinned too) on 127.0.0.1, its token served by credmux through `credmux setup pnpm`'s
// wrapper: pnpm never finds the token in any .npmrc. Every success is checked against verdaccio's own
// log (alice, 200, the tarball) and the installed bytes (a marker fresh per run); every failure
// against the log too (no authenticated tarball). pnpm's tokenHelper contract: docs/protocols.md §13.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, requireBuiltAndTools } from '../helpers/dist.js';
import { show, type RunResult } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startVerdaccio, type NpmLogLine, type NpmRegistry } from '../helpers/servers.js';

const USER = 'alice';
const PASSWORD = 'pw-pnpm-Vx7k';
const PNPM = join(REPO_ROOT, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');

let registry: NpmRegistry;
let sb: Sandbox;

beforeAll(async () => {
  requireBuiltAndTools(['npm', 'htpasswd']);
  registry = await startVerdaccio({ user: USER, password: PASSWORD });
}, 120_000);
afterAll(async () => {
  await registry?.stop();
});
beforeEach(async () => {
  sb = await createSandbox('pnpm');
});
afterEach(async () => {
  await sb.cleanup();
});

const npmrc = () => join(sb.home, '.npmrc');

/**
 * `pnpm install` of the probe package in a fresh project, with a fresh store and metadata cache, so
 * every run asks the registry. The project .npmrc names only the registry (a tokenHelper there is
 * ignored or refused by pnpm: only the user config counts).
 */
async function pnpmInstall(): Promise<{ r: RunResult; project: string }> {
  const project = await mkdtemp(join(sb.root, 'project-'));
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { [registry.packageName]: registry.version } }),
  );
  await writeFile(join(project, '.npmrc'), `registry=${registry.url}\nupdate-notifier=false\n`);
  const r = await sb.run(
    process.execPath,
    [PNPM, 'install', '--store-dir', join(project, '.store'), '--cache-dir', join(project, '.cache'), '--reporter', 'append-only'],
    { cwd: project, timeoutMs: 120_000 },
  );
  return { r, project };
}

function installedMarker(project: string): string | undefined {
  const file = join(project, 'node_modules', ...registry.packageName.split('/'), 'index.js');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/** The log lines after this point, once `pred` holds (verdaccio logs just after it answers). */
async function mark() {
  const start = (await registry.requestLog()).length;
  return (pred: (l: NpmLogLine[]) => boolean) => registry.waitForLog((l) => pred(l.slice(start)), 5_000).then((l) => l.slice(start));
}

const isTarball = (l: NpmLogLine) => l.method === 'GET' && l.url.endsWith(`-${registry.version}.tgz`);
const aliceGotTarball = (lines: NpmLogLine[]) => lines.some((l) => isTarball(l) && l.user === USER && l.status === 200);
const refused = (lines: NpmLogLine[]) => lines.some((l) => l.status === 401);
const shown = (lines: NpmLogLine[]) => lines.map((l) => `${l.user ?? '-'} ${l.status} ${l.method} ${l.url}`).join('\n');

async function loginToken(extra: string[] = []): Promise<void> {
  await sb.credmux(['login', registry.url, '--token-stdin', ...extra], registry.token);
}

describe('pnpm 10 with credmux-pnpm as its tokenHelper', () => {
  it('is the pnpm we mean to test', async () => {
    const v = await sb.run(process.execPath, [PNPM, '--version']);
    expect(v.stdout.trim()).toMatch(/^10\./);
  });

  it('installs the auth-required package with the token credmux serves; the token is in no .npmrc', async () => {
    await loginToken(['--for', 'pnpm']);
    const setup = await sb.credmux(['setup', 'pnpm']);
    expect(setup.stdout).toContain(registry.url);
    const rc = await readFile(npmrc(), 'utf8');
    expect(rc).toMatch(new RegExp(`^//127\\.0\\.0\\.1:${registry.port}/:tokenHelper=/\\S+$`, 'm'));
    expect(rc).not.toContain(registry.token);

    const seen = await mark();
    const { r, project } = await pnpmInstall();
    expect(r.code, show(r)).toBe(0);
    expect(installedMarker(project)).toContain(registry.marker);
    const lines = await seen(aliceGotTarball);
    expect(aliceGotTarball(lines), shown(lines)).toBe(true);
    // Nothing the project or the user config holds could have authenticated it: only the helper's answer.
    expect(
      readdirSync(project)
        .filter((f) => f.endsWith('.npmrc'))
        .map((f) => readFileSync(join(project, f), 'utf8')),
    ).not.toContainEqual(expect.stringContaining(registry.token));
  });

  it('fails without credmux: no tokenHelper (401), and a helper with nothing stored (pnpm stops)', async () => {
    // No setup at all: pnpm asks anonymously and verdaccio refuses.
    const seen = await mark();
    let { r, project } = await pnpmInstall();
    expect(r.code, show(r)).not.toBe(0);
    expect(installedMarker(project)).toBeUndefined();
    let lines = await seen(refused);
    expect(refused(lines), shown(lines)).toBe(true);
    expect(aliceGotTarball(lines), shown(lines)).toBe(false);

    // Wired, then logged out: the wrapper's credmux-pnpm exits 1 and pnpm fails before any download.
    await loginToken();
    await sb.credmux(['setup', 'pnpm']);
    await sb.credmux(['logout', registry.url]);
    const start = (await registry.requestLog()).length;
    ({ r, project } = await pnpmInstall());
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('TOKEN_HELPER_ERROR_STATUS');
    expect(installedMarker(project)).toBeUndefined();
    lines = (await registry.requestLog()).slice(start);
    expect(aliceGotTarball(lines), shown(lines)).toBe(false);
  });

  it('serves a stored username and password as Basic, which pnpm passes on unchanged', async () => {
    await sb.login(registry.url, USER, PASSWORD);
    await sb.credmux(['setup', 'pnpm']);
    const seen = await mark();
    const { r, project } = await pnpmInstall();
    expect(r.code, show(r)).toBe(0);
    expect(installedMarker(project)).toContain(registry.marker);
    const lines = await seen(aliceGotTarball);
    expect(aliceGotTarball(lines), shown(lines)).toBe(true);
  });

  it('why credmux prints "Bearer <token>": pnpm 10 sends a bare token as the whole header, and the registry refuses it', async () => {
    // A hand-made helper printing only the token (what pnpm 11 would accept): the control for §13.1.
    const helper = join(sb.root, 'bare-token-helper');
    await writeFile(helper, `#!/bin/sh\ncat ${JSON.stringify(join(sb.root, 'token'))}\n`);
    await writeFile(join(sb.root, 'token'), registry.token, { mode: 0o600 });
    await chmod(helper, 0o700);
    await writeFile(npmrc(), `${registry.url.replace(/^http:/, '')}:tokenHelper=${helper}\n`);
    const seen = await mark();
    const { r, project } = await pnpmInstall();
    expect(r.code, show(r)).not.toBe(0);
    expect(installedMarker(project)).toBeUndefined();
    const lines = await seen(refused);
    expect(aliceGotTarball(lines), shown(lines)).toBe(false);
  });

  it('setup --undo gives the user .npmrc back byte for byte, removes the wrappers, and pnpm is refused again', async () => {
    const before = 'save-exact=true\n//other.example.test/:_authToken=other-token-kept\n; a comment of the user';
    await writeFile(npmrc(), before);
    await loginToken();
    await sb.credmux(['setup', 'pnpm']);
    const wired = await readFile(npmrc(), 'utf8');
    expect(wired.startsWith(before)).toBe(true);
    const wrappers = join(sb.home, '.local', 'share', 'credmux', 'pnpm-helpers');
    expect(readdirSync(wrappers)).toHaveLength(1);
    const wiredRun = (await pnpmInstall()).r;
    expect(wiredRun.code, show(wiredRun)).toBe(0);

    await sb.credmux(['setup', 'pnpm', '--undo']);
    expect(await readFile(npmrc(), 'utf8')).toBe(before);
    expect(existsSync(wrappers)).toBe(false);
    const seen = await mark();
    const { r } = await pnpmInstall();
    expect(r.code, show(r)).not.toBe(0);
    const lines = await seen(refused);
    expect(aliceGotTarball(lines), shown(lines)).toBe(false);
  });
});
