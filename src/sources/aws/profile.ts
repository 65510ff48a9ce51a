// The AWS shared files: ~/.aws/credentials and ~/.aws/config (or AWS_SHARED_CREDENTIALS_FILE and
// AWS_CONFIG_FILE), read with the INI reader setup uses. A profile is `[name]` in the credentials
// file and `[profile name]` (or `[default]`) in the config file; a key in the credentials file wins
// (https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseIni } from '../../formats/ini.js';
import type { Env } from '../../platform/paths.js';

export interface AwsProfile {
  name: string;
  /** Lower-cased keys of both files, the credentials file's winning. */
  values: Record<string, string>;
  /** Where a key came from, for messages: the file that set aws_access_key_id, credential_process… */
  fileOf: Record<string, string>;
  /** Whether either file has a section for it. */
  found: boolean;
  files: { config: string; credentials: string };
}

export function profileName(env: Env, configured: string | undefined): string {
  return configured ?? (env.AWS_PROFILE || undefined) ?? (env.AWS_DEFAULT_PROFILE || undefined) ?? 'default';
}

function home(env: Env): string {
  return env.HOME ?? env.USERPROFILE ?? '';
}

export function awsFiles(env: Env): { config: string; credentials: string } {
  return {
    config: env.AWS_CONFIG_FILE || join(home(env), '.aws', 'config'),
    credentials: env.AWS_SHARED_CREDENTIALS_FILE || join(home(env), '.aws', 'credentials'),
  };
}

/**
 * A credential_process in these files runs as the user, so, as with credmux's own config, a file
 * another user could have written is refused (the fix is named): ssh's rule for its files.
 */
function untrusted(path: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (st.uid !== uid && st.uid !== 0) return `${path} belongs to uid ${st.uid}, not to you or root; fix: chown ${uid} ${path}`;
  if ((st.mode & 0o022) !== 0) return `${path} is writable by group or others; fix: chmod go-w ${path}`;
  return undefined;
}

function readSection(path: string, section: (name: string) => boolean): { values: Record<string, string>; found: boolean } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { values: {}, found: false };
    return { problem: `${path} could not be read (${code ?? 'error'})` };
  }
  const problem = untrusted(path);
  if (problem) return { problem };
  const doc = parseIni(text);
  const values: Record<string, string> = {};
  let found = doc.sections.some((s) => section(s.name));
  for (const e of doc.entries) if (e.section !== null && section(e.section)) values[e.key.toLowerCase()] = e.value;
  if (Object.keys(values).length > 0) found = true;
  return { values, found };
}

/** The profile's keys from both files; throws a plain Error with the reason a file was refused. */
export function readProfile(env: Env, name: string): AwsProfile {
  const files = awsFiles(env);
  const config = readSection(files.config, (s) => s === `profile ${name}` || (name === 'default' && s === 'default'));
  if ('problem' in config) throw new Error(config.problem);
  const creds = readSection(files.credentials, (s) => s === name);
  if ('problem' in creds) throw new Error(creds.problem);
  const fileOf: Record<string, string> = {};
  for (const k of Object.keys(config.values)) fileOf[k] = files.config;
  for (const k of Object.keys(creds.values)) fileOf[k] = files.credentials;
  return { name, values: { ...config.values, ...creds.values }, fileOf, found: config.found || creds.found, files };
}
