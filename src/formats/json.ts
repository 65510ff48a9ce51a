// JSON's one gap that matters to credmux: JSON.parse keeps the last of two equal keys, other readers
// the first. The helpers' request parsing (src/protocols/util.ts) and the config reader
// (src/engine/config.ts) both refuse a text that names a key twice. No dependencies, no I/O: it runs on
// every helper call.

/**
 * The first key that appears twice in one object of a VALID JSON text (check with JSON.parse first),
 * with the JSON Pointer of that object. Iterative, so no nesting depth overflows the stack.
 */
export function findDuplicateKey(text: string): { path: string; key: string } | undefined {
  // A frame per open object or array; its JSON Pointer is built only when a duplicate is found.
  type Frame = { keys: Set<string> | null; parent: Frame | undefined; seg: string; index: number; lastKey: string; expectKey: boolean };
  const pointer = (f: Frame | undefined): string => {
    const segs: string[] = [];
    for (; f?.parent; f = f.parent) segs.push(f.seg.replace(/~/g, '~0').replace(/\//g, '~1'));
    return segs
      .reverse()
      .map((x) => `/${x}`)
      .join('');
  };
  let top: Frame | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const seg = top ? (top.keys ? top.lastKey : String(top.index)) : '';
      top = { keys: c === 0x7b ? new Set() : null, parent: top, seg, index: 0, lastKey: '', expectKey: c === 0x7b };
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      top = top?.parent;
    } else if (c === 0x2c /* , */) {
      if (top?.keys) top.expectKey = true;
      else if (top) top.index++;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { path: pointer(top), key };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    }
  }
  return undefined;
}
