// Watches every process on the machine while flows run: a worker thread reads /proc/*/cmdline and
// /proc/*/environ in a tight loop (a few ms per sweep), independent of the test's event loop, and
// reports any process whose argv or environment holds a canary string. It also records which
// processes of interest it saw, so a test can prove the sampler was looking when they lived.
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = String.raw`
const { workerData, parentPort } = require('node:worker_threads');
const { readdirSync, readFileSync } = require('node:fs');
const { canaries, markers, environOf, control } = workerData;
const flag = new Int32Array(control);
const needles = canaries.map((c) => Buffer.from(c, 'utf8'));
const hits = [];
const seen = {};
for (const m of markers) seen[m] = [];
let sweeps = 0;
const self = String(process.pid);
// Processes that are not node (kernel threads, shells, other tools) are re-read only every 25th sweep:
// credmux's processes are all node, and reading everything every time would make the sampler itself
// the busiest process on a small machine.
const foreign = new Map();
while (Atomics.load(flag, 0) === 0) {
  let names = [];
  try { names = readdirSync('/proc'); } catch {}
  for (const pid of names) {
    if (pid.charCodeAt(0) > 57 || pid === self) continue;
    const since = foreign.get(pid);
    if (since !== undefined && (sweeps - since) % 25 !== 0) continue;
    let cmd = '';
    for (const what of ['cmdline', 'environ']) {
      // Environments are read only for the processes of interest: reading every process's twice per
      // sweep would slow the sweep down on a busy machine.
      if (what === 'environ' && !environOf.some((m) => cmd.includes(m))) continue;
      let buf;
      try { buf = readFileSync('/proc/' + pid + '/' + what); } catch { continue; }
      if (what === 'cmdline') {
        cmd = buf.toString('utf8');
        if (cmd.includes('node')) foreign.delete(pid);
        else if (!foreign.has(pid)) foreign.set(pid, sweeps);
      }
      needles.forEach((n, canary) => {
        if (buf.includes(n) && hits.length < 200) hits.push({ pid: Number(pid), where: what, canary, text: buf.toString('utf8').replace(/\0/g, ' ').slice(0, 300) });
      });
      if (what === 'cmdline') {
        const text = buf.toString('utf8');
        for (const m of markers) if (text.includes(m) && !seen[m].includes(Number(pid))) seen[m].push(Number(pid));
      }
    }
  }
  sweeps++;
  Atomics.wait(flag, 0, 0, 3);
}
parentPort.postMessage({ hits, seen, sweeps });
`;

export interface SamplerReport {
  /** `canary`: index into the canaries given. */
  hits: Array<{ pid: number; where: 'cmdline' | 'environ'; canary: number; text: string }>;
  /** marker → pids whose command line contained it. */
  seen: Record<string, number[]>;
  sweeps: number;
  ms: number;
}

export interface Sampler {
  stop(): Promise<SamplerReport>;
}

/**
 * @param canaries  strings no argv or environment may contain
 * @param markers   command-line substrings whose processes to record as seen
 * @param environOf command-line substrings of the processes whose environment is read too
 */
export function startProcSampler(canaries: string[], markers: string[], environOf: string[]): Sampler {
  const control = new SharedArrayBuffer(4);
  const flag = new Int32Array(control);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { canaries, markers, environOf, control } });
  const t0 = performance.now();
  const done = new Promise<SamplerReport>((resolve, reject) => {
    worker.once('message', (m: Omit<SamplerReport, 'ms'>) => resolve({ ...m, ms: performance.now() - t0 }));
    worker.once('error', reject);
  });
  return {
    async stop() {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      const report = await done;
      await worker.terminate();
      return report;
    },
  };
}
