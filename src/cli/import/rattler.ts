// rattler / pixi (docs/protocols.md §5.1): $RATTLER_AUTH_FILE, else ~/.rattler/credentials.json; one JSON
// object `{"<host>": {"BearerToken": t} | {"BasicHTTP": {username, password}} | {"CondaToken": t} | …}`.
// Host keys may be `*.domain` wildcards, which credmux stores as the same wildcard pattern.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { DEFAULT_TOKEN_USERNAME } from '../../sources/types.js';
import { parseJsonObject, type ImportSource, type Parsed } from './types.js';

const UNSUPPORTED: Record<string, string> = {
  CondaToken: 'a conda token travels in the URL path (/t/<token>/…), not in a header, so no credential helper can serve it; keep it in rattler',
  S3Credentials: 'S3 credentials sign each request, which no credential helper protocol can do; keep them in rattler',
  OAuth: 'rattler refreshes this OAuth session itself; sign in with credmux (credmux login URL --oauth) instead',
};

export const rattlerImport: ImportSource = {
  name: 'rattler',
  // Conda channels are plain HTTP downloads; of the tools credmux wires, only Bazel's downloader fetches
  // those (pixi itself reads its own store, never a credential helper).
  protocols: ['bazel'],
  files: (env: Env) => [env.RATTLER_AUTH_FILE || join(env.HOME || homedir(), '.rattler', 'credentials.json')],
  parse(text) {
    const data = parseJsonObject(text, 'a JSON object of host → credential');
    const out: Parsed = { candidates: [], skipped: [] };
    for (const [host, auth] of Object.entries(data as Record<string, unknown>)) {
      const where = JSON.stringify(host);
      const url = host.includes('://') ? host : host.startsWith('*.') ? host : `https://${host}`;
      if (typeof auth !== 'object' || auth === null || Array.isArray(auth) || Object.keys(auth).length !== 1) {
        out.skipped.push({ where, reason: 'not a rattler credential ({"BearerToken": …}, {"BasicHTTP": …}, …)' });
        continue;
      }
      const [kind, value] = Object.entries(auth as Record<string, unknown>)[0]!;
      if (kind === 'BearerToken' && typeof value === 'string' && value !== '') {
        out.candidates.push({ url, credential: { kind: 'bearer', username: DEFAULT_TOKEN_USERNAME, secret: value }, where });
      } else if (kind === 'BasicHTTP' && typeof value === 'object' && value !== null) {
        const { username, password } = value as { username?: unknown; password?: unknown };
        if (typeof username !== 'string' || username === '' || typeof password !== 'string')
          out.skipped.push({ where, reason: 'BasicHTTP without a username and password' });
        else out.candidates.push({ url, credential: { kind: 'basic', username, secret: password }, where });
      } else {
        out.skipped.push({ where, reason: UNSUPPORTED[kind] ?? `unknown credential type ${JSON.stringify(kind).slice(0, 40)}` });
      }
    }
    return out;
  },
};
