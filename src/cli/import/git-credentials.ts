// git-credential-store files: one credential per line, as git's credential-store.c writes it:
//   <protocol>://<user>:<password>@<host>[/<path>]
// with user, password AND host percent-encoded (only RFC 3986 unreserved characters are left as they
// are), so a port arrives as `host%3a3000` and an IPv6 host as `%5b%3a%3a1%5d`. That is not a URL a
// WHATWG parser accepts, so the line is split the way git itself reads it back
// (credential_from_url_gently): the first "@" before the first "/" ends the userinfo, the first ":"
// in it splits user from password, and each part is decoded once. git reads ~/.git-credentials and
// $XDG_CONFIG_HOME/git/credentials.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../platform/paths.js';
import type { ImportSource, Parsed } from './types.js';

/** What a decoded host may not contain: it would move the credential to another host or into the path. */
const BAD_HOST = /[\s/\\@?#\u0000-\u001f\u007f]/;

interface GitStoreLine {
  protocol: string;
  username?: string;
  password?: string;
  /** Decoded: `host[:port]`. */
  host: string;
  /** As written (still percent-encoded), without leading or trailing slashes. */
  path: string;
}

/** One line split as git splits it, or why not. Decoding errors are reported, never the text. */
export function splitGitStoreLine(line: string): GitStoreLine | string {
  const sep = line.indexOf('://');
  if (sep <= 0) return 'not a URL';
  const protocol = line.slice(0, sep).toLowerCase();
  const rest = line.slice(sep + 3);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/\/+$/, '');
  const at = authority.indexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const colon = userinfo === undefined ? -1 : userinfo.indexOf(':');
  try {
    const host = decodeURIComponent(authority.slice(at + 1));
    return {
      protocol,
      host,
      path,
      ...(userinfo !== undefined ? { username: decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon)) } : {}),
      ...(colon >= 0 ? { password: decodeURIComponent(userinfo!.slice(colon + 1)) } : {}),
    };
  } catch {
    return 'bad percent-encoding in it';
  }
}

export const gitImport: ImportSource = {
  name: 'git',
  protocols: ['git'],
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
      const c = splitGitStoreLine(line);
      if (typeof c === 'string') {
        out.skipped.push({ where, reason: c });
        return;
      }
      // The host is shown decoded (that is where the credential goes); the path as written.
      const shown = `${where} (${c.protocol}://${c.host.replace(/[\u0000-\u001f\u007f]/g, '?')}${c.path ? `/${c.path}` : ''})`;
      if (c.protocol !== 'https' && c.protocol !== 'http') {
        out.skipped.push({ where: shown, reason: `credmux serves http and https only, not ${c.protocol}` });
        return;
      }
      if (c.host === '' || BAD_HOST.test(c.host)) {
        out.skipped.push({ where: shown, reason: 'its host is empty or holds characters no host name has' });
        return;
      }
      if (c.username === undefined || c.username === '' || c.password === undefined || c.password === '') {
        out.skipped.push({ where: shown, reason: 'no username and password in it' });
        return;
      }
      const url = `${c.protocol}://${c.host}${c.path ? `/${c.path}` : ''}`;
      out.candidates.push({ url, credential: { kind: 'basic', username: c.username, secret: c.password }, where: shown });
    });
    return out;
  },
};
