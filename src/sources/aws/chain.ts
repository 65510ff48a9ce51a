// The standard credential chain, in the order of the AWS SDK for JavaScript v3's defaultProvider
// (aws/aws-sdk-js-v3 packages/credential-provider-node/src/defaultProvider.ts), less the parts named
// in docs/config.md as not supported (SSO, role chaining, the container endpoint):
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), unless a profile is named;
//   2. the profile in the shared files: static keys, else its credential_process, else its
//      web_identity_token_file + role_arn;
//   3. AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS IRSA);
//   4. the EC2 instance metadata service (IMDSv2), unless AWS_EC2_METADATA_DISABLED=true.
import type { Rule } from '../../model/rule.js';
import type { Env } from '../../platform/paths.js';
import { sourceError } from '../errors.js';
import { isoSeconds, type AwsCredentials } from './credentials.js';
import { imdsCredentials, imdsDisabled, imdsEndpoint } from './imds.js';
import { processCredentials } from './process.js';
import { profileName, readProfile, type AwsProfile } from './profile.js';
import { webIdentityCredentials } from './web-identity.js';

export interface ChainInput {
  rule: Rule;
  env: Env;
  /** The rule's profile, if it names one. */
  profile?: string;
  /** For STS (web identity): the rule's region or the caller's. */
  region?: string;
  allowInsecureHttp?: boolean;
}

/** The region from the environment, then the profile (AWS_REGION, AWS_DEFAULT_REGION, `region =`). */
export function envRegion(env: Env, profile: string | undefined): string | undefined {
  const fromEnv = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (fromEnv) return fromEnv;
  try {
    return readProfile(env, profileName(env, profile)).values.region || undefined;
  } catch {
    return undefined;
  }
}

function fromEnv(env: Env): AwsCredentials | undefined {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (!id || !secret) return undefined;
  const c: AwsCredentials = { accessKeyId: id, secretAccessKey: secret, from: 'environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY' };
  if (env.AWS_SESSION_TOKEN) c.sessionToken = env.AWS_SESSION_TOKEN;
  const exp = isoSeconds(env.AWS_CREDENTIAL_EXPIRATION);
  if (exp !== undefined) c.expiresAt = exp;
  return c;
}

async function fromProfile(input: ChainInput, p: AwsProfile): Promise<AwsCredentials | undefined> {
  const v = p.values;
  const where = (key: string) => `profile "${p.name}" in ${p.fileOf[key]}`;
  if (v.aws_access_key_id && v.aws_secret_access_key) {
    const c: AwsCredentials = { accessKeyId: v.aws_access_key_id, secretAccessKey: v.aws_secret_access_key, from: where('aws_access_key_id') };
    if (v.aws_session_token) c.sessionToken = v.aws_session_token;
    return c;
  }
  if (v.credential_process) {
    try {
      return await processCredentials(v.credential_process, input.env, `credential_process of ${where('credential_process')}`);
    } catch (e) {
      throw sourceError(input.rule, (e as Error).message);
    }
  }
  if (v.web_identity_token_file && v.role_arn) {
    const wi = { roleArn: v.role_arn, tokenFile: v.web_identity_token_file, sessionName: v.role_session_name };
    return webIdentityCredentials(input.rule, wi, input.env, input.region, input.allowInsecureHttp);
  }
  if (v.role_arn || v.sso_session || v.sso_start_url) {
    const what = v.role_arn ? 'role_arn with source_profile (role chaining)' : 'AWS IAM Identity Center (sso_*)';
    throw sourceError(
      input.rule,
      `${where(v.role_arn ? 'role_arn' : v.sso_session ? 'sso_session' : 'sso_start_url')} uses ${what}, which credmux does not resolve itself; fix: give the rule a profile with credential_process = aws configure export-credentials --profile ${p.name} --format process`,
    );
  }
  return undefined;
}

/** The first credentials the chain finds; a source error saying what was tried when none. */
export async function resolveCredentials(input: ChainInput): Promise<AwsCredentials> {
  const { env, rule } = input;
  const named = input.profile ?? (env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || undefined);
  if (named === undefined) {
    const e = fromEnv(env);
    if (e) return e;
    if (env.AWS_ACCESS_KEY_ID && !env.AWS_SECRET_ACCESS_KEY) {
      throw sourceError(rule, 'AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; fix: set both, or neither');
    }
  }
  const name = profileName(env, input.profile);
  let profile: AwsProfile;
  try {
    profile = readProfile(env, name);
  } catch (e) {
    throw sourceError(rule, `the AWS shared config was refused: ${(e as Error).message}`);
  }
  const found = await fromProfile(input, profile);
  if (found) return found;
  if (named !== undefined && !profile.found) {
    throw sourceError(
      rule,
      `AWS profile "${name}" is in neither ${profile.files.credentials} nor ${profile.files.config}; fix: aws configure --profile ${name}, or name another profile`,
    );
  }
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) {
    const wi = { roleArn: env.AWS_ROLE_ARN, tokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE, sessionName: env.AWS_ROLE_SESSION_NAME };
    return webIdentityCredentials(rule, wi, env, input.region, input.allowInsecureHttp);
  }
  const tried = `environment variables, profile "${name}" in ${profile.files.credentials} and ${profile.files.config}, AWS_WEB_IDENTITY_TOKEN_FILE`;
  const fix = 'fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run aws configure, or run where a role is attached';
  if (imdsDisabled(env))
    throw sourceError(rule, `no AWS credentials found (tried ${tried}; instance metadata is off by AWS_EC2_METADATA_DISABLED); ${fix}`);
  try {
    return await imdsCredentials(env);
  } catch (e) {
    throw sourceError(
      rule,
      `no AWS credentials found (tried ${tried}, and the instance metadata service at ${imdsEndpoint(env)}: ${(e as Error).message}); ${fix}`,
    );
  }
}
