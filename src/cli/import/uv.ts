// uv's plaintext credential store (docs/protocols.md §5.2): $UV_CREDENTIALS_DIR/credentials.toml, else
// $XDG_DATA_HOME/uv/credentials/credentials.toml; `[[credential]]` tables with service, username,
// scheme (basic, the default | bearer) and password | token. A bare host as service means https.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { DEFAULT_TOKEN_USERNAME } from '../../sources/types.js';
import { parseTomlValue, TomlError, type TomlValue } from '../../formats/toml.js';
import { FormatError, type ImportSource, type Parsed } from './types.js';

export const uvImport: ImportSource = {
  name: 'uv',
  protocols: ['keyring'],
  files(env: Env) {
    if (env.UV_CREDENTIALS_DIR) return [join(env.UV_CREDENTIALS_DIR, 'credentials.toml')];
    const data = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(env.HOME || homedir(), '.local', 'share');
    return [join(data, 'uv', 'credentials', 'credentials.toml')];
  },
  parse(text) {
    let doc;
    try {
      doc = parseTomlValue(text);
    } catch (e) {
      // TomlError messages name the line and the construct, never the value.
      throw new FormatError(e instanceof TomlError ? `not valid TOML (${e.message})` : 'not valid TOML');
    }
    const out: Parsed = { candidates: [], skipped: [] };
    const list = doc.credential;
    if (list === undefined) return out;
    if (!Array.isArray(list)) throw new FormatError('"credential" is not an array of tables ([[credential]])');
    list.forEach((item: TomlValue, i) => {
      const where = `[[credential]] #${i + 1}`;
      if (typeof item !== 'object' || Array.isArray(item) || item instanceof Date) {
        out.skipped.push({ where, reason: 'not a table' });
        return;
      }
      const service = item.service;
      if (typeof service !== 'string' || service === '') {
        out.skipped.push({ where, reason: 'no service' });
        return;
      }
      const at = `${where} ${service}`;
      const scheme = item.scheme ?? 'basic';
      const username = typeof item.username === 'string' ? item.username : undefined;
      if (scheme === 'bearer') {
        if (typeof item.token !== 'string' || item.token === '') out.skipped.push({ where: at, reason: '`scheme = bearer` without a token' });
        else
          out.candidates.push({
            url: service,
            credential: { kind: 'bearer', username: username || DEFAULT_TOKEN_USERNAME, secret: item.token },
            where: at,
          });
      } else if (scheme === 'basic') {
        if (!username) out.skipped.push({ where: at, reason: '`username` is required with `scheme = basic`' });
        else if (typeof item.password !== 'string') out.skipped.push({ where: at, reason: 'no password' });
        else out.candidates.push({ url: service, credential: { kind: 'basic', username, secret: item.password }, where: at });
      } else {
        out.skipped.push({ where: at, reason: `unknown scheme ${JSON.stringify(String(scheme)).slice(0, 40)} (basic or bearer)` });
      }
    });
    return out;
  },
};
