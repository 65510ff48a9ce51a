// Preloaded with `node -r`: at exit, writes every CommonJS module this process loaded to $CREDMUX_LOADED_OUT.
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  writeFileSync(process.env.CREDMUX_LOADED_OUT, JSON.stringify(Object.keys(require.cache)));
});
