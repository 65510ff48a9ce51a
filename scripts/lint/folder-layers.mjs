// The folders of src/ and the folders each may import (types included): the processes and their
// layers, as docs/architecture.md "Folder layout" describes them. An import outside its folder's list
// is a lint error; the list itself must have no cycle, so no folder can import one that imports it back.
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** folder → the folders it may import. The bottom layers (model, platform, formats, generated) import none. */
export const MAY_IMPORT = {
  model: [],
  platform: [],
  formats: [],
  generated: [],
  cache: [],
  http: ['platform'],
  store: ['model', 'platform'],
  sources: ['cache', 'formats', 'http', 'model', 'platform', 'store'],
  protocols: ['formats', 'model', 'platform'],
  engine: ['cache', 'formats', 'generated', 'http', 'model', 'platform', 'sources', 'store'],
  ipc: ['cache', 'model', 'platform', 'sources'],
  client: ['engine', 'ipc', 'model', 'platform', 'sources'],
  daemon: ['cache', 'client', 'engine', 'ipc', 'model', 'platform', 'sources'],
  cli: ['client', 'daemon', 'engine', 'formats', 'http', 'ipc', 'model', 'platform', 'sources', 'store'],
  lib: ['cli', 'client', 'engine', 'http'],
  bin: ['cli', 'client', 'daemon', 'protocols'],
};

/** The folders in an order where each comes after every folder it may import; throws on a cycle. */
export function layerOrder(graph = MAY_IMPORT) {
  const order = [];
  const state = new Map();
  const visit = (f, path) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') throw new Error(`folder layers have a cycle: ${[...path, f].join(' → ')}`);
    state.set(f, 'visiting');
    for (const g of graph[f] ?? []) visit(g, [...path, f]);
    state.set(f, 'done');
    order.push(f);
  };
  for (const f of Object.keys(graph)) visit(f, []);
  return order;
}
layerOrder(); // a cycle in the list fails every lint run

/** The top folder under src/ that a path is in, or null (outside src/, or src/'s own files). */
function folderOf(file) {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 && parts[0] !== '..' ? parts[0] : null;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'a src/ folder imports only the folders listed for it in scripts/lint/folder-layers.mjs' },
    schema: [],
  },
  create(context) {
    const from = folderOf(context.filename);
    if (!from) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return; // packages and node: builtins
      const to = folderOf(resolve(dirname(context.filename), spec));
      if (!to || to === from) return;
      const allowed = MAY_IMPORT[from];
      if (!allowed) context.report({ node, message: `src/${from}/ is not in scripts/lint/folder-layers.mjs: add it with the folders it may import` });
      else if (!allowed.includes(to))
        context.report({
          node,
          message: `src/${from}/ may not import src/${to}/ (scripts/lint/folder-layers.mjs): it would bend the layers, or close a cycle`,
        });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
      TSImportType: (n) => check(n, (n.source ?? n.argument?.literal)?.value),
    };
  },
};

export const folderLayers = { plugin: { rules: { imports: rule } } };
