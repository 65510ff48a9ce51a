// Which endpoints a token source may talk to, decided before any byte is sent. Pure (no undici), so
// the config loader can check every endpoint when the file is read, not at the first request.
//
// Secrets (API keys, refresh tokens, client secrets, CI identities) travel to these endpoints, so:
// https only; plain http only to this machine (127.0.0.0/8, ::1, localhost — a test server or a local
// proxy) and only where the rule opts in with "allowInsecureHttp": true.

const LOOPBACK_V4 = /^127\.(?:\d{1,3})\.(?:\d{1,3})\.(?:\d{1,3})$/;

/** `hostname` as WHATWG URL gives it (IPv6 in brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h === '[::1]' || h === '::1' || LOOPBACK_V4.test(h);
}

/** Why `raw` may not be used as an endpoint, or undefined when it may. */
export function endpointProblem(raw: string, allowInsecureHttp: boolean | undefined): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not an absolute URL (write https://host/path)';
  }
  if (u.username || u.password) return 'must not carry user:password@ (secrets belong in the store or an env var)';
  if (u.hash) return 'must not have a #fragment';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol !== 'http:') return `uses ${u.protocol.replace(/:$/, '')}; only https (or http to loopback) is allowed`;
  if (!isLoopbackHost(u.hostname)) return 'uses plain http to a host that is not this machine; use https';
  if (!allowInsecureHttp) return 'uses plain http; allowed only to loopback and only with "allowInsecureHttp": true in the source';
  return undefined;
}

/**
 * The link-local addresses of the cloud instance metadata services (AWS IMDS over IPv4 and IPv6):
 * they serve only plain http, and only to the machine itself, so plain http to them leaves no host.
 */
const METADATA_HOSTS = new Set(['169.254.169.254', '[fd00:ec2::254]']);

/** http:// to a metadata address (the service's own scheme) with no userinfo. */
export function isMetadataEndpoint(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' && METADATA_HOSTS.has(u.hostname) && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** The endpoint as errors and logs show it: scheme, host, port and path — never userinfo, query or fragment. */
export function displayEndpoint(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}
