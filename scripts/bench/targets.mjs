// For npm run bench: the performance issue's targets, checked against the figures just measured.
// Each line says the target, the figure and whether it is met; the bench exits 0 either way (it
// reports, the reader judges), and --json carries the same verdicts.

/** rows: [{ name, ratioToFloor, medianMs }] per environment set; daemon: the load figures. */
export function checkTargets(sets, daemon) {
  const out = [];
  const row = (set, name) => set.rows.find((r) => r.name === name);
  for (const set of sets) {
    for (const r of set.rows.filter((r) => r.target === 'warm')) {
      out.push({ what: `${set.short}: ${r.name}`, target: '≤ 1.15× floor', value: `${r.ratioToFloor.toFixed(2)}×`, met: r.ratioToFloor <= 1.15 });
    }
    const cold = set.rows.find((r) => r.target === 'cold');
    if (cold)
      out.push({ what: `${set.short}: ${cold.name}`, target: '≤ 2× floor', value: `${cold.ratioToFloor.toFixed(2)}×`, met: cold.ratioToFloor <= 2 });
    const ours = row(set, 'keyring get (warm)');
    for (const r of set.rows.filter((r) => r.python)) {
      const times = r.medianMs / ours.medianMs;
      const need = /keyring 25\./.test(r.name) ? 3 : 1.5;
      out.push({
        what: `${set.short}: keyring get vs ${r.name}`,
        target: `≥ ${need}× faster`,
        // How much faster the floor itself is (the peer's own ratio to it): no Node helper does better.
        value: `${times.toFixed(2)}× faster (the floor: ${r.ratioToFloor.toFixed(2)}×)`,
        met: times >= need,
      });
    }
  }
  if (daemon) {
    out.push({
      what: 'daemon: lookups/s over 64 connections',
      target: '≥ 20,000',
      value: String(daemon.lookupsPerSecond),
      met: daemon.lookupsPerSecond >= 20_000,
    });
    out.push({ what: 'daemon: p99 latency', target: '< 5 ms', value: `${daemon.p99Ms} ms`, met: daemon.p99Ms < 5 });
    out.push({
      what: 'daemon: resident memory',
      target: '< 80 MB',
      // An idle node of the same version beside it: the part of the RSS any Node process holds.
      value: `${daemon.rssMb} MB (an idle node: ${daemon.idleNodeRssMb} MB)`,
      met: daemon.rssMb < 80,
    });
    out.push({ what: 'daemon: wrong answers', target: '0', value: String(daemon.wrongAnswers), met: daemon.wrongAnswers === 0 });
  }
  return out;
}

export function printTargets(checks) {
  console.log('\nTargets (the performance issue)');
  for (const c of checks) console.log(`  ${c.met ? 'met ' : 'MISS'}  ${c.what.padEnd(66)} ${c.value.padStart(14)}   (${c.target})`);
  const missed = checks.filter((c) => !c.met).length;
  console.log(missed ? `  ${missed} of ${checks.length} targets missed` : `  all ${checks.length} targets met`);
}
