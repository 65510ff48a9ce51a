// Web identity (EKS IRSA, CI OIDC): the token file's JWT traded at STS AssumeRoleWithWebIdentity — an
// unsigned Query-protocol call answered in XML
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html). The file is
// read again at every mint: the kubelet rotates it.
import { readFileSync } from 'node:fs';
import type { Rule } from '../../model/rule.js';
import { httpRequest } from '../../http/request.js';
import type { Env } from '../../platform/paths.js';
import { sourceError, transportError } from '../errors.js';
import { isoSeconds, type AwsCredentials } from './credentials.js';
import { endpointFor } from './endpoints.js';
import { awsFailure } from './errors.js';

export interface WebIdentity {
  roleArn: string;
  tokenFile: string;
  sessionName?: string;
}

function xml(text: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
}

export async function webIdentityCredentials(
  rule: Rule,
  wi: WebIdentity,
  env: Env,
  region: string | undefined,
  insecure: boolean | undefined,
): Promise<AwsCredentials> {
  let token: string;
  try {
    token = readFileSync(wi.tokenFile, 'utf8').trim();
  } catch (e) {
    throw sourceError(
      rule,
      `the web identity token file ${wi.tokenFile} could not be read (${(e as NodeJS.ErrnoException).code ?? 'error'}); fix: check AWS_WEB_IDENTITY_TOKEN_FILE (on EKS, the pod's service account annotation)`,
    );
  }
  if (token === '') throw sourceError(rule, `the web identity token file ${wi.tokenFile} is empty`);
  const base = endpointFor(env, 'STS', region);
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: wi.roleArn,
    RoleSessionName: wi.sessionName || `credmux-${Date.now()}`,
    WebIdentityToken: token,
  });
  const endpoint = `${base}/`;
  let res;
  try {
    res = await httpRequest({
      url: endpoint,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'text/xml' },
      body: form.toString(),
      allowInsecureHttp: insecure,
      env,
    });
  } catch (e) {
    throw transportError(rule, e, 'STS AssumeRoleWithWebIdentity');
  }
  const from = `web identity token ${wi.tokenFile} for role ${wi.roleArn}`;
  if (res.status !== 200) {
    // A denial here is the role's trust policy, not a permission of the caller.
    const deniedFix = `check that role ${wi.roleArn} trusts this identity (its trust policy's federated provider, audience and subject)`;
    throw awsFailure(
      { rule, call: 'STS AssumeRoleWithWebIdentity', action: 'sts:AssumeRoleWithWebIdentity', endpoint, from, secrets: [token], deniedFix },
      res,
    );
  }
  const accessKeyId = xml(res.text, 'AccessKeyId');
  const secretAccessKey = xml(res.text, 'SecretAccessKey');
  if (!accessKeyId || !secretAccessKey) throw sourceError(rule, `STS AssumeRoleWithWebIdentity at ${endpoint} answered without credentials`);
  const creds: AwsCredentials = { accessKeyId, secretAccessKey, from };
  const sessionToken = xml(res.text, 'SessionToken');
  if (sessionToken) creds.sessionToken = sessionToken;
  const exp = isoSeconds(xml(res.text, 'Expiration'));
  if (exp !== undefined) creds.expiresAt = exp;
  return creds;
}
