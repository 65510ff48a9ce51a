// The adapters, and which one an executable's name selects. Bazel, git and Docker all start
// with `get`, so the name is what tells them apart (docs/protocols.md §6).
import type { ProtocolAdapter } from '../model/types.js';
import { bazel } from './bazel.js';
import { cargo } from './cargo.js';
import { docker } from './docker.js';
import { git } from './git.js';
import { go } from './go.js';
import { keyring } from './keyring.js';
import { kubectl } from './kubectl.js';
import { kubelet } from './kubelet.js';
import { terraform } from './terraform.js';

export const adapters = { bazel, git, docker, keyring, terraform, go, cargo, kubectl, kubelet } as const satisfies Record<
  ProtocolAdapter['name'],
  ProtocolAdapter
>;

/** Windows shims (`.exe`, `.cmd`…) and node launchers (`.js`…) keep the helper's name in front. */
const LAUNCHER_SUFFIX = /\.(exe|cmd|bat|ps1|js|cjs|mjs)$/i;

/**
 * The adapter an executable's name asks for: `credmux-bazel`, `git-credential-<any>`,
 * `docker-credential-<any>`, `keyring`, `terraform-credentials-<any>`, `credmux-go`, `cargo-credential-<any>`, `credmux-kube`,
 * `credmux-kubelet`.
 * Case-insensitive, as Windows file names are.
 */
export function adapterForProgram(basename: string): ProtocolAdapter | undefined {
  const name = basename
    .replace(/^.*[/\\]/, '')
    .replace(LAUNCHER_SUFFIX, '')
    .toLowerCase();
  if (name === 'credmux-bazel') return adapters.bazel;
  if (name === 'keyring') return adapters.keyring;
  if (name === 'credmux-go') return adapters.go;
  if (name === 'credmux-kube') return adapters.kubectl;
  if (name === 'credmux-kubelet') return adapters.kubelet;
  if (/^git-credential-./.test(name)) return adapters.git;
  if (/^docker-credential-./.test(name)) return adapters.docker;
  if (/^terraform-credentials-./.test(name)) return adapters.terraform;
  if (/^cargo-credential-./.test(name)) return adapters.cargo;
  return undefined;
}
