// AWS's error answers in the three shapes the APIs used here have, turned into the rule's error with a
// fix: JSON 1.1 (ECR: `{"__type": "…#Code", "message": …}`), REST-JSON (CodeArtifact: the code in the
// `x-amzn-ErrorType` header, `{"message": …}`), and the Query protocol's XML (STS:
// `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error></ErrorResponse>`).
// https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#operation-error-serialization,
// https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization,
// https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
import type { Rule } from '../../model/rule.js';
import type { CredmuxError } from '../../model/types.js';
import type { HttpResponse } from '../../http/request.js';
import { safeText, sourceError } from '../errors.js';

export interface AwsError {
  code: string;
  message: string;
}

/** `com.amazonaws.ecr#AccessDeniedException` and `AccessDeniedException:http://…` both say AccessDeniedException. */
function bareCode(raw: string): string {
  return raw.replace(/^.*#/, '').replace(/:.*$/, '').trim();
}

function xmlField(text: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(text);
  return m
    ? m[1]!
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&')
    : undefined;
}

export function awsErrorOf(res: HttpResponse): AwsError | undefined {
  let code = res.headers['x-amzn-errortype'] ? bareCode(res.headers['x-amzn-errortype']) : '';
  let message = '';
  const text = res.text.trim();
  if (text.startsWith('{')) {
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      if (!code && typeof body.__type === 'string') code = bareCode(body.__type);
      if (!code && typeof body.code === 'string') code = bareCode(body.code);
      const m = body.message ?? body.Message;
      if (typeof m === 'string') message = m;
    } catch {
      // not JSON after all: no code from the body
    }
  } else if (text.startsWith('<')) {
    code ||= xmlField(text, 'Code') ?? '';
    message = xmlField(text, 'Message') ?? '';
  }
  return code || message ? { code, message } : undefined;
}

const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired', 'ExpiredTokenError']);
const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedException',
  'InvalidIdentityToken',
  'IDPRejectedClaim',
]);
const BAD_CREDENTIALS = new Set([
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'InvalidAccessKeyId',
  'MissingAuthenticationToken',
]);

export interface AwsCallInfo {
  rule: Rule;
  /** The call, as a person knows it: `ECR GetAuthorizationToken`. */
  call: string;
  /** The IAM action a denial names in its fix. */
  action: string;
  endpoint: string;
  /** Where the credentials came from. */
  from: string;
  secrets: readonly string[];
  /** The fix when the call is denied, if not "allow <action>" (a role's trust policy for STS). */
  deniedFix?: string;
}

/** An AWS API's refusal as the rule's error: expired credentials, a denied action, refused keys, or the code. */
export function awsFailure(info: AwsCallInfo, res: HttpResponse): CredmuxError {
  const err = awsErrorOf(res);
  const code = err?.code ?? '';
  const said = err?.message ? `: ${safeText(err.message, info.secrets)}` : '';
  // An AWS error code is a plain identifier (AccessDeniedException): shown only when it is one, and
  // then as it is (safeText would take a long one for a token).
  const shown = /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code) ? ` ${code}` : '';
  const head = `${info.call} at ${info.endpoint} failed (HTTP ${res.status}${shown}${said})`;
  if (EXPIRED.has(code)) {
    return sourceError(
      info.rule,
      `${head}; the AWS credentials from ${info.from} have expired; fix: renew them (a new session, aws sso login, fresh keys)`,
    );
  }
  if (DENIED.has(code)) {
    const fix = info.deniedFix ?? `allow ${info.action} in the IAM policy of that user or role`;
    return sourceError(info.rule, `${head}; the credentials from ${info.from} may not call it; fix: ${fix}`);
  }
  if (BAD_CREDENTIALS.has(code)) {
    return sourceError(
      info.rule,
      `${head}; AWS did not accept the credentials from ${info.from}; fix: check the access key, secret and session token there`,
    );
  }
  const retry = res.status >= 500 || res.status === 429 ? '; credmux keeps retrying with backoff' : '';
  return sourceError(info.rule, `${head}${retry}`);
}
