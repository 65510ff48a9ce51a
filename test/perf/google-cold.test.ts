// The google source costs a helper nothing until one of its rules mints: a helper resolving in
// process (no daemon) for another host, with a google rule in the config, loads neither the token
// libraries (jose, undici: dist/lib/token-deps.cjs) nor http, TLS or crypto. And a google rule that
// asks the metadata server loads http but still not the token libraries. Counted, not timed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const TMP = mkdtempSync(join(tmpdir(), 'credmux-gcold-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

function loadedBy(uri: string, env: Record<string, string> = {}) {
  const home = mkdtempSync(join(TMP, 'home-'));
  mkdirSync(join(home, '.config', 'credmux'), { recursive: true });
  writeFileSync(
    join(home, '.config', 'credmux', 'config.json'),
    JSON.stringify({
      rules: [
        { id: 'gar', match: 'https://us-docker.pkg.dev', source: { type: 'google' } },
        { id: 'other', match: 'https://other.example', source: { type: 'env', var: 'OTHER_TOKEN' } },
      ],
    }),
  );
  const out = join(home, 'loaded.json');
  const r = spawnSync(process.execPath, ['-r', join(import.meta.dirname, 'record-loaded.cjs'), join(root, 'dist/lib/credmux-bazel.cjs'), 'get'], {
    env: {
      PATH: process.env.PATH,
      HOME: home,
      CREDMUX_STORE: 'file',
      CREDMUX_DAEMON: '0',
      OTHER_TOKEN: 'tok-0123456789',
      RECORD_LOADED_OUT: out,
      ...env,
    },
    input: JSON.stringify({ uri }),
    encoding: 'utf8',
  });
  return { ...(JSON.parse(readFileSync(out, 'utf8')) as { files: string[]; builtins: string[] }), stdout: r.stdout, stderr: r.stderr };
}

describe('google: nothing loads until a google rule mints', () => {
  it('a request another rule answers loads no token library, http, TLS or crypto', () => {
    const { files, builtins, stdout } = loadedBy('https://other.example/x');
    expect(stdout).toContain('Bearer tok-0123456789');
    expect(files.some((f) => f.endsWith('dist/lib/engine.cjs'))).toBe(true);
    expect(files.filter((f) => /token-deps|node_modules\/(jose|undici)\//.test(f))).toEqual([]);
    expect(builtins.filter((m) => /^(http|https|tls|_tls_wrap|crypto|net)$/.test(m))).toEqual([]);
  });

  it('a google rule that asks the metadata server loads http, but not jose or undici', () => {
    // A closed loopback port: the metadata server is not there, and is found absent at once.
    const { files, builtins, stderr } = loadedBy('https://us-docker.pkg.dev/v2/', { GCE_METADATA_HOST: '127.0.0.1:9' });
    expect(stderr).toContain('no Google credentials: the metadata server at http://127.0.0.1:9 (GCE_METADATA_HOST) is not there');
    expect(builtins).toContain('http');
    expect(files.filter((f) => /token-deps|node_modules\/(jose|undici)\//.test(f))).toEqual([]);
  });
});
