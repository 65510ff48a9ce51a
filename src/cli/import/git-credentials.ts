// git-credential-store files: one URL per line, `https://user:password@host[:port][/path]`, user and
// password percent-encoded. git reads ~/.git-credentials and $XDG_CONFIG_HOME/git/credentials.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import type { ImportSource, Parsed } from './types.js';

export const gitImport: ImportSource = {
  name: 'git',
  files(env: Env) {
    const home = env.HOME || homedir();
    const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(home, '.config');
    return [join(home, '.git-credentials'), join(xdg, 'git', 'credentials')];
  },
  parse(text) {
    const out: Parsed = { candidates: [], skipped: [] };
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `line ${i + 1}`;
      let u: URL;
      try {
        u = new URL(line);
      } catch {
        out.skipped.push({ where, reason: 'not a URL' });
        return;
      }
      const shown = `${where} (${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname})`;
      if (u.protocol !== 'https:' && u.protocol !== 'http:') {
        out.skipped.push({ where: shown, reason: `credmux serves http and https only, not ${u.protocol.slice(0, -1)}` });
        return;
      }
      if (u.username === '' || u.password === '') {
        out.skipped.push({ where: shown, reason: 'no username and password in it' });
        return;
      }
      let username: string;
      let password: string;
      try {
        username = decodeURIComponent(u.username);
        password = decodeURIComponent(u.password);
      } catch {
        out.skipped.push({ where: shown, reason: 'bad percent-encoding in the username or password' });
        return;
      }
      const url = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
      out.candidates.push({ url, credential: { kind: 'basic', username, secret: password }, where: shown });
    });
    return out;
  },
};
