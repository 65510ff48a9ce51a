// `credmux import store --from file|keychain [--dry-run]`: copies the entries of the other secret
// store into the one this session uses — after moving from an ssh session (the file store) to a
// desktop one (the OS keychain), or back — so the helpers here serve them. Each entry is copied as it
// is (pattern, username, kind, secret, expiry, refresh token, when it was stored). Nothing stored here
// is ever overwritten: an entry with the same URL and username but another secret is a conflict,
// reported with the command that resolves it. The source store is left as it was.
import { openEngine } from '../../engine/open.js';
import type { StoredEntry } from '../../model/types.js';
import { dataDir, type Env } from '../../platform/paths.js';
import { FileStore } from '../../store/file.js';
import { KeychainStore } from '../../store/keychain.js';
import type { SecretStore } from '../../store/types.js';
import type { Io } from '../credentials.js';
import { describeStore, keepDaemonOnStore } from '../daemon-store-sync.js';
import { EXIT } from '../exit-codes.js';
import { EXIT_PROBLEMS, shq } from '../setup/common.js';

export const STORE_KINDS = ['file', 'keychain'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export async function runStoreImport(env: Env, io: Io, opts: { from: StoreKind; dryRun: boolean; json?: boolean }): Promise<number> {
  const engine = await openEngine(env);
  const target = engine.store;
  if (target.kind === opts.from) {
    const other = opts.from === 'file' ? 'keychain' : 'file';
    io.err(
      `credmux: this session already uses the ${describeStore(target)}: nothing to import from it. ` +
        `To copy its entries into the ${other === 'file' ? 'file store' : 'OS keychain'}, run credmux import store --from ${opts.from} where that one is used ` +
        `(e.g. CREDMUX_STORE=${other} credmux import store --from ${opts.from})\n`,
    );
    return EXIT.usage;
  }
  const source = openSource(env, opts.from);
  let entries: StoredEntry[];
  try {
    entries = await source.list();
  } finally {
    if (source instanceof KeychainStore) source.close();
  }

  const out: string[] = [];
  if (opts.dryRun) out.push('credmux import store --dry-run: nothing is stored, and no secret is shown.', '');
  out.push(`store  ${describeStore(source)} → ${describeStore(target)}`);
  if (entries.length === 0) out.push('  (no credentials in it)');
  const tally = { imported: 0, present: 0, conflicts: 0 };
  // For --json: each entry as the text lists it, never its secret.
  const report: { url: string; username: string; kind: string; outcome: string }[] = [];
  for (const e of entries) {
    const who = e.username === '' ? '(no username)' : e.username;
    const label = `${e.url}  ${who} (${e.kind})`;
    const here = await target.get({ url: e.url, username: e.username });
    if (here) {
      if (here.secret === e.secret && here.kind === e.kind) {
        tally.present++;
        report.push({ url: e.url, username: e.username, kind: e.kind, outcome: 'present' });
        out.push(`  ${'present'.padEnd(12)} ${label}`);
      } else {
        tally.conflicts++;
        report.push({ url: e.url, username: e.username, kind: e.kind, outcome: 'conflict' });
        out.push(
          `  ${'conflict'.padEnd(12)} ${label}: a different secret is already stored here; kept it. ` +
            `To take the one from the ${opts.from} store: credmux logout ${shq(e.url)} --username ${shq(e.username)} && credmux import store --from ${opts.from}`,
        );
      }
      continue;
    }
    tally.imported++;
    if (!opts.dryRun) await target.put(e);
    report.push({ url: e.url, username: e.username, kind: e.kind, outcome: opts.dryRun ? 'would import' : 'imported' });
    out.push(`  ${(opts.dryRun ? 'would import' : 'imported').padEnd(12)} ${label}`);
  }
  out.push('', `${opts.dryRun ? 'Would import' : 'Imported'} ${tally.imported}, already present ${tally.present}, conflicts ${tally.conflicts}.`);
  if (opts.json) {
    const json = { dryRun: opts.dryRun, from: describeStore(source), to: describeStore(target), entries: report, totals: tally };
    io.out(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    io.out(`${out.join('\n')}\n`);
  }
  if (!opts.dryRun && tally.imported) await keepDaemonOnStore(env, target, io);
  return tally.conflicts ? EXIT_PROBLEMS : EXIT.ok;
}

function openSource(env: Env, kind: StoreKind): SecretStore {
  return kind === 'file' ? new FileStore(dataDir(env)) : new KeychainStore({ env });
}
