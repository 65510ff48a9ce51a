// The helper hot path must not carry the heavy libraries: yargs is for people, ajv validators are
// precompiled, jose and undici belong to the daemon's refreshing sources. Counted, not timed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const inputs: Record<string, string[]> = JSON.parse(readFileSync(join(root, 'dist/inputs.json'), 'utf8'));
const HEAVY = /node_modules\/(yargs|yargs-parser|ajv|jose|undici|@napi-rs)\//;
const ENTRIES = ['bin/credmux-bazel', 'bin/git-credential-credmux', 'bin/docker-credential-credmux', 'bin/keyring', 'bin/credmux'];

describe('client hot path', () => {
  it.each(ENTRIES)('%s bundles none of yargs, ajv, jose, undici or the keychain addon', (entry) => {
    const files = inputs[entry];
    expect(files, `${entry} missing from dist/inputs.json: run the build`).toBeDefined();
    expect(files!.filter((f) => HEAVY.test(f))).toEqual([]);
    // Nor the engine: the stores and sources load only when no daemon answers.
    expect(files!.filter((f) => /src\/(store|sources|core\/engine|core\/open|cli)\//.test(f) || f.endsWith('core/engine.ts'))).toEqual([]);
  });

  it.each([
    ['credmux-bazel', ['get'], '{"uri":"https://nothing.example/x"}'],
    ['git-credential-credmux', ['get'], 'protocol=https\nhost=nothing.example\n\n'],
    ['docker-credential-credmux', ['get'], 'nothing.example'],
    ['keyring', ['get', 'https://nothing.example/simple/', 'u'], ''],
  ])('%s loads only its own bundle when it can answer without the engine (a usage reply)', (name) => {
    const out = join(mkdtempSync(join(tmpdir(), 'credmux-loaded-')), 'loaded.json');
    spawnSync(process.execPath, ['-r', join(import.meta.dirname, 'record-loaded.cjs'), join(root, 'dist/lib', `${name}.cjs`), 'frobnicate'], {
      env: { ...process.env, CREDMUX_LOADED_OUT: out },
      input: '',
    });
    const loaded: string[] = JSON.parse(readFileSync(out, 'utf8'));
    expect(loaded.filter((f) => !f.endsWith('record-loaded.cjs'))).toEqual([join(root, 'dist/lib', `${name}.cjs`)]);
  });

  it('the in-process fallback loads the engine bundle, and still no yargs', () => {
    const home = mkdtempSync(join(tmpdir(), 'credmux-loaded-'));
    const out = join(home, 'loaded.json');
    spawnSync(process.execPath, ['-r', join(import.meta.dirname, 'record-loaded.cjs'), join(root, 'dist/lib/credmux-bazel.cjs'), 'get'], {
      env: { PATH: process.env.PATH, HOME: home, CREDMUX_STORE: 'file', CREDMUX_DAEMON: '0', CREDMUX_LOADED_OUT: out },
      input: '{"uri":"https://nothing.example/x"}',
    });
    const loaded: string[] = JSON.parse(readFileSync(out, 'utf8'));
    expect(loaded.some((f) => f.endsWith('dist/lib/engine.cjs'))).toBe(true);
    expect(loaded.filter((f) => /yargs|node_modules\/(ajv|jose|undici)\//.test(f))).toEqual([]);
    expect(inputs['lib/engine.cjs']!.filter((f) => /node_modules\/(yargs|ajv)\//.test(f))).toEqual([]);
  });
});
