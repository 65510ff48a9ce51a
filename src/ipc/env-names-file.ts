// env-names.json beside the socket: the environment variables the daemon's rules read. A client sends
// its own values for exactly these with each request (src/sources/env-names.ts says why). Names only,
// never a value; written atomically, read on every helper call (one small file).
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../platform/atomic-write.js';
import { join } from 'node:path';

export function envNamesFile(dir: string): string {
  return join(dir, 'env-names.json');
}

export function readEnvNames(dir: string): string[] {
  try {
    const names: unknown = JSON.parse(readFileSync(envNamesFile(dir), 'utf8'));
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
  } catch {
    return []; // no daemon yet, or none of its rules reads a variable
  }
}

/** Writes the list when it changed since the last call (the daemon calls this after every request). */
export function publisher(dir: string): (names: string[]) => void {
  let last: string | undefined;
  return (names) => {
    const text = JSON.stringify(names);
    if (text === last) return;
    writeFileAtomicSync(envNamesFile(dir), text + '\n', { durable: 'none', tmp: `${envNamesFile(dir)}.${process.pid}.tmp` });
    last = text;
  };
}
