// Just enough of HCL (version 1, what Terraform's and OpenTofu's CLI config parser reads) to find the
// top-level blocks of one type, e.g. `credentials_helper "credmux" { … }`, without being fooled by
// comments, strings or heredocs. Setup never rewrites what it finds: it only appends or removes a
// block of its own, so a full parser (and its formatting) is not needed.
//
// HCL1 syntax: hashicorp/hcl (v1) hcl/scanner/scanner.go — comments `#`, `//`, `/* */`; strings in
// double quotes with backslash escapes; heredocs `<<ID` / `<<-ID` ending at a line holding only ID.

export interface HclBlock {
  /** The block's first label (`"credmux"` → `credmux`), or undefined for an unlabelled block. */
  label: string | undefined;
  /** Offsets in the text: from the block type's first character to just after its closing brace. */
  start: number;
  end: number;
}

/** Top-level blocks `<type> "label" { … }` (or `<type> label { … }`, `<type> { … }`) in document order. */
export function topLevelBlocks(text: string, type: string): HclBlock[] {
  const tokens = tokenize(text);
  const blocks: HclBlock[] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'open') depth++;
    else if (t.kind === 'close') depth = Math.max(0, depth - 1);
    if (depth !== 0 || t.kind !== 'ident' || t.text !== type) continue;
    // Is this identifier at the start of a statement? The previous token ends one (or there is none).
    const prev = tokens[i - 1];
    if (prev && prev.kind !== 'close' && prev.kind !== 'newline') continue;
    let j = i + 1;
    let label: string | undefined;
    if (tokens[j]?.kind === 'string' || tokens[j]?.kind === 'ident') label = tokens[j++]!.value;
    if (tokens[j]?.kind !== 'open') continue;
    const close = matchingClose(tokens, j);
    if (close === undefined) continue;
    blocks.push({ label, start: t.start, end: tokens[close]!.end });
    i = close;
  }
  return blocks;
}

/** Does the text look like JSON (HCL1 reads a file as JSON when its first significant character is `{`)? */
export function isJsonSyntax(text: string): boolean {
  const first = tokenize(text).find((t) => t.kind !== 'newline');
  return first?.kind === 'open' && first.text === '{';
}

type TokenKind = 'ident' | 'string' | 'open' | 'close' | 'newline' | 'other';
interface Token {
  kind: TokenKind;
  text: string;
  /** For strings: the decoded value; for identifiers: the text. */
  value: string;
  start: number;
  end: number;
}

function matchingClose(tokens: Token[], open: number): number | undefined {
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    if (tokens[k]!.kind === 'open') depth++;
    else if (tokens[k]!.kind === 'close' && --depth === 0) return k;
  }
  return undefined;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value = text.slice(start, end)) =>
    out.push({ kind, text: text.slice(start, end), value, start, end });
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      push('newline', i, ++i);
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (c === '"') {
      const start = i++;
      let value = '';
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') {
        if (text[i] === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else value += text[i++];
      }
      i = Math.min(text.length, i + 1);
      push('string', start, i, value);
    } else if (c === '<' && text[i + 1] === '<' && /^<<-?[A-Za-z_]/.test(text.slice(i, i + 4))) {
      const m = /^<<-?([A-Za-z_][A-Za-z0-9_-]*)[^\n]*\n/.exec(text.slice(i));
      if (!m) {
        i += 2;
        continue;
      }
      const start = i;
      const endRe = new RegExp(`^[ \\t]*${m[1]}[ \\t]*$`, 'm');
      const rest = text.slice(i + m[0].length);
      const found = endRe.exec(rest);
      i = found ? i + m[0].length + found.index + found[0].length : text.length;
      push('other', start, i);
    } else if (c === '{' || c === '[') {
      push('open', i, ++i);
    } else if (c === '}' || c === ']') {
      push('close', i, ++i);
    } else if (/[A-Za-z_]/.test(c)) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_.-]/.test(text[i]!)) i++;
      push('ident', start, i);
    } else {
      push('other', i, ++i);
    }
  }
  return out;
}
