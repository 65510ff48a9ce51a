// The end-to-end tests run the BUILT executables, exactly as a user's tools would find them.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** CREDMUX_E2E_BIN: run the suite against other executables (an installed copy, or a deliberately broken one to prove the tests can fail). */
export const DIST_BIN = process.env.CREDMUX_E2E_BIN || join(REPO_ROOT, 'dist', 'bin');

export const ENTRIES = [
  'credmux',
  'git-credential-credmux',
  'docker-credential-credmux',
  'credmux-bazel',
  'keyring',
  'terraform-credentials-credmux',
  'credmux-go',
  'cargo-credential-credmux',
  'credmux-kube',
  'credmux-kubelet',
] as const;
export type Entry = (typeof ENTRIES)[number];

export function distBin(name: Entry): string {
  // The keyring entry has a directory of its own beside bin/, so dist/bin on PATH shadows nothing.
  if (name === 'keyring') return join(DIST_BIN, '..', 'keyring-bin', name);
  return join(DIST_BIN, name);
}

/** Fails loudly (never skips: a skipped e2e suite proves nothing) when the build or a tool is missing. */
export function requireBuiltAndTools(tools: readonly string[]): void {
  requireBuilt();
  requireTools(tools);
}

export function requireBuilt(): void {
  const missing = ENTRIES.filter((e) => !existsSync(distBin(e)));
  if (missing.length) {
    throw new Error(`${DIST_BIN} lacks ${missing.join(', ')}: run \`npm run build\` first (npm test does it)`);
  }
}

export function requireTools(tools: readonly string[]): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', t], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: run \`bash scripts/install-test-deps.sh\``);
}
