// The helper hot path must not carry the heavy libraries: yargs is for people, ajv validators are
// precompiled, jose and undici belong to the daemon's refreshing sources. Counted, not timed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';

const root = join(import.meta.dirname, '../..');
const inputs: Record<string, string[]> = JSON.parse(readFileSync(join(root, 'dist/inputs.json'), 'utf8'));
const HEAVY = /node_modules\/(yargs|yargs-parser|ajv|jose|undici|@napi-rs)\//;
/** Builtins that cost a helper milliseconds to load, and that a warm answer does not need. */
const SLOW_BUILTINS =
  /^(net|stream|tls|_tls_wrap|crypto|child_process|dgram|http|https|module|fs\/promises|internal\/fs\/promises|internal\/readline\/.*|internal\/streams\/.*|internal\/modules\/esm\/.*)$/;
/** The same, less net and its streams: a warm answer asks the daemon over node:net (src/client/pipe.ts). */
const SLOW_FOR_WARM =
  /^(tls|_tls_wrap|crypto|child_process|dgram|http|https|module|fs\/promises|internal\/fs\/promises|internal\/readline\/.*|internal\/modules\/esm\/.*)$/;

interface Loaded {
  files: string[];
  builtins: string[];
}
const ENTRIES = [
  'bin/credmux-bazel',
  'bin/git-credential-credmux',
  'bin/docker-credential-credmux',
  'bin/keyring',
  'bin/terraform-credentials-credmux',
  'bin/credmux-go',
  'bin/cargo-credential-credmux',
  'bin/credmux-kube',
  'bin/credmux-kubelet',
  'bin/credmux-pnpm',
  'bin/credmux',
];

describe('client hot path', () => {
  it.each(ENTRIES)('%s bundles none of yargs, ajv, jose, undici or the keychain addon', (entry) => {
    const files = inputs[entry];
    expect(files, `${entry} missing from dist/inputs.json: run the build`).toBeDefined();
    expect(files!.filter((f) => HEAVY.test(f))).toEqual([]);
    // Nor the engine: the stores and sources load only when no daemon answers; nor the daemon server
    // or the CLI.
    expect(files!.filter((f) => /src\/(engine|store|sources|cli|daemon)\//.test(f))).toEqual([]);
  });

  it.each([
    ['credmux-bazel', ['get'], '{"uri":"https://nothing.example/x"}'],
    ['git-credential-credmux', ['get'], 'protocol=https\nhost=nothing.example\n\n'],
    ['docker-credential-credmux', ['get'], 'nothing.example'],
    ['keyring', ['get', 'https://nothing.example/simple/', 'u'], ''],
    ['terraform-credentials-credmux', ['get', 'nothing.example'], ''],
    ['credmux-go', [], ''],
    ['cargo-credential-credmux', [], ''],
    ['credmux-kube', [], ''],
    ['credmux-kubelet', [], ''],
    ['credmux-pnpm', ['https://nothing.example/'], ''],
  ])('%s loads only its own bundle when it can answer without the engine (a usage reply)', (name) => {
    const out = join(mkdtempSync(join(tmpdir(), 'credmux-loaded-')), 'loaded.json');
    spawnSync(process.execPath, ['-r', join(import.meta.dirname, 'record-loaded.cjs'), join(root, 'dist/lib', `${name}.cjs`), 'frobnicate'], {
      env: { ...process.env, RECORD_LOADED_OUT: out },
      input: '',
    });
    const loaded: string[] = JSON.parse(readFileSync(out, 'utf8')).files;
    expect(loaded.filter((f) => !f.endsWith('record-loaded.cjs'))).toEqual([join(root, 'dist/lib', `${name}.cjs`)]);
  });

  it('the in-process fallback loads the engine bundle, and still no yargs', () => {
    const home = mkdtempSync(join(tmpdir(), 'credmux-loaded-'));
    const out = join(home, 'loaded.json');
    spawnSync(process.execPath, ['-r', join(import.meta.dirname, 'record-loaded.cjs'), join(root, 'dist/lib/credmux-bazel.cjs'), 'get'], {
      env: { PATH: process.env.PATH, HOME: home, CREDMUX_STORE: 'file', CREDMUX_DAEMON: '0', RECORD_LOADED_OUT: out },
      input: '{"uri":"https://nothing.example/x"}',
    });
    const { files: loaded, builtins } = JSON.parse(readFileSync(out, 'utf8')) as Loaded;
    expect(loaded.some((f) => f.endsWith('dist/lib/engine.cjs'))).toBe(true);
    // The engine loads TLS, crypto, child processes, sockets and fs/promises only for the sources, stores
    // and writes that use them.
    expect(builtins.filter((m) => SLOW_BUILTINS.test(m))).toEqual([]);
    expect(loaded.filter((f) => /yargs|node_modules\/(ajv|jose|undici)\/|aws-deps/.test(f))).toEqual([]);
    expect(inputs['lib/engine.cjs']!.filter((f) => /node_modules\/(yargs|ajv)\//.test(f))).toEqual([]);
  });

  it('the AWS signer (aws4) is in its own bundle only, loaded when an aws rule signs', () => {
    for (const [bundle, files] of Object.entries(inputs)) {
      if (bundle !== 'lib/aws-deps.cjs')
        expect(
          files.filter((f) => f.includes('node_modules/aws4/')),
          bundle,
        ).toEqual([]);
    }
    expect(inputs['lib/aws-deps.cjs']).toContain('node_modules/aws4/aws4.js');
  });
});

/** What kubectl hands credmux-kube (docs/protocols.md §11): the cluster's server names the URL. */
const WARM_EXEC_INFO = JSON.stringify({
  kind: 'ExecCredential',
  apiVersion: 'client.authentication.k8s.io/v1',
  spec: { interactive: false, cluster: { server: 'https://warm.example.com' } },
});

describe('a warm answer through the launchers', () => {
  let sb: Sandbox | undefined;
  afterAll(async () => sb?.cleanup());

  it.each([
    ['credmux-bazel', ['get'], '{"uri":"https://warm.example.com/x"}'],
    ['git-credential-credmux', ['get'], 'protocol=https\nhost=warm.example.com\n\n'],
    ['docker-credential-credmux', ['get'], 'warm.example.com'],
    ['keyring', ['get', 'https://warm.example.com/simple/', 'alice'], ''],
    ['terraform-credentials-credmux', ['get', 'warm.example.com'], ''],
    ['credmux-go', ['https://warm.example.com/mod/@v/list'], 'HTTP/1.1 401 Unauthorized\n\n'],
    [
      'cargo-credential-credmux',
      ['--cargo-plugin'],
      '{"v":1,"registry":{"index-url":"sparse+https://warm.example.com/index/"},"kind":"get","operation":"read"}\n',
    ],
    ['credmux-kube', [], ''],
    [
      'credmux-kubelet',
      [],
      '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"warm.example.com/team/app"}',
    ],
    ['credmux-pnpm', ['https://warm.example.com/'], ''],
  ] as const)('%s: boot.cjs and its own bundle, nothing else from disk; no TLS, crypto or child processes', async (name, args, input) => {
    if (!sb) {
      sb = await createSandbox('warm-loaded');
      await sb.login('https://warm.example.com', 'alice', 'warm-secret');
      await sb.credmux(['daemon', 'start']);
    }
    const out = join(sb.root, `${name}-loaded.json`);
    const r = await sb.run(sb.bin(name), args, {
      input,
      env: {
        ...sb.env,
        KUBERNETES_EXEC_INFO: WARM_EXEC_INFO,
        NODE_OPTIONS: `--require ${join(import.meta.dirname, 'record-loaded.cjs')}`,
        RECORD_LOADED_OUT: out,
      },
    });
    expect(r.stdout + r.stderr).toContain(
      name === 'credmux-bazel' || name === 'credmux-go' || name === 'cargo-credential-credmux' || name === 'credmux-pnpm' ? 'Basic ' : 'warm-secret',
    );
    const { files, builtins } = JSON.parse(readFileSync(out, 'utf8')) as Loaded;
    // Not engine.cjs: the daemon answered (the in-process fallback would load it).
    expect(files.filter((f) => !f.endsWith('record-loaded.cjs'))).toEqual([join(root, 'dist/lib/boot.cjs'), join(root, 'dist/lib', `${name}.cjs`)]);
    expect(builtins).toContain('net'); // the daemon was asked (and the recording sees builtins at all)
    expect(builtins.filter((m) => SLOW_FOR_WARM.test(m))).toEqual([]);
  });
});
