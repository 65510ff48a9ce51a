// A call back after a while, without Node's timers: for the helper's one question to the daemon
// (src/client/connection.ts), whose bounds (connect, the patience's looks, the answer) must be armed
// on every call and almost never fire.
//
// Why not setTimeout: the first timer of a process runs Node's timer code for the first time (the
// Timeout class, timer lists, a priority queue, async-hook bookkeeping), each function compiled on
// first use: ~0.3 ms of a warm answer, measured with interleaved getrusage CPU time (Node 20; one
// setTimeout + clearTimeout against none, 150 rounds). Atomics.waitAsync (ECMAScript 2024) on a cell
// nobody writes resolves "timed-out" after its timeout through V8's platform, which Node runs on a
// libuv timer of its own: it fires while anything keeps the event loop alive (the caller's socket)
// and, like an unref'd timer, never keeps the process alive by itself (checked on Node 20, 22, 24
// and 26: test/unit/wake-after.test.ts).
//
// A wake-up cannot be taken back from V8, only made harmless: cancel() marks it so the callback is
// skipped when it comes. The cell is new for each wake-up, so waking one (notify) could never touch
// another's.

type WaitResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (cell: Int32Array, index: number, value: number, timeoutMs: number) => WaitResult;
/** Typed here: the project's TypeScript lib is ES2022, which predates waitAsync. */
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export interface Wake {
  /** The callback will not run (if it has not yet). */
  cancel(): void;
}

/** Calls `fn` once, `ms` (at least 1) from now, unless cancelled first. */
export function wakeAfter(ms: number, fn: () => void): Wake {
  let live = true;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const r = waitAsync(cell, 0, 0, Math.max(1, ms));
  const fire = () => {
    if (!live) return;
    live = false;
    fn();
  };
  // Synchronous only for a timeout of 0 or a cell already changed: neither happens here, but a wake-up
  // must never be lost.
  if (!r.async) queueMicrotask(fire);
  else void r.value.then(fire);
  return {
    cancel() {
      live = false;
    },
  };
}
