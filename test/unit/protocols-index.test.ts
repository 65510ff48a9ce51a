// The executable's name picks the protocol: Bazel, git and Docker all start with `get`.
import { describe, expect, it } from 'vitest';
import { adapterForProgram, adapters } from '../../src/protocols/index.js';

describe('adapterForProgram', () => {
  it.each([
    ['credmux-bazel', 'bazel'],
    ['credmux-bazel.exe', 'bazel'],
    ['CREDMUX-BAZEL.CMD', 'bazel'],
    ['git-credential-credmux', 'git'],
    ['git-credential-credmux.exe', 'git'],
    ['git-credential-anything.cmd', 'git'],
    ['docker-credential-credmux', 'docker'],
    ['docker-credential-credmux.js', 'docker'],
    ['docker-credential-ecr-login.cjs', 'docker'],
    ['keyring', 'keyring'],
    ['keyring.exe', 'keyring'],
    ['/usr/local/bin/keyring', 'keyring'],
    ['credmux-go', 'go'],
    ['/opt/credmux/bin/CREDMUX-GO.exe', 'go'],
    ['C:\\tools\\git-credential-credmux.exe', 'git'],
    ['cargo-credential-credmux', 'cargo'],
    ['/usr/local/bin/cargo-credential-credmux', 'cargo'],
    ['credmux-kube', 'kubectl'],
    ['/opt/credmux/bin/credmux-kube', 'kubectl'],
    ['credmux-kube.exe', 'kubectl'],
    ['credmux-kubelet', 'kubelet'],
    ['/etc/kubernetes/image-credential-provider/credmux-kubelet', 'kubelet'],
  ])('%s → %s', (program, name) => {
    expect(adapterForProgram(program)?.name).toBe(name);
  });

  it.each([
    'credmux',
    'node',
    'git-credential-',
    'docker-credential-',
    'keyring-helper',
    'bazel',
    'credmux-bazel.sh',
    'cargo-credential-',
    'cargo',
    'credmux-kubectl',
    'kubelet',
    '',
  ])('%j → none', (program) => {
    expect(adapterForProgram(program)).toBeUndefined();
  });

  it('adapters are keyed by their own names', () => {
    for (const [name, adapter] of Object.entries(adapters)) expect(adapter.name).toBe(name);
  });
});
