// credential_process: a program named in a profile prints the credentials as JSON Version 1
// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html):
// {"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}. Run without a
// shell (its line split into words), with no stdin, and killed with its children after the bound.
import type { Env } from '../../platform/paths.js';
import { runCommand } from '../command.js';
import { safeText } from '../errors.js';
import { isoSeconds, type AwsCredentials } from './credentials.js';
import { shellWords } from './shell-words.js';

export const PROCESS_TIMEOUT_MS = 30_000;

/** Throws a plain Error whose message is safe to show (no secret from the output). */
export async function processCredentials(line: string, env: Env, from: string): Promise<AwsCredentials> {
  const argv = shellWords(line.trim());
  if (!argv || argv.length === 0) throw new Error(`${from} is not a command line (an unclosed quote, or empty)`);
  const program = argv[0]!;
  let out;
  try {
    out = await runCommand(argv, env as NodeJS.ProcessEnv, PROCESS_TIMEOUT_MS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${from}: ${program} could not be started (${code ?? 'error'}); check the path in credential_process`, { cause: e });
  }
  if (out.timedOut) throw new Error(`${from}: ${program} did not finish within ${PROCESS_TIMEOUT_MS / 1000} s and was stopped`);
  if (out.tooLarge) throw new Error(`${from}: ${program} printed too much; refused`);
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(out.stdout);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  const secrets = body ? [body.SecretAccessKey, body.SessionToken].filter((s): s is string => typeof s === 'string') : [];
  if (out.code !== 0) {
    const first = safeText(out.stderr.split('\n').find((l) => l.trim() !== '') ?? '', secrets);
    throw new Error(`${from}: ${program} exited with ${out.code === null ? `signal ${out.signal}` : `code ${out.code}`}${first ? `: ${first}` : ''}`);
  }
  if (!body) throw new Error(`${from}: ${program} did not print a JSON object`);
  if (body.Version !== 1) throw new Error(`${from}: ${program} printed "Version": ${JSON.stringify(body.Version ?? null)}; only Version 1 is known`);
  if (typeof body.AccessKeyId !== 'string' || typeof body.SecretAccessKey !== 'string' || !body.AccessKeyId || !body.SecretAccessKey) {
    throw new Error(`${from}: ${program} printed no AccessKeyId and SecretAccessKey`);
  }
  const creds: AwsCredentials = { accessKeyId: body.AccessKeyId, secretAccessKey: body.SecretAccessKey, from };
  if (typeof body.SessionToken === 'string' && body.SessionToken) creds.sessionToken = body.SessionToken;
  const expiresAt = isoSeconds(body.Expiration);
  if (body.Expiration !== undefined && expiresAt === undefined)
    throw new Error(`${from}: ${program} printed an Expiration that is not an ISO 8601 time`);
  if (expiresAt !== undefined) creds.expiresAt = expiresAt;
  return creds;
}
