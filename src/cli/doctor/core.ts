// doctor: the config file and the secret store.
import { compileRules, loadConfig } from '../../engine/config.js';
import type { Rule } from '../../model/rule.js';
import { configFile, type Env } from '../../platform/paths.js';
import type { StoredEntry } from '../../model/types.js';
import { openStore } from '../../store/select.js';
import type { SecretStore } from '../../store/types.js';
import { shq } from '../setup/common.js';
import { withTimeout, type Check } from './check.js';

/** A store that takes longer than this would also stall every helper: report it. */
const STORE_TIMEOUT_MS = 3_000;

export function checkConfig(env: Env): { check: Check; rules: Rule[] } {
  const path = configFile(env);
  try {
    const loaded = loadConfig(env);
    const rules = compileRules(loaded.config, loaded.path);
    const summary =
      loaded.stamp === 'absent' ? `${path}: none (stored credentials only)` : `${path}: valid, ${rules.length} rule${rules.length === 1 ? '' : 's'}`;
    return {
      check: { section: 'credmux', area: 'config', status: 'ok', summary },
      rules,
    };
  } catch (e) {
    // The message names the JSON path and what to write instead (engine/config.ts).
    const lines = (e as Error).message.split('\n');
    return {
      check: {
        section: 'credmux',
        area: 'config',
        status: 'error',
        summary: `invalid, so every helper request fails until it is fixed: ${lines[0]}`,
        details: lines
          .slice(1)
          .map((l) => l.trim())
          .filter(Boolean),
        fix: `edit ${shq(path)} as the lines above say (schema: protocols/config/config.schema.json),\nor move it away to run on stored credentials only: mv ${shq(path)} ${shq(`${path}.broken`)}`,
      },
      rules: [],
    };
  }
}

export async function checkStore(env: Env): Promise<{ check: Check; entries: StoredEntry[]; store?: SecretStore }> {
  try {
    const { store, reason } = await withTimeout(openStore(env), STORE_TIMEOUT_MS, 'choosing the store');
    const entries = await withTimeout(store.list(), STORE_TIMEOUT_MS, `the ${store.kind} store`);
    return {
      check: {
        section: 'credmux',
        area: 'store',
        status: 'ok',
        summary: `${reason}; answers, ${entries.length} stored credential${entries.length === 1 ? '' : 's'}`,
      },
      entries,
      store,
    };
  } catch (e) {
    const msg = (e as Error).message;
    return {
      check: {
        section: 'credmux',
        area: 'store',
        status: 'error',
        summary: `does not answer: ${msg}`,
        fix: /CREDMUX_STORE/.test(msg)
          ? 'set CREDMUX_STORE to auto, keychain or file (e.g. export CREDMUX_STORE=file), as the message says'
          : /keychain|Secret Service|D-Bus/i.test(msg)
            ? 'unlock the OS keychain (or run inside a desktop session), or use the file store: export CREDMUX_STORE=file'
            : 'follow the message above; the store is required by every helper',
      },
      entries: [],
    };
  }
}
