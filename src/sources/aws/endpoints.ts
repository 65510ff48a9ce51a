// Where each AWS API is called: the regional endpoint, unless the user points the SDKs elsewhere with
// AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL (the SDKs' service-specific endpoint variables,
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html), which
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns off.
import type { Env } from '../../platform/paths.js';
import { awsDomain } from './hosts.js';

export type AwsApi = 'ECR' | 'CODEARTIFACT' | 'STS';

/** The API's host label: api.ecr.<region>, codeartifact.<region>, sts.<region>. */
const PREFIX: Record<AwsApi, string> = { ECR: 'api.ecr', CODEARTIFACT: 'codeartifact', STS: 'sts' };

/** The base URL (no trailing slash) of `api` in `region`; STS without a region is the global endpoint. */
export function endpointFor(env: Env, api: AwsApi, region: string | undefined): string {
  if ((env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() !== 'true') {
    const configured = env[`AWS_ENDPOINT_URL_${api}`] || env.AWS_ENDPOINT_URL;
    if (configured) return configured.replace(/\/+$/, '');
  }
  if (region === undefined) return 'https://sts.amazonaws.com';
  return `https://${PREFIX[api]}.${region}.${awsDomain(region)}`;
}
