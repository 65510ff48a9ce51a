// ~/.netrc ($NETRC): `machine HOST login USER password PASS` entries (curl/inetutils syntax, with
// curl's double-quoted tokens). netrc names only a host, so each becomes https://HOST. `default` applies
// to every host, which credmux will not copy into the store (a netrc rule in config.json reads it through).
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { NetrcFormatError, parseNetrc, type NetrcMachine } from '../../sources/netrc.js';
import { FormatError, type ImportSource, type Parsed } from './types.js';

export const netrcImport: ImportSource = {
  name: 'netrc',
  // curl, git (through curl), pip and Bazel's downloader all read netrc: it names hosts, not tools.
  protocols: 'all',
  files: (env: Env) => [env.NETRC || join(env.HOME || homedir(), '.netrc')],
  parse(text) {
    const out: Parsed = { candidates: [], skipped: [] };
    let entries: NetrcMachine[];
    try {
      entries = parseNetrc(text);
    } catch (e) {
      if (e instanceof NetrcFormatError) throw new FormatError(e.message);
      throw e;
    }
    for (const e of entries) {
      const where = e.machine === null ? `default (line ${e.line})` : `machine ${e.machine} (line ${e.line})`;
      if (e.machine === null) out.skipped.push({ where, reason: 'applies to every host; add a netrc rule to config.json to use it' });
      else if (e.password === undefined) out.skipped.push({ where, reason: 'no password' });
      else if (!e.login)
        out.skipped.push({ where, reason: 'no login: a password needs a username (store a token with credmux login URL --token-stdin)' });
      else out.candidates.push({ url: e.machine, credential: { kind: 'basic', username: e.login, secret: e.password }, where });
    }
    return out;
  },
};
