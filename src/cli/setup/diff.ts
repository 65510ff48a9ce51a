// A unified diff for `--dry-run`, so a person sees exactly what setup would write. Config files can
// hold secrets (docker's `auths`, a password in an index URL), and a diff prints context lines, so every
// printed line goes through `redactLine` first.

/** Longest-common-subsequence table size we accept before falling back to "replace everything". */
const MAX_CELLS = 4_000_000;
const CONTEXT = 3;

type Op = { kind: ' ' | '-' | '+'; text: string };

export function unifiedDiff(path: string, before: string | null, after: string | null, label = 'credmux'): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const out = [`--- ${before === null ? '/dev/null' : path}`, `+++ ${after === null ? '/dev/null' : `${path} (${label})`}`];
  for (const hunk of hunks(ops)) out.push(...hunk);
  return out.map(redactLine).join('\n') + '\n';
}

function splitLines(text: string | null): string[] {
  if (text === null || text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += ' \\ (no newline at end of file)';
  return lines;
}

function diffLines(a: string[], b: string[]): Op[] {
  // Common prefix and suffix first: setup edits are small and local, so the table stays tiny.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const ops: Op[] = a.slice(0, start).map((text) => ({ kind: ' ', text }));
  if ((midA.length + 1) * (midB.length + 1) > MAX_CELLS) {
    ops.push(...midA.map((text) => ({ kind: '-' as const, text })), ...midB.map((text) => ({ kind: '+' as const, text })));
  } else {
    ops.push(...lcsOps(midA, midB));
  }
  ops.push(...a.slice(endA).map((text) => ({ kind: ' ' as const, text })));
  return ops;
}

function lcsOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i * w + j] = a[i] === b[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i]! });
      i++;
      j++;
    } else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) ops.push({ kind: '-', text: a[i++]! });
    else ops.push({ kind: '+', text: b[j++]! });
  }
  while (i < n) ops.push({ kind: '-', text: a[i++]! });
  while (j < m) ops.push({ kind: '+', text: b[j++]! });
  return ops;
}

function hunks(ops: Op[]): string[][] {
  const changed = ops.map((o, i) => (o.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  const out: string[][] = [];
  let k = 0;
  while (k < changed.length) {
    let from = Math.max(0, changed[k]! - CONTEXT);
    let to = Math.min(ops.length, changed[k]! + CONTEXT + 1);
    while (k + 1 < changed.length && changed[k + 1]! - CONTEXT <= to) {
      k++;
      to = Math.min(ops.length, changed[k]! + CONTEXT + 1);
    }
    k++;
    // Line numbers of the hunk's first line on each side.
    let lineA = 1;
    let lineB = 1;
    for (let i = 0; i < from; i++) {
      if (ops[i]!.kind !== '+') lineA++;
      if (ops[i]!.kind !== '-') lineB++;
    }
    const body = ops.slice(from, to);
    const countA = body.filter((o) => o.kind !== '+').length;
    const countB = body.filter((o) => o.kind !== '-').length;
    out.push([`@@ -${countA ? lineA : lineA - 1},${countA} +${countB ? lineB : lineB - 1},${countB} @@`, ...body.map((o) => `${o.kind}${o.text}`)]);
    from = to;
  }
  return out;
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
