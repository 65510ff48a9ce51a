// The token sources' config: a typo or an unsafe endpoint is an error naming its JSON path and what
// to write instead, when the file is read — before any request, before any secret is sent.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/engine/config.js';

function problems(source: unknown, extra: Record<string, unknown> = {}): string {
  try {
    parseConfig(JSON.stringify({ rules: [{ match: 'https://pkgs.test', ...extra, source }] }), 'config.json');
  } catch (e) {
    return (e as Error).message;
  }
  return 'valid';
}

const pyx = { type: 'exchange', endpoint: 'https://api.pyx.dev/auth/cli/access-token', secret: { env: 'PYX_API_KEY' } };

describe('config: token sources', () => {
  it('accepts one documented example of each source', () => {
    expect(problems(pyx)).toBe('valid');
    expect(problems({ ...pyx, secret: { stored: 'https://api.pyx.dev' }, expect: 'jwt' })).toBe('valid');
    expect(
      problems({
        type: 'exchange',
        endpoint: 'https://x.test/t',
        secret: { env: 'K' },
        style: 'json',
        secretField: 'api_key',
        fields: { client: 'credmux', v: 2 },
        tokenField: 'data.token',
        ttlSeconds: 900,
      }),
    ).toBe('valid');
    expect(
      problems({
        type: 'oauth2',
        tokenEndpoint: 'https://id.test/token',
        deviceEndpoint: 'https://id.test/device',
        clientId: 'cli',
        scope: 'read offline_access',
        clientSecret: { stored: 'https://id.test', username: 'cli' },
      }),
    ).toBe('valid');
    expect(
      problems({ type: 'oidc', identity: { provider: 'github', audience: 'pyx' }, endpoint: 'https://api.pyx.dev/v1/trusted-access/mint-token' }),
    ).toBe('valid');
    expect(
      problems({
        type: 'oidc',
        identity: { provider: 'file', path: '/var/run/secrets/tokens/pyx' },
        endpoint: 'https://sts.test/token',
        grant: 'token-exchange',
        audience: 'registry',
      }),
    ).toBe('valid');
    expect(problems({ type: 'command', command: ['gcloud', 'auth', 'print-access-token'], ttlSeconds: 3000, timeoutSeconds: 5 })).toBe('valid');
    expect(problems({ ...pyx, endpoint: 'http://127.0.0.1:8080/token', allowInsecureHttp: true })).toBe('valid');
  });

  it.each([
    ['a misspelt key', { ...pyx, endpiont: 'x' }, '/rules/0/source: unknown key "endpiont"; remove it or check its spelling'],
    ['a missing key', { type: 'exchange', secret: { env: 'K' } }, '/rules/0/source: missing "endpoint"; add it'],
    ['a misspelt secret form', { ...pyx, secret: { envv: 'K' } }, '/rules/0/source/secret: unknown key "envv"'],
    [
      'a secret with no source',
      { ...pyx, secret: {} },
      '/rules/0/source/secret: say where the secret comes from: {"stored": "<URL given to credmux login>"} or {"env": "VAR_NAME"}',
    ],
    [
      'a secret with two sources',
      { ...pyx, secret: { env: 'K', stored: 'https://x.test' } },
      '/rules/0/source/secret/env: give either "stored" or "env", not both',
    ],
    [
      'an env name with a $',
      { ...pyx, secret: { env: '$PYX_API_KEY' } },
      '/rules/0/source/secret/env: "^[A-Za-z_][A-Za-z0-9_]*$" does not match; write an environment variable name',
    ],
    ['an unknown style', { ...pyx, style: 'header' }, '/rules/0/source/style: must be one of "bearer", "json", "form"'],
    ['json style without secretField', { ...pyx, style: 'json' }, '/rules/0/source: missing "secretField"; add it'],
    ['secretField with the bearer style', { ...pyx, secretField: 'key' }, '/rules/0/source/secretField: only used with "style": "json" or "form"'],
    ['an unknown expect', { ...pyx, expect: 'JWT' }, '/rules/0/source/expect: must be one of "jwt", "any"'],
    ['a zero TTL', { ...pyx, ttlSeconds: 0 }, '/rules/0/source/ttlSeconds: must be >= 1'],
    ['an unknown source type', { type: 'exchnage' }, '/rules/0/source/type: must be one of "env", "netrc", "exchange", "oauth2", "oidc", "command"'],
    [
      'an OIDC provider typo',
      { type: 'oidc', identity: { provider: 'githb' }, endpoint: 'https://x.test/m' },
      '/rules/0/source/identity/provider: must be one of "github", "gitlab", "env", "file"',
    ],
    [
      'a GitLab identity without var',
      { type: 'oidc', identity: { provider: 'gitlab' }, endpoint: 'https://x.test/m' },
      '/rules/0/source/identity: missing "var"; add it',
    ],
    [
      'a relative token file',
      { type: 'oidc', identity: { provider: 'file', path: 'token' }, endpoint: 'https://x.test/m' },
      '/rules/0/source/identity/path: "^(/|~/)" does not match; write an absolute path',
    ],
    [
      'token-exchange keys with the mint grant',
      { type: 'oidc', identity: { provider: 'env', var: 'T' }, endpoint: 'https://x.test/m', audience: 'a' },
      '/rules/0/source/audience: only used with "grant": "token-exchange"',
    ],
    [
      'a scope with a comma list',
      { type: 'oauth2', tokenEndpoint: 'https://id.test/token', clientId: 'c', scope: 'a,  b' },
      '/rules/0/source/scope: ',
    ],
    ['a command as one string', { type: 'command', command: 'gcloud auth print-access-token' }, '/rules/0/source/command: must be an array'],
    [
      'a relative command path',
      { type: 'command', command: ['./get-token.sh'] },
      '/rules/0/source/command/0: "./get-token.sh" must be an absolute path or a program name found on PATH',
    ],
    [
      'plain http to another host',
      { ...pyx, endpoint: 'http://api.pyx.dev/token', allowInsecureHttp: true },
      '/rules/0/source/endpoint: http://api.pyx.dev/token uses plain http to a host that is not this machine; use https',
    ],
    [
      'plain http to loopback without the opt-in',
      { ...pyx, endpoint: 'http://127.0.0.1:9/token' },
      '/rules/0/source/endpoint: http://127.0.0.1:9/token uses plain http; allowed only to loopback and only with "allowInsecureHttp": true',
    ],
    [
      'userinfo in an endpoint',
      { ...pyx, endpoint: 'https://user:pw@api.test/token' },
      '/rules/0/source/endpoint: https://user:pw@api.test/token must not carry user:password@',
    ],
    ['a bad stored pattern', { ...pyx, secret: { stored: 'ftp://x' } }, '/rules/0/source/secret/stored: '],
  ])('%s', (_name, source, expected) => {
    const msg = problems(source);
    expect(msg).toContain('config.json');
    expect(msg).toContain(expected);
  });

  it('an endpoint query string never shows in the error (it may carry a signature)', () => {
    expect(problems({ ...pyx, endpoint: 'http://example.com/t?sig=abc123' })).not.toContain('abc123');
  });
});
