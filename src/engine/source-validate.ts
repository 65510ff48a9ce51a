// Checks on a rule's source that the JSON Schema cannot express, run when the config is loaded so a
// mistake is reported with its JSON path before any request — and before any secret is sent.
import type { SecretRef, SourceConfig } from '../model/rule.js';
import { parsePattern, redactUrl, type Pattern } from '../model/url.js';
import { endpointProblem } from '../http/policy.js';

export interface SourceProblem {
  /** JSON path below the rule's `source`, e.g. "/endpoint". */
  at: string;
  message: string;
}

/** `pattern`: the rule's parsed match, for checks that depend on it (an ACR rule's registry). */
export function sourceProblems(source: SourceConfig, pattern?: Pattern): SourceProblem[] {
  const out: SourceProblem[] = [];
  const endpoint = (at: string, url: string | undefined, insecure: boolean | undefined) => {
    if (url === undefined) return;
    const p = endpointProblem(url, insecure);
    // Quoted without its userinfo (an endpoint written user:password@ is refused, not shown) or query.
    if (p) out.push({ at, message: `${redactUrl(url)} ${p}` });
  };
  const ref = (at: string, r: SecretRef | undefined) => {
    if (!r || !('stored' in r)) return;
    try {
      parsePattern(r.stored);
    } catch (e) {
      out.push({ at: `${at}/stored`, message: (e as Error).message });
    }
  };
  switch (source.type) {
    case 'exchange':
      endpoint('/endpoint', source.endpoint, source.allowInsecureHttp);
      ref('/secret', source.secret);
      break;
    case 'oauth2':
      endpoint('/tokenEndpoint', source.tokenEndpoint, source.allowInsecureHttp);
      endpoint('/deviceEndpoint', source.deviceEndpoint, source.allowInsecureHttp);
      ref('/clientSecret', source.clientSecret);
      ref('/refreshToken', source.refreshToken);
      break;
    case 'oidc':
      endpoint('/endpoint', source.endpoint, source.allowInsecureHttp);
      break;
    case 'azure':
      endpoint('/authorityHost', source.authorityHost, source.allowInsecureHttp);
      ref('/clientSecret', source.clientSecret);
      if (source.service === 'acr' && source.registry === undefined && pattern?.wildcard) {
        out.push({
          at: '/registry',
          message: 'a wildcard rule covers many registries: name the one to exchange at, e.g. "registry": "myregistry.azurecr.io"',
        });
      }
      break;
    case 'github-app':
      endpoint('/apiUrl', source.apiUrl, source.allowInsecureHttp);
      ref('/privateKey', source.privateKey);
      break;
    case 'command': {
      // No shell and no cwd to rely on (the daemon runs in /): a program is absolute or found on PATH.
      const program = source.command[0] ?? '';
      if (program === '' || (program.includes('/') && !program.startsWith('/'))) {
        out.push({
          at: '/command/0',
          message: `${JSON.stringify(program)} must be an absolute path or a program name found on PATH (no shell, no relative paths)`,
        });
      }
      break;
    }
    default:
      break;
  }
  return out;
}
