// ~/.pypirc (twine, distutils): `[distutils] index-servers = a b …` names the servers; each `[name]`
// has `repository`, `username`, `password`. pypi and testpypi have default upload URLs. Without
// [distutils], every section with a password counts (twine reads [pypi] that way).
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import { iniGet, parseIni } from '../../formats/ini.js';
import type { ImportSource, Parsed } from './types.js';

const DEFAULT_REPOSITORIES: Record<string, string> = {
  pypi: 'https://upload.pypi.org/legacy/',
  testpypi: 'https://test.pypi.org/legacy/',
};

export const pypircImport: ImportSource = {
  name: 'pypirc',
  // Index and upload URLs of Python packaging: pip and uv ask keyring for them.
  protocols: ['keyring'],
  files: (env: Env) => [join(env.HOME || homedir(), '.pypirc')],
  parse(text) {
    const doc = parseIni(text);
    const out: Parsed = { candidates: [], skipped: [] };
    const listed = iniGet(doc, 'distutils', 'index-servers');
    const names = listed !== undefined ? listed.split(/\s+/).filter(Boolean) : doc.sections.map((s) => s.name).filter((n) => n !== 'distutils');
    for (const name of [...new Set(names)]) {
      const where = `[${name}]`;
      if (!doc.sections.some((s) => s.name === name)) {
        if (listed !== undefined) out.skipped.push({ where, reason: 'listed in index-servers but has no section' });
        continue;
      }
      const repository = iniGet(doc, name, 'repository') ?? DEFAULT_REPOSITORIES[name];
      const username = iniGet(doc, name, 'username');
      const password = iniGet(doc, name, 'password');
      if (!repository) out.skipped.push({ where, reason: 'no repository URL' });
      else if (password === undefined || password === '') out.skipped.push({ where, reason: 'no password (twine would ask for it, or use keyring)' });
      else if (!username) out.skipped.push({ where, reason: 'no username' });
      else out.candidates.push({ url: repository, credential: { kind: 'basic', username, secret: password }, where: `${where} ${repository}` });
    }
    return out;
  },
};
