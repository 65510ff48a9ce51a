// doctor: does the go command (1.24 and later) run this credmux for GOAUTH? GOAUTH is read as go reads
// it: the environment first, then the go env file (src/cli/setup/go.ts), else Go's default `netrc`.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { helperPath } from '../setup/common.js';
import { isExecutableFile, sameFile, whichOnPath } from '../setup/exec.js';
import { goauthEntries, goauthInFile, goEnvPath } from '../setup/go.js';
import type { Check } from './check.js';

const check = (status: Check['status'], summary: string, extra: Partial<Check> = {}): Check => ({
  section: 'tools',
  area: 'go',
  status,
  summary,
  ...extra,
});

/** The program of a GOAUTH entry that runs credmux-go (`/path/credmux-go` or `/path/credmux go`), unquoted. */
function credmuxProgram(entry: string): string | undefined {
  const m = /^(?:'([^']*)'|"([^"]*)"|(\S+))(?:\s+(\S+))?$/.exec(entry);
  if (!m) return undefined;
  const program = m[1] ?? m[2] ?? m[3]!;
  const base = program.replace(/^.*\//, '');
  if (base === 'credmux-go' && m[4] === undefined) return program;
  if (base === 'credmux' && m[4] === 'go') return program;
  return undefined;
}

export function goCheck(env: Env): Check {
  const file = goEnvPath(env);
  let fromFile: string | undefined;
  if (file !== undefined) {
    try {
      fromFile = goauthInFile(readFileSync(file, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return check('error', `cannot read ${file}: ${(e as Error).message}`);
    }
  }
  const value = env.GOAUTH ?? fromFile;
  const origin = env.GOAUTH !== undefined ? 'GOAUTH in the environment' : (file ?? 'GOENV=off');
  if (value === undefined) {
    return check('info', `not wired (GOAUTH is not set, so go uses netrc)`, {
      fix: file === undefined ? 'unset GOENV, then: credmux setup go' : 'credmux setup go',
    });
  }
  const entries = goauthEntries(value);
  const at = entries.findIndex((e) => credmuxProgram(e) !== undefined);
  if (at < 0)
    return check('info', `not wired (GOAUTH=${value} in ${origin})`, {
      fix: env.GOAUTH !== undefined ? 'unset GOAUTH, then: credmux setup go' : 'credmux setup go',
    });
  const program = credmuxProgram(entries[at]!)!;
  const found = isAbsolute(program) ? (isExecutableFile(program) ? program : undefined) : whichOnPath(program, env.PATH);
  if (!found) {
    return check(
      'error',
      `GOAUTH (${origin}) runs ${program}, which is not an executable file${isAbsolute(program) ? '' : ' on PATH'}: go fetches without credentials`,
      {
        fix: 'credmux setup go',
      },
    );
  }
  const ours = helperPath(env, program.endsWith('credmux-go') ? 'credmux-go' : 'credmux');
  if (!sameFile(found, ours)) {
    return check('warn', `GOAUTH (${origin}) runs ${found}, another credmux than this one (${ours})`, { fix: 'credmux setup go' });
  }
  const details =
    at > 0
      ? [`${entries.slice(0, at).join(';')} comes first in GOAUTH and wins where it answers for the same prefix (go runs the list in reverse)`]
      : [];
  return check('ok', `GOAUTH runs credmux-go (${origin}); go ≥ 1.24 sends what credmux serves after a 4xx`, details.length ? { details } : {});
}
