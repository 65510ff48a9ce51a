// A unified diff for `--dry-run`, so a person sees exactly what setup would write. Config files can
// hold secrets (docker's `auths`, a password in an index URL), and a diff prints context lines, so every
// printed line goes through `redactLine` first.

import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';

/** `diff -u` of what setup would write: null stands for a file that is not there (/dev/null). */
export function unifiedDiff(path: string, before: string | null, after: string | null, label = 'credmux'): string {
  if (before === after) return '';
  const patch = createTwoFilesPatch(
    before === null ? '/dev/null' : path,
    after === null ? '/dev/null' : `${path} (${label})`,
    before ?? '',
    after ?? '',
    undefined,
    undefined,
    { context: 3, headerOptions: FILE_HEADERS_ONLY },
  );
  return patch.replace(/\n$/, '').split('\n').map(redactLine).join('\n') + '\n';
}

/**
 * Hides what looks like a secret in a config line: the password of `scheme://user:password@`, JSON
 * members such as docker's `"auth"`, and `password = …` / `token = …` assignments (INI, TOML, netrc).
 */
export function redactLine(line: string): string {
  return line
    .replace(/(:\/\/[^/\s:@]*:)[^@\s/]+@/g, '$1***@')
    .replace(/("(?:auth|identitytoken|registrytoken|password|secret|token|access_token|refresh_token)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"***"')
    .replace(/^([+\- ]?\s*(?:password|token|secret)\s*[=:]\s*)\S.*$/i, '$1***')
    .replace(/(\bpassword\s+)(?![=:*])\S+/g, '$1***'); // netrc: `password SECRET`
}
