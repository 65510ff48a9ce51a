// $DOCKER_CONFIG/config.json (or ~/.docker/config.json) `auths`: base64 `auth` = user:password,
// or an `identitytoken` (kept as Docker's `<token>` user, exactly as `docker login` through credmux's
// helper stores it). Keys are named the way the Docker helper adapter looks them up: Docker Hub under
// https://index.docker.io, anything else as host[:port] (scheme and path dropped, stored as https).
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { DOCKER_HUB_URL, IDENTITY_TOKEN_USERNAME, isDockerHub, registryHost } from '../../model/types.js';
import { FormatError, parseJsonObject, type ImportSource, type Parsed } from './types.js';

/** docker's ConvertToHostname, then Docker Hub's one name (src/model/types.ts). */
export function dockerServerUrl(key: string): string {
  return isDockerHub(key) ? DOCKER_HUB_URL : registryHost(key.trim());
}

export const dockerImport: ImportSource = {
  name: 'docker',
  protocols: ['docker'],
  files: (env: Env) => [join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json')],
  parse(text) {
    const data = parseJsonObject(text);
    const out: Parsed = { candidates: [], skipped: [] };
    const auths = data.auths;
    if (auths === undefined) return out;
    if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) throw new FormatError('"auths" is not an object');
    const store = (data as { credsStore?: unknown }).credsStore;
    for (const [key, raw] of Object.entries(auths as Record<string, unknown>)) {
      const where = `auths[${JSON.stringify(key)}]`;
      if (typeof raw !== 'object' || raw === null) {
        out.skipped.push({ where, reason: 'not an object' });
        continue;
      }
      const a = raw as Record<string, unknown>;
      const url = dockerServerUrl(key);
      if (typeof a.identitytoken === 'string' && a.identitytoken !== '') {
        out.candidates.push({
          url,
          credential: { kind: 'basic', username: IDENTITY_TOKEN_USERNAME, secret: a.identitytoken },
          where: `${where} identitytoken`,
        });
        continue;
      }
      let username = typeof a.username === 'string' ? a.username : undefined;
      let password = typeof a.password === 'string' ? a.password : undefined;
      if (typeof a.auth === 'string' && a.auth !== '') {
        const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon <= 0) {
          out.skipped.push({ where, reason: '"auth" is not base64 of user:password' });
          continue;
        }
        username = decoded.slice(0, colon);
        password = decoded.slice(colon + 1);
      }
      if (typeof a.registrytoken === 'string' && a.registrytoken !== '' && password === undefined) {
        out.skipped.push({ where, reason: 'a registrytoken is sent to the registry as is, which Docker credential helpers cannot express' });
        continue;
      }
      if (!username || password === undefined) {
        out.skipped.push({
          where,
          reason: typeof store === 'string' ? `no secret in the file (docker keeps it in credsStore "${store}")` : 'no secret in the file',
        });
        continue;
      }
      out.candidates.push({ url, credential: { kind: 'basic', username, secret: password }, where });
    }
    return out;
  },
};
