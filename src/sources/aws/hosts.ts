// What an AWS host name says: the region of an ECR registry or an S3 endpoint, and the domain, owner
// and region of a CodeArtifact repository. Pure; the forms are AWS's documented endpoint names
// (https://docs.aws.amazon.com/general/latest/gr/ecr.html, …/codeartifact.html, …/s3.html and
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html).

const REGION = '[a-z]{2}(?:-[a-z0-9]+)+-\\d+';

/** `<account>.dkr.ecr.<region>.amazonaws.com` (also `dkr.ecr-fips`, and `.amazonaws.com.cn`). */
const ECR = new RegExp(`^\\d{12}\\.dkr\\.ecr(?:-fips)?\\.(${REGION})\\.amazonaws\\.com(?:\\.cn)?$`);

/** `<domain>-<owner>.d.codeartifact.<region>.amazonaws.com`: the owner is the 12-digit account. */
const CODEARTIFACT = new RegExp(`^([a-z][a-z0-9-]{0,48}[a-z0-9])-(\\d{12})\\.d\\.codeartifact\\.(${REGION})\\.amazonaws\\.com(?:\\.cn)?$`);

/**
 * `s3.<region>`, `s3-<region>` (legacy) and `s3.dualstack.<region>`, each with or without a leading
 * `<bucket>.`; `s3.amazonaws.com` and `<bucket>.s3.amazonaws.com` are us-east-1's global names.
 */
const S3_REGIONAL = new RegExp(`(?:^|\\.)s3(?:\\.dualstack)?[.-](${REGION})\\.amazonaws\\.com(?:\\.cn)?$`);
const S3_GLOBAL = /(?:^|\.)s3\.amazonaws\.com$/;

export function ecrRegion(host: string): string | undefined {
  return ECR.exec(host.toLowerCase())?.[1];
}

export interface CodeArtifactRepo {
  domain: string;
  owner: string;
  region: string;
}

export function codeArtifactRepo(host: string): CodeArtifactRepo | undefined {
  const m = CODEARTIFACT.exec(host.toLowerCase());
  return m ? { domain: m[1]!, owner: m[2]!, region: m[3]! } : undefined;
}

export function s3Region(host: string): string | undefined {
  const h = host.toLowerCase();
  const m = S3_REGIONAL.exec(h);
  if (m) return m[1];
  return S3_GLOBAL.test(h) ? 'us-east-1' : undefined;
}

/** AWS's own domain for a region: China's regions live under amazonaws.com.cn. */
export function awsDomain(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
}
