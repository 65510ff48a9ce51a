// `credmux setup bazel`: `common --credential_helper=<scope>=<abs path>` lines in ~/.bazelrc (or a
// workspace's .bazelrc), inside a marked block so re-running replaces exactly that block and undo can
// find it. Bazel scopes are DNS names with at least one dot and no port (docs/protocols.md §1.2), so
// localhost and IP addresses cannot be scoped: they need the one unscoped helper `--unscoped` writes.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { statSync } from 'node:fs';
import type { Env } from '../../platform/paths.js';
import { appendBlock, removeMarkedBlock, type BlockOwned } from '../../formats/marked-block.js';
import { CredmuxError } from '../../model/types.js';
import { formatPattern } from '../../model/url.js';
import { helperPath, shq } from './common.js';
import { isUnscopableHost, type Target } from './targets.js';
import type { FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

export const BAZEL_BEGIN = '# >>> credmux: managed by `credmux setup bazel`; remove with `credmux setup bazel --undo` >>>';
export const BAZEL_END = '# <<< credmux <<<';

/** Bazel's own check on a scope (CredentialHelperProvider): labels of [-a-zA-Z0-9], at least one dot. */
const SCOPE = /^(?:\*|[-a-zA-Z0-9]+)(?:\.[-a-zA-Z0-9]+)+$/;

export function bazelrcPath(env: Env, workspace?: string): string {
  if (workspace !== undefined) {
    const dir = resolve(workspace);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      /* missing */
    }
    if (!isDir) throw new CredmuxError('bad-request', `--workspace ${workspace}: not a directory`);
    return join(dir, '.bazelrc');
  }
  return join(env.HOME || homedir(), '.bazelrc');
}

/**
 * One bazelrc line. rc files are split by Bazel's own shell-like tokenizer (no globbing), so only
 * whitespace, quotes and backslashes need quoting; "*" in a wildcard scope is literal.
 */
function flagLine(scope: string | null, path: string): string {
  const flag = `--credential_helper=${scope === null ? '' : `${scope}=`}${path}`;
  return `common ${/[\s'"\\#]/.test(flag) ? shq(flag) : flag}`;
}

export function planBazel(env: Env, targets: Target[] | null, opts: SetupOptions): ToolPlan {
  const file = bazelrcPath(env, opts.workspace);
  const helper = helperPath(env, 'credmux-bazel');
  const scopes = new Set<string>();
  const unscopable: string[] = [];
  for (const t of targets ?? []) {
    const scope = t.pattern.wildcard ? `*.${t.pattern.host}` : t.pattern.host;
    if (isUnscopableHost(t.pattern.host) || !SCOPE.test(scope)) unscopable.push(`${formatPattern(t.pattern)} (${t.origin})`);
    else scopes.add(scope);
  }
  const lines = [...scopes].sort().map((s) => flagLine(s, helper));
  if (opts.unscoped) lines.push(flagLine(null, helper));
  const block = lines.length ? `${BAZEL_BEGIN}\n${lines.join('\n')}\n${BAZEL_END}\n` : '';

  const spec: FileSpec<BlockOwned> = {
    path: file,
    newMode: 0o644,
    async apply(base) {
      if (!block) return { content: base, owned: { addedNewline: false, addedBlank: false } };
      return appendBlock(base, block);
    },
    async revert(current, owned) {
      return current === null ? null : removeBlock(current, owned);
    },
  };

  const notes: string[] = [];
  const warnings: string[] = [];
  if (!opts.undo) {
    if (scopes.size) notes.push(`Bazel asks ${helper} for: ${[...scopes].sort().join(', ')}`);
    if (opts.unscoped) notes.push('The unscoped helper answers every other host too (credmux says "no credential" where it has none).');
    if (unscopable.length && !opts.unscoped) {
      warnings.push(
        `Not wired (Bazel scopes need a domain name with a dot, and cannot name a port): ${unscopable.join(', ')}. ` +
          `To serve them, add one unscoped helper: credmux setup bazel${opts.workspace ? ` --workspace ${shq(opts.workspace)}` : ''} --unscoped`,
      );
    }
    if (!block)
      warnings.push(
        'Nothing to wire: no rule, and no stored credential for bazel. Store one first (credmux login URL …), then run credmux setup bazel again.',
      );
    else notes.push('After `credmux login` for a new host, run `credmux setup bazel` again to add its scope.');
  }
  return { files: [spec], links: [], notes, warnings };
}

/** Takes the marked block out, with the blank line and final newline setup added around it. */
export function removeBlock(text: string, owned: BlockOwned): string {
  return removeMarkedBlock(text, owned, BAZEL_BEGIN, BAZEL_END);
}

/** `--credential_helper` values in a bazelrc: [scope or null, path]. For doctor. */
export function bazelHelpers(text: string): { scope: string | null; path: string; line: number }[] {
  const out: { scope: string | null; path: string; line: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#')) return;
    for (const word of shellWords(line)) {
      const m = /^--(?:experimental_)?credential_helper=(.*)$/.exec(word);
      if (!m) continue;
      const v = m[1]!;
      // Split at the first "=" (as Bazel does), unless the value is only a path.
      const eq = v.indexOf('=');
      if (eq > 0 && !v.slice(0, eq).includes('/')) out.push({ scope: v.slice(0, eq), path: v.slice(eq + 1), line: i + 1 });
      else out.push({ scope: null, path: v, line: i + 1 });
    }
  });
  return out;
}

/** Splits a line into words the way a POSIX shell quotes them (no expansion): enough for rc files. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        cur += line[j];
        j++;
      }
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
