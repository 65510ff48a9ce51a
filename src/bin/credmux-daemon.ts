// `credmux-daemon`: the per-user daemon, started detached by the first helper that finds none (or by
// `credmux daemon start`). It exits on its own after CREDMUX_IDLE_TIMEOUT seconds without requests.
import { setFlagsFromString } from 'node:v8';
import { runDaemon } from '../daemon/main.js';
import { DAEMON_MALLOC_ENV } from '../client/spawn.js';

// glibc has read its malloc settings (spawn.ts DAEMON_MALLOC_ENV); the commands the daemon runs for
// command sources get the environment they would get without them.
for (const [name, value] of Object.entries(DAEMON_MALLOC_ENV)) if (process.env[name] === value) delete process.env[name];

// Memory over a little speed, for a process that lives for hours holding every rule and token. Set
// before anything is allocated (the flags V8 only takes at startup are arguments: spawn.ts):
// the young generation keeps its initial size instead of growing to 2 × 16 MB under load, and the
// old generation grows by 10% over what survives instead of up to 4×. With 10,000 rules and 5,000
// cached tokens this takes resident memory from ~140 MB to ~100 MB (scripts/bench.mjs); a young
// collection then runs more often, but each is short: few of a request's objects survive it.
setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--heap-growing-percent=10');
// Every full collection also compacts: V8's own heuristic leaves pages partly empty after the burst
// of garbage a daemon makes while it warms up (minting thousands of tokens at once), and those pages
// stay resident. Compacting moves the survivors together and gives the empty pages back: -10 MB RSS
// under the bench load, with the same lookups/s and p99. Full collections are rare here (the young
// generation takes a request's garbage), and each moves at most the live heap, ~30 MB.
setFlagsFromString('--compact-on-every-full-gc');
// undici parses HTTP with llhttp compiled to WebAssembly. V8's optimizing tier for it takes ~36 MB of
// compiler memory on a background thread, most of which stays resident for the daemon's life (~10 MB
// RSS, measured), to speed up parsing a token endpoint's few responses an hour: the baseline
// compiler is plenty.
setFlagsFromString('--liftoff-only');

// A full collection on demand, for the one the daemon runs after a burst of token fetches
// (daemon/collect-after-bursts.ts): `gc` exists when the daemon was started with --expose-gc
// (spawn.ts DAEMON_NODE_FLAGS). Set later, the flag needs a new V8 context to show, which costs more
// memory than the collection gives back.
//
// From V8 12 (Node 22) on, the pages a collection frees go to a pool, given back to the system by a
// background task, which --single-threaded never runs: after the bench load the daemon kept 117 MB
// resident on Node 22 and 175-181 MB on 24 and 26 (a 35 MB heap). A "last resort" collection empties
// the pool: 87, 99 and 100 MB. On Node 20 (V8 11) it measured 4 MB worse than a plain one (81 vs 77).
const gc = (globalThis as { gc?: (options?: object) => void }).gc;
const poolsFreedPages = Number(process.versions.v8.split('.')[0]) >= 12;
const collectGarbage = gc && (poolsFreedPages ? () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) : () => gc());

void runDaemon(process.env, { collectGarbage }).then(
  (code) => process.exit(code),
  () => process.exit(70),
);
