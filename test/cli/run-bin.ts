// Shorthands for the CLI tests over the shared e2e helpers: a fresh isolated HOME per call, the
// built entries run by name, and every HOME removed after the file.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { distBin, type Entry } from '../helpers/dist.js';
import { isolatedEnv as baseEnv } from '../helpers/env.js';
import { run as runCommand, type RunResult } from '../helpers/run.js';

export type { RunResult };

const homes: string[] = [];
afterAll(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** A fresh HOME (XDG dirs under it), the file store, no daemon; `extra` overrides or adds variables. */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'credmux-cli-'));
  homes.push(home);
  mkdirSync(join(home, '.run'), { mode: 0o700 });
  return { ...(baseEnv(home, null) as Record<string, string>), ...extra };
}

export function run(name: Entry, args: string[], env: Record<string, string>, stdin = ''): Promise<RunResult> {
  return runCommand(distBin(name), args, { env, input: stdin });
}
