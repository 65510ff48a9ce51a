// The folder layering that lint enforces (scripts/lint/folder-layers.mjs): a folder imports only the
// folders listed for it — types and import() included — and the list has no cycle.
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerOrder, MAY_IMPORT } from '../../scripts/lint/folder-layers.mjs';

const root = join(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'layers/imports').map((m) => m.message);
}

describe('folder layers', () => {
  it('the bottom layer may import no other folder, in any form of import', async () => {
    for (const code of [
      "import { openEngine } from '../engine/open.js';\nexport const x = openEngine;\n",
      "import type { Engine } from '../engine/engine.js';\nexport type X = Engine;\n",
      "export { openEngine } from '../engine/open.js';\n",
      "export const load = () => import('../engine/open.js');\n",
      "export type T = typeof import('../engine/open.js');\n",
    ]) {
      expect(await layerErrors('src/model/probe.ts', code), code).toEqual([
        'src/model/ may not import src/engine/ (scripts/lint/folder-layers.mjs): it would bend the layers, or close a cycle',
      ]);
    }
  });

  it('an import the list allows, one inside the folder, and packages pass', async () => {
    expect(
      await layerErrors(
        'src/engine/probe.ts',
        "import { parseUrl } from '../model/url.js';\nimport { x } from './config.js';\nimport { join } from 'node:path';\nimport { request } from 'undici';\nexport const y = [parseUrl, x, join, request];\n",
      ),
    ).toEqual([]);
  });

  it('a new folder must be listed before it may import anything', async () => {
    expect(await layerErrors('src/newthing/probe.ts', "import { parseUrl } from '../model/url.js';\nexport const y = parseUrl;\n")).toEqual([
      'src/newthing/ is not in scripts/lint/folder-layers.mjs: add it with the folders it may import',
    ]);
  });

  it('the list itself is acyclic, and a cycle in it is refused', () => {
    const order = layerOrder();
    for (const [folder, deps] of Object.entries(MAY_IMPORT)) for (const d of deps) expect(order.indexOf(d)).toBeLessThan(order.indexOf(folder));
    expect(() => layerOrder({ ...MAY_IMPORT, model: ['engine'] })).toThrow(/cycle: .*model → engine .*→ model/);
  });
});
