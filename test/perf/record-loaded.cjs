// Preloaded with `node -r` (or through NODE_OPTIONS): at exit, writes to $RECORD_LOADED_OUT every
// CommonJS module file this process loaded, and every Node builtin it loaded after this preload ran
// (process.moduleLoadList: "NativeModule net", "Internal Binding pipe_wrap", …).
const { writeFileSync } = require('node:fs');
const before = new Set(process.moduleLoadList);
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  writeFileSync(process.env.RECORD_LOADED_OUT, JSON.stringify({ files: Object.keys(require.cache), builtins }));
});
