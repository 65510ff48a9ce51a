// The folders under src/ are the processes and their layers: model/ and platform/ at the bottom,
// client/ and daemon/ over ipc/, the engine over sources/ and store/, cli/ on top.
// That reading holds only while no folder imports, even for a type, a folder that imports it back:
// this builds the folder graph from every import in src/ and fails naming each cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

/** Every module specifier a file names: import/export … from, side-effect imports, import(), import type. */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const re of [/\b(?:import|export)\s+(?:type\s+)?[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g]) {
    for (const m of code.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

/** The top folder under src/ a file belongs to (cli/'s subfolders are cli); null for a file at src/'s top. */
function folderOf(file: string): string | null {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : null;
}

export function folderGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of files(SRC)) {
    const from = folderOf(file);
    if (!from) continue;
    const edges = graph.get(from) ?? new Map<string, string[]>();
    graph.set(from, edges);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const to = folderOf(resolve(dirname(file), spec));
      if (!to || to === from) continue;
      const why = edges.get(to) ?? [];
      why.push(`${relative(SRC, file)} → ${spec}`);
      edges.set(to, why);
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan): each is a cycle, or several. */
export function cycles(graph: Map<string, Map<string, string[]>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

describe('folder graph of src/', () => {
  it('reads every kind of import', () => {
    const text = [
      "import a from './a.js';",
      "import type { B } from '../b/b.js';",
      "export { c } from './c.js';",
      "export type * from './d.js';",
      "import './e.js';",
      "const f = await import('../f/f.js');",
      "type G = typeof import('../g/g.js');",
      "// import x from './commented.js';",
    ].join('\n');
    expect(specifiers(text).sort()).toEqual(['../b/b.js', '../f/f.js', '../g/g.js', './a.js', './c.js', './d.js', './e.js']);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([
      ['a', new Map([['b', ['a/x.ts → ../b/y.js']]])],
      ['b', new Map([['c', ['']]])],
      ['c', new Map([['a', ['']]])],
      ['d', new Map([['a', ['']]])],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
  });

  it('has no cycles between folders, type-only imports included', () => {
    const graph = folderGraph();
    const found = cycles(graph).map((scc) => {
      const inside = new Set(scc);
      const edges = scc.flatMap((from) => [...(graph.get(from) ?? new Map<string, string[]>())].filter(([to]) => inside.has(to)).map(([to, why]) => `  ${from} → ${to}: ${why.join(', ')}`));
      return `${scc.join(' ↔ ')}\n${edges.join('\n')}`;
    });
    expect(found, found.join('\n')).toEqual([]);
  });
});
