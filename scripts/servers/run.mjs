#!/usr/bin/env node
// Starts one test server by hand, for poking at it with curl/git/skopeo/pip:
//   node scripts/servers/run.mjs git|registry|pypi|cargo [--user alice] [--password s3cret]   (cargo: the token is --password)
// Prints what it started and its request log as requests come in; Ctrl-C stops it.
// The servers are TypeScript (the tests import them through vitest); esbuild, already a dev
// dependency for the build, bundles them in memory so this works on Node 20 without a loader.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { user: { type: 'string', default: 'alice' }, password: { type: 'string', default: 's3cret' } },
});
const kind = positionals[0];
const starters = { git: 'startGitServer', registry: 'startRegistry', pypi: 'startPypiIndex', cargo: 'startCargoRegistry' };
if (!(kind in starters)) {
  console.error('usage: node scripts/servers/run.mjs git|registry|pypi|cargo [--user U] [--password P]');
  process.exit(2);
}

const out = await build({
  entryPoints: [join(here, 'index.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
  // Keep import.meta.url pointing here, so the bundle finds supervise.sh next to it.
  define: { 'import.meta.url': JSON.stringify(new URL('./index.ts', import.meta.url).href) },
});
const mod = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
const server = await mod[starters[kind]]({ user: values.user, password: values.password, token: values.password });
const { stop, requestLog, waitForLog, ...info } = server;
console.log(JSON.stringify(info, null, 2));

let seen = 0;
const timer = setInterval(async () => {
  const lines = await requestLog();
  for (const l of lines.slice(seen)) console.log(JSON.stringify(l));
  seen = lines.length;
}, 500);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    clearInterval(timer);
    await stop();
    process.exit(0);
  });
}
