// The human CLI (yargs). Protocol forms (`credmux git get` …) never reach this module: src/bin/credmux.ts
// routes them to the lean protocol path first, so yargs is loaded only for people.
import yargs, { type Argv } from 'yargs';
import type { Env } from '../core/paths.js';
import { CredmuxError } from '../core/types.js';
import { VERSION } from '../core/version.js';
import * as creds from './credentials.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

const io: creds.Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

const EPILOG = `Exit codes: 0 ok, 1 not found, 2 usage or bad input, 3 invalid config, 4 store error, 5 source error, 70 internal error.
Protocol entries: credmux bazel|git|docker|keyring <args> (same as credmux-bazel, git-credential-credmux, docker-credential-credmux, keyring).`;

function urlArg(y: Argv) {
  return y.positional('url', { type: 'string', demandOption: true, describe: 'URL or pattern, e.g. https://pkgs.example.com, 127.0.0.1:5000, *.example.com' });
}

export async function main(argv: string[], env: Env): Promise<number> {
  let code: number = EXIT.ok;
  const run = (fn: () => Promise<number>) => async () => {
    code = await fn();
  };
  const parser = yargs(argv)
    .scriptName('credmux')
    .usage('credmux — one credential helper for Bazel, git, Docker and pip/uv\n\nUsage: $0 <command> [options]')
    .command(
      'login <url>',
      'Store a credential for a URL (password or token read from stdin or a hidden prompt)',
      (y) =>
        urlArg(y)
          .option('username', { alias: 'u', type: 'string', describe: 'Username (for a token: how Basic-only tools present it; default __token__)' })
          .option('password-stdin', { type: 'boolean', describe: 'Read the password from stdin (Basic credential)' })
          .option('token-stdin', { type: 'boolean', describe: 'Read a token from stdin (Bearer credential)' })
          .example('echo "$PASS" | $0 login https://pkgs.example.com --username alice --password-stdin', '')
          .example('echo "$TOKEN" | $0 login "*.pkg.dev" --token-stdin --username oauth2accesstoken', ''),
      (a) => run(() => creds.login(env, io, { url: a.url as string, username: a.username, passwordStdin: a.passwordStdin, tokenStdin: a.tokenStdin }))(),
    )
    .command(
      'logout <url>',
      'Remove the stored credentials that answer a URL',
      (y) => urlArg(y).option('username', { alias: 'u', type: 'string', describe: 'Only this user' }),
      (a) => run(() => creds.logout(env, io, { url: a.url as string, username: a.username }))(),
    )
    .command(
      'list',
      'Show the rules and the stored credentials (never a secret)',
      (y) => y.option('json', { type: 'boolean', describe: 'Machine-readable output' }),
      (a) => run(() => creds.list(env, io, { json: a.json }))(),
    )
    .command(
      'get <url>',
      'Show what would be served for a URL, and from which rule',
      (y) =>
        urlArg(y)
          .option('json', { type: 'boolean', describe: 'Machine-readable output' })
          .option('show-secret', { type: 'boolean', describe: 'Include the secret itself' }),
      (a) => run(() => creds.get(env, io, { url: a.url as string, json: a.json, showSecret: a.showSecret }))(),
    )
    .command('bazel', 'Speak the Bazel credential-helper protocol (same as credmux-bazel)')
    .command('git <operation>', 'Speak git-credential (same as git-credential-credmux)')
    .command('docker <action>', 'Speak the Docker credential-helper protocol (same as docker-credential-credmux)')
    .command('keyring', 'Speak the Python keyring CLI for pip/uv (same as the keyring entry)')
    .demandCommand(1, 'Name a command; see --help')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`credmux: ${e.message}\nRun 'credmux --help' for usage.\n`);
      return EXIT.usage;
    }
    if (e instanceof CredmuxError) {
      io.err(`credmux: ${e.message}\n`);
      return exitCodeFor(e.code);
    }
    io.err(`credmux: internal error (${(e as Error)?.name ?? 'unknown'}); please report it\n`);
    return EXIT.internal;
  }
  return code;
}

class UsageError extends Error {}
