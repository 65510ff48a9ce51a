// Terraform's names for a host, shared by the helper (src/protocols/terraform.ts), setup and doctor:
// pure string functions, no I/O (docs/protocols.md §8).

/**
 * What Terraform passes a credentials helper: the host in svchost's "comparison" form (lower case,
 * punycode, `:port` unless 443). We accept that, and the same typed by hand in any case; anything
 * that could carry a scheme, userinfo, a path or a wildcard is refused, so the host asked for is
 * the only host a credential can be looked up (or stored) for.
 */
const HOST_ARG = /^([^\s/\\?#@*%:[\]\u0000-\u001f\u007f]+)(?::([0-9]{1,5}))?$/u;

/** `https://host[:port]` for a helper's HOST argument; undefined when it is not one host. */
export function terraformHostUrl(host: string): string | undefined {
  const m = HOST_ARG.exec(host);
  if (!m) return undefined;
  const name = m[1]!.toLowerCase();
  if (name.startsWith('.') || name.endsWith('..') || name.includes('..')) return undefined;
  const port = m[2] === undefined || Number(m[2]) === 443 ? '' : `:${Number(m[2])}`;
  if (port !== '' && (Number(m[2]) === 0 || Number(m[2]) > 65535)) return undefined;
  return `https://${name}${port}`;
}

/**
 * The `TF_TOKEN_<host>` variable Terraform ≥ 1.2 reads a token for `host` from (it wins over every
 * credentials helper): `.` → `_`, `-` → `__`. Undefined where no variable can name the host: a port
 * (Terraform gives none a name), or anything but ASCII letters, digits, `.` and `-` (give an IDN in
 * punycode). Source: hashicorp/terraform internal/command/cliconfig/credentials.go (collectCredentialsFromEnv).
 */
export function terraformTokenVar(host: string): string | undefined {
  if (!/^[A-Za-z0-9.-]+$/.test(host) || host.startsWith('.') || host.endsWith('.')) return undefined;
  return `TF_TOKEN_${host.toLowerCase().replaceAll('-', '__').replaceAll('.', '_')}`;
}
