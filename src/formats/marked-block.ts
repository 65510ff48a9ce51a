// A block of lines credmux owns at the end of someone else's line-based config file (~/.bazelrc,
// ~/.npmrc), between a begin and an end marker line. Appending remembers what it added around the block
// (a final newline, a blank line) so that taking the block out gives the file's bytes back exactly.

export interface BlockOwned {
  addedNewline: boolean;
  addedBlank: boolean;
}

/** `base` with `block` (whole lines, markers included) appended after one blank line. */
export function appendBlock(base: string | null, block: string): { content: string; owned: BlockOwned } {
  let text = base ?? '';
  const addedNewline = text !== '' && !text.endsWith('\n');
  if (addedNewline) text += '\n';
  const addedBlank = text !== '';
  if (addedBlank) text += '\n';
  return { content: text + block, owned: { addedNewline, addedBlank } };
}

/** Takes the block between `begin` and `end` out, with the blank line and final newline added around it. */
export function removeMarkedBlock(text: string, owned: BlockOwned, begin: string, end: string): string {
  const lines = text.split('\n');
  const b = lines.findIndex((l) => l.trim() === begin);
  if (b < 0) return text;
  const e = lines.findIndex((l, i) => i > b && l.trim() === end);
  if (e < 0) return text;
  const wasLast = e === lines.length - 2 && lines[lines.length - 1] === '';
  let from = b;
  if (owned.addedBlank && from > 0 && lines[from - 1]!.trim() === '') from--;
  lines.splice(from, e - from + 1);
  let out = lines.join('\n');
  if (wasLast && owned.addedNewline && out.endsWith('\n')) out = out.slice(0, -1);
  return out;
}

/** 1-based numbers of the lines between the markers (for doctor: a line there is setup's to rewrite). */
export function blockLineNumbers(text: string, begin: string, end: string): Set<number> {
  const out = new Set<number>();
  let inside = false;
  text.split('\n').forEach((l, i) => {
    if (l.trim() === begin) inside = true;
    else if (l.trim() === end) inside = false;
    else if (inside) out.add(i + 1);
  });
  return out;
}
