// The rules vocabulary: what a config file says (rules and their sources) and a rule ready for
// matching. Reading and validating the file is the engine's (src/engine/config.ts).
import type { Pattern } from './url.js';

export type SourceConfig =
  | { type: 'env'; var: string; usernameVar?: string }
  | { type: 'netrc'; file?: string }
  | ExchangeSourceConfig
  | OAuth2SourceConfig
  | OidcSourceConfig
  | CommandSourceConfig
  | AwsSourceConfig
  | AzureSourceConfig
  | GitHubAppSourceConfig
  | GoogleSourceConfig
  | VaultSourceConfig;

/** Where a secret a token source consumes comes from: the store (credmux login) or an env var. */
export type SecretRef = StoredRef | { env: string };
export interface StoredRef {
  /** URL or pattern it was stored under, e.g. https://api.pyx.dev (as given to `credmux login`). */
  stored: string;
  username?: string;
}

/** Shared by the sources that mint short-lived tokens (documented in the schema). */
export interface TokenSourceCommon {
  /** "jwt": refuse anything that is not a JWT (and read its exp); "any" (default): JWT exp when it is one. */
  expect?: 'jwt' | 'any';
  /** Upper bound on a token's life; the earliest of this, the JWT exp and expires_in wins. */
  ttlSeconds?: number;
  /** Plain http to loopback only (tests, local proxies). */
  allowInsecureHttp?: boolean;
}

/** A long-lived secret exchanged at an endpoint for a short-lived token (pyx API keys). */
export interface ExchangeSourceConfig extends TokenSourceCommon {
  type: 'exchange';
  endpoint: string;
  secret: SecretRef;
  /** bearer (default): `Authorization: Bearer <secret>`, empty POST; json/form: the secret in `secretField`. */
  style?: 'bearer' | 'json' | 'form';
  secretField?: string;
  /** Constant fields sent with it (json: any scalar; form: strings). */
  fields?: Record<string, string | number | boolean>;
  /** Field of the JSON answer holding the token (dotted path); default access_token, then token. */
  tokenField?: string;
}

/** OAuth 2.0 refresh-token grant (RFC 6749 §6); the first refresh token comes from `credmux login URL --oauth` (RFC 8628). */
export interface OAuth2SourceConfig extends TokenSourceCommon {
  type: 'oauth2';
  tokenEndpoint: string;
  deviceEndpoint?: string;
  clientId: string;
  clientSecret?: SecretRef;
  /** How a client secret is sent: basic (default, RFC 6749 §2.3.1) or post (in the form). */
  clientAuth?: 'basic' | 'post';
  scope?: string;
  audience?: string;
  /** Where the refresh token is kept; default: the rule's match, user __refresh_token__. */
  refreshToken?: StoredRef;
}

export type OidcIdentity =
  | { provider: 'github'; audience?: string }
  | { provider: 'gitlab'; var: string }
  | { provider: 'env'; var: string }
  | { provider: 'file'; path: string };

/** A CI identity token (OIDC) exchanged for a token: a mint endpoint, or RFC 8693 token exchange. */
export interface OidcSourceConfig extends TokenSourceCommon {
  type: 'oidc';
  identity: OidcIdentity;
  endpoint: string;
  /** mint (default): POST {"token": <jwt>} → {"token": …}; token-exchange: RFC 8693 form. */
  grant?: 'mint' | 'token-exchange';
  tokenField?: string;
  audience?: string;
  scope?: string;
  requestedTokenType?: string;
  clientId?: string;
}

/** A command (argv, no shell) that prints a token. */
export interface CommandSourceConfig {
  type: 'command';
  command: string[];
  timeoutSeconds?: number;
  /** Field of the JSON output holding the token (dotted path); default: the whole trimmed stdout. */
  jsonField?: string;
  expect?: 'jwt' | 'any';
  ttlSeconds?: number;
}

/**
 * AWS, signed with SigV4 from the standard credential chain: an ECR or CodeArtifact authorization
 * token, or (S3, Bazel only) a signature per request URL.
 */
export interface AwsSourceConfig {
  type: 'aws';
  service: 'ecr' | 'codeartifact' | 's3';
  /** The shared-config profile; default: AWS_PROFILE, then `default`. */
  profile?: string;
  /** Default: from the requested host, then AWS_REGION / AWS_DEFAULT_REGION / the profile's region. */
  region?: string;
  /** CodeArtifact: default from the host `<domain>-<owner>.d.codeartifact.<region>.amazonaws.com`. */
  domain?: string;
  domainOwner?: string;
  /** CodeArtifact token life: 0 (the credentials' own) or 900–43200; default 43200. */
  durationSeconds?: number;
  ttlSeconds?: number;
  /** Plain http to loopback endpoints (AWS_ENDPOINT_URL_* pointing at a local server). */
  allowInsecureHttp?: boolean;
}

/**
 * Microsoft Entra ID client credentials (a client secret, or workload identity's federated token file)
 * and what is made of the token: served as is (`entra`, `artifacts`) or exchanged for an Azure
 * Container Registry refresh token (`acr`). Unset ids come from AZURE_TENANT_ID / AZURE_CLIENT_ID.
 */
export interface AzureSourceConfig extends TokenSourceCommon {
  type: 'azure';
  /** entra (default): the Entra token for `scope`; acr: the registry's refresh token; artifacts: the Azure DevOps token. */
  service?: 'entra' | 'acr' | 'artifacts';
  tenantId?: string;
  clientId?: string;
  /** A client secret; without one, the federated token file (workload identity). */
  clientSecret?: SecretRef;
  /** Default $AZURE_FEDERATED_TOKEN_FILE. */
  federatedTokenFile?: string;
  /** e.g. https://management.azure.com/.default; required for entra, defaulted for acr and artifacts. */
  scope?: string;
  /** acr: the login server (myregistry.azurecr.io); default the rule's host. */
  registry?: string;
  /** Default $AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com. */
  authorityHost?: string;
}

/** Which installation of a GitHub App a token is for: its id, or found from a repository, org or user. */
export type GitHubAppInstallation = { id: number } | { repository: string } | { org: string } | { user: string };

/** GitHub App installation access tokens: an RS256 app JWT traded at POST /app/installations/{id}/access_tokens. */
export interface GitHubAppSourceConfig extends Omit<TokenSourceCommon, 'expect'> {
  type: 'github-app';
  /** The app's client ID (recommended by GitHub) or numeric app ID: the JWT's `iss`. */
  appId: string | number;
  /** The app's private key (PEM, or one line of base64 of the PEM for the store). */
  privateKey: SecretRef;
  installation: GitHubAppInstallation;
  /** Narrow the token to these repositories (names, in the installation's owner). */
  repositories?: string[];
  /** Narrow the token's permissions, e.g. {"contents": "read"}. */
  permissions?: Record<string, 'read' | 'write' | 'admin'>;
  /** REST API root; GitHub Enterprise Server: https://HOST/api/v3. Default https://api.github.com. */
  apiUrl?: string;
}

/** Google access tokens: a key JSON (service account, authorized user, external account), ADC, or the metadata server. */
export interface GoogleSourceConfig extends TokenSourceCommon {
  type: 'google';
  /** The credentials JSON (stored, in an env var, or a file), or "metadata"; absent: Application Default Credentials. */
  credentials?: SecretRef | { file: string } | 'metadata';
  /** Workload identity federation configured here instead of in a credentials file. */
  workloadIdentity?: GoogleWorkloadIdentity;
  /** OAuth scopes; default cloud-platform. */
  scopes?: string[];
}

/** The parts of an external_account credentials file, with the subject token from a CI identity. */
export interface GoogleWorkloadIdentity {
  /** //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/providers/PROVIDER */
  audience: string;
  identity: OidcIdentity;
  /** The service account to impersonate (generateAccessToken); absent: the federated token itself. */
  serviceAccount?: string;
  /** Default https://sts.googleapis.com/v1/token. */
  tokenUrl?: string;
  /** Default https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/<serviceAccount>:generateAccessToken. */
  impersonationUrl?: string;
}

/** How the vault source gets its Vault token (docs/config.md, "vault"). */
export type VaultAuth =
  /** A token: `token`, else $VAULT_TOKEN, else ~/.vault-token (as the vault CLI keeps it). */
  | { method: 'token'; token?: SecretRef }
  | { method: 'approle'; roleId: string | SecretRef; secretId?: SecretRef; mount?: string }
  /** The CI identity (as the oidc source takes it) at the JWT/OIDC auth method. */
  | { method: 'jwt'; role?: string; identity: OidcIdentity; mount?: string }
  /** The pod's service-account token at the Kubernetes auth method. */
  | { method: 'kubernetes'; role: string; tokenFile?: string; mount?: string }
  /** No token of ours: a Vault Agent (use_auto_auth_token) adds its own. */
  | { method: 'agent' };

/** HashiCorp Vault / OpenBao: log in, read a KV v2 secret or a (leased) dynamic one, serve one of its fields. */
export interface VaultSourceConfig extends TokenSourceCommon {
  type: 'vault';
  /** Default $VAULT_ADDR. */
  address?: string;
  /** Enterprise / OpenBao namespace (X-Vault-Namespace); default $VAULT_NAMESPACE. */
  namespace?: string;
  /** A Vault Agent's Unix socket listener: every call goes through it. `uid`: the agent's user, when neither you nor root. */
  agent?: { socket: string; uid?: number };
  /** Default: agent with `agent`, else token. */
  auth?: VaultAuth;
  /** A KV v2 secret: GET /v1/<mount>/data/<path>[?version=N]. */
  kv?: { mount: string; path: string; version?: number };
  /** Any other read (dynamic secrets such as database/creds/NAME, KV v1): GET /v1/<path>, or POST `params` when given. */
  path?: string;
  params?: Record<string, string | number | boolean>;
  /** The field of the secret's data served as the password or token. */
  field: string;
  /** The field served as the username (default: the rule's username). */
  usernameField?: string;
}

export interface RuleConfig {
  id?: string;
  match: string;
  username?: string;
  kind?: 'basic' | 'bearer';
  source: SourceConfig;
  /** `credmux exec`: environment variable → what of the served credential it holds (docs/config.md). */
  exports?: Record<string, 'secret' | 'username' | 'authorization'>;
}

export interface Config {
  rules: RuleConfig[];
}

/** A rule ready for matching: its pattern parsed once, its identity fixed. */
export interface Rule extends RuleConfig {
  id: string;
  pattern: Pattern;
}

export const EMPTY_CONFIG: Config = { rules: [] };
