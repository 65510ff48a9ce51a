// The OAuth 2.0 device authorization grant (RFC 8628), run by `credmux login URL --oauth` to get the
// first refresh token: ask for a device code, tell the person where to enter the user code (stderr),
// then poll the token endpoint at the server's pace until they approve, deny, or the code expires.
import { CredmuxError } from '../model/types.js';
import type { Env } from '../platform/paths.js';
import { displayEndpoint } from '../http/policy.js';
import { HttpFailure, type HttpResponse } from '../http/request.js';
import { safeText } from './errors.js';
import { postForm, type OAuthClient } from './oauth2-client.js';
import { describeOAuthError, oauthErrorOf, parseJsonObject, TOKEN_CHARS } from './token-answer.js';

export interface DeviceFlowOptions {
  deviceEndpoint: string;
  tokenEndpoint: string;
  client: OAuthClient;
  scope?: string;
  audience?: string;
  allowInsecureHttp?: boolean;
  env: Env;
  /** Where the person is told what to do (stderr). */
  say: (line: string) => void;
  /** Injectable for tests; the real one is setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds, for the code's own expiry. */
  nowMs?: () => number;
}

export interface DeviceFlowResult {
  accessToken: string;
  refreshToken?: string;
  expiresIn?: number;
  /** Polls made after the first answer (for tests and the summary). */
  polls: number;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: 5 s when the server names no interval; §3.5: slow_down adds 5 s. */
const DEFAULT_INTERVAL_S = 5;
const SLOW_DOWN_S = 5;

function fail(message: string): CredmuxError {
  return new CredmuxError('source', message);
}

async function post(url: string, form: Record<string, string | undefined>, o: DeviceFlowOptions): Promise<HttpResponse> {
  try {
    return await postForm({ url, form, client: o.client, allowInsecureHttp: o.allowInsecureHttp, env: o.env });
  } catch (e) {
    if (e instanceof HttpFailure) throw fail(`device login: ${e.message}`);
    throw e;
  }
}

export async function runDeviceFlow(o: DeviceFlowOptions): Promise<DeviceFlowResult> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const nowMs = o.nowMs ?? Date.now;
  const deviceAt = displayEndpoint(o.deviceEndpoint);
  const tokenAt = displayEndpoint(o.tokenEndpoint);
  const secrets = [o.client.clientSecret];

  const start = await post(o.deviceEndpoint, { scope: o.scope, audience: o.audience }, o);
  const grant = parseJsonObject(start.text);
  if (start.status < 200 || start.status >= 300 || !grant) {
    const err = oauthErrorOf(grant, secrets);
    throw fail(
      `device login: ${deviceAt} answered HTTP ${start.status}${err ? ` (${describeOAuthError(err)})` : ''}; check deviceEndpoint and clientId`,
    );
  }
  const deviceCode = grant.device_code;
  const userCode = grant.user_code;
  const verificationUri = grant.verification_uri ?? grant.verification_url; // Google says _url
  if (typeof deviceCode !== 'string' || typeof userCode !== 'string' || typeof verificationUri !== 'string') {
    throw fail(
      `device login: ${deviceAt} answered without device_code, user_code and verification_uri; is it a device authorization endpoint (RFC 8628)?`,
    );
  }
  let intervalS = positive(grant.interval) ?? DEFAULT_INTERVAL_S;
  const expiresAtMs = nowMs() + (positive(grant.expires_in) ?? 600) * 1000;

  // The user code and URI are meant to be shown; the device code never is.
  const complete = typeof grant.verification_uri_complete === 'string' ? grant.verification_uri_complete : undefined;
  o.say(`To sign in, open ${safeText(verificationUri, secrets, 300)} and enter the code: ${safeText(userCode, secrets, 40)}`);
  if (complete) o.say(`(or open ${safeText(complete, secrets, 400)})`);
  o.say('Waiting for approval…');

  for (let polls = 1; ; polls++) {
    await sleep(intervalS * 1000);
    if (nowMs() >= expiresAtMs) throw fail('device login: the code expired before it was approved; run the login again');
    const res = await post(o.tokenEndpoint, { grant_type: DEVICE_GRANT, device_code: deviceCode }, o);
    const body = parseJsonObject(res.text);
    const err = oauthErrorOf(body, [...secrets, deviceCode]);
    // GitHub answers pending with HTTP 200 and an error field; RFC servers with 400. Read the field first.
    if (err) {
      switch (err.error) {
        case 'authorization_pending':
          continue;
        case 'slow_down':
          intervalS += SLOW_DOWN_S;
          continue;
        case 'expired_token':
          throw fail('device login: the code expired before it was approved; run the login again');
        case 'access_denied':
          throw fail('device login: the request was denied at the verification page; run the login again to retry');
        default:
          throw fail(`device login: ${tokenAt} answered HTTP ${res.status} (${describeOAuthError(err)})`);
      }
    }
    if (res.status >= 500 || res.status === 429) continue; // transient: keep polling until the code expires
    if (res.status < 200 || res.status >= 300 || !body) throw fail(`device login: ${tokenAt} answered HTTP ${res.status} without a token`);
    const accessToken = body.access_token;
    if (typeof accessToken !== 'string' || !TOKEN_CHARS.test(accessToken)) throw fail(`device login: ${tokenAt} answered without an access_token`);
    const refreshToken = typeof body.refresh_token === 'string' && TOKEN_CHARS.test(body.refresh_token) ? body.refresh_token : undefined;
    const expiresIn = positive(body.expires_in);
    return { accessToken, ...(refreshToken ? { refreshToken } : {}), ...(expiresIn ? { expiresIn } : {}), polls };
  }
}

function positive(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}
