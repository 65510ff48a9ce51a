// Preloaded with `node -r` (or through NODE_OPTIONS): at exit, writes to $RECORD_LOADED_OUT every
// JavaScript file this process loaded — through require, or read to be compiled from a code cache
// (src/client/code-cache.ts) — and every Node builtin it loaded after this preload ran
// (process.moduleLoadList: "NativeModule net", …).
const fs = require('node:fs');
const before = new Set(process.moduleLoadList);
const read = new Set();
const readFileSync = fs.readFileSync;
fs.readFileSync = function (path, ...rest) {
  if (typeof path === 'string' && /\.(cjs|mjs|js)$/.test(path)) read.add(path);
  return readFileSync.call(this, path, ...rest);
};
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  const files = [...new Set([...Object.keys(require.cache), ...read])];
  fs.writeFileSync(process.env.RECORD_LOADED_OUT, JSON.stringify({ files, builtins }));
});
