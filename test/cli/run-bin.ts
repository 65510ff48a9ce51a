// Runs a built entry from dist/bin in an isolated HOME, as a person or a tool would.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '../../dist/bin');

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** A fresh HOME with no XDG overrides, the file store and no daemon unless the caller says otherwise. */
export function isolatedEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'credmux-cli-'));
  const env: Record<string, string | undefined> = { ...process.env, HOME: home, CREDMUX_STORE: 'file', CREDMUX_DAEMON: '0', ...extra };
  for (const k of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'XDG_RUNTIME_DIR', 'CREDMUX_CONFIG', 'DBUS_SESSION_BUS_ADDRESS', 'NETRC']) {
    if (!(k in extra)) delete env[k];
  }
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

export function run(name: string, args: string[], env: Record<string, string>, stdin = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(BIN, name), args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(stdin);
  });
}
