// The human CLI (yargs). Protocol forms (`credmux git get` …) never reach this module: src/bin/credmux.ts
// routes them to the lean protocol path first, so yargs is loaded only for people.
import yargs, { type Argv } from 'yargs';
import type { Env } from '../platform/paths.js';
import { CredmuxError } from '../model/types.js';
import { VERSION_AND_COMMIT } from './version.js';
import * as creds from './credentials.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { cliStdio } from './stdio.js';

const EPILOG = `Exit codes: 0 ok, 1 not found, 2 usage or bad input, 3 invalid config, 4 store error, 5 source error, 6 problems found (doctor, import), 75 another daemon runs, 70 internal error, 74 output could not be written, 141 the output pipe was closed (as git and coreutils).
Protocol entries: credmux bazel|git|docker|keyring|terraform|go|cargo|kubectl|kubelet <args> (same as credmux-bazel, git-credential-credmux, docker-credential-credmux, keyring, terraform-credentials-credmux, credmux-go, cargo-credential-credmux, credmux-kube, credmux-kubelet).`;

/** A URL the command checks itself, so that a missing one gets a message with the whole command to type. */
function optionalUrlArg(y: Argv) {
  return y.positional('url', { type: 'string', describe: 'URL or pattern, e.g. https://pkgs.example.com, 127.0.0.1:5000, *.example.com' });
}

function requireUrl(url: string | undefined, form: string): string {
  if (url === undefined) throw new CredmuxError('bad-request', `name the URL: credmux ${form}`);
  return url;
}

function urlArg(y: Argv) {
  return y.positional('url', {
    type: 'string',
    demandOption: true,
    describe: 'URL or pattern, e.g. https://pkgs.example.com, 127.0.0.1:5000, *.example.com',
  });
}

export async function main(argv: string[], env: Env): Promise<number> {
  const stdio = cliStdio();
  const io = stdio.io;
  const code = await commands(argv, env, io);
  return stdio.outcome() ?? code;
}

async function commands(argvIn: string[], env: Env, io: creds.Io): Promise<number> {
  let code: number = EXIT.ok;
  // `credmux exec … -- CMD …`: what follows `--` is CMD's, never parsed as our options (`-- npm --version`).
  let argv = argvIn;
  let command: string[] | undefined;
  if (argv[0] === 'exec' && argv.includes('--')) {
    command = argv.slice(argv.indexOf('--') + 1);
    argv = argv.slice(0, argv.indexOf('--'));
  }
  const run = (fn: () => Promise<number>) => async () => {
    code = await fn();
  };
  const parser = yargs(argv)
    .scriptName('credmux')
    .usage('credmux — one credential helper for Bazel, git, Docker and pip/uv\n\nUsage: $0 <command> [options]')
    .command(
      'login [url]',
      'Store a credential for a URL (password or token read from stdin or a hidden prompt)',
      (y) =>
        optionalUrlArg(y)
          .option('username', { alias: 'u', type: 'string', describe: 'Username (for a token: how Basic-only tools present it; default __token__)' })
          .option('password-stdin', { type: 'boolean', describe: 'Read the password from stdin (Basic credential)' })
          .option('token-stdin', { type: 'boolean', describe: 'Read a token from stdin (Bearer credential)' })
          // --oauth: the device flow (RFC 8628) for an oauth2 rule; the flags override or stand in for the rule's settings.
          .option('oauth', {
            type: 'boolean',
            describe: 'Sign in with OAuth (device flow) and store the refresh token the matching oauth2 rule uses',
          })
          .option('device-endpoint', {
            type: 'string',
            implies: 'oauth',
            describe: 'With --oauth: device authorization endpoint (default: from the rule)',
          })
          .option('token-endpoint', { type: 'string', implies: 'oauth', describe: 'With --oauth: token endpoint (default: from the rule)' })
          .option('client-id', { type: 'string', implies: 'oauth', describe: 'With --oauth: OAuth client id (default: from the rule)' })
          .option('scope', { type: 'string', implies: 'oauth', describe: 'With --oauth: scopes to ask for (default: from the rule)' })
          .option('allow-insecure-http', {
            type: 'boolean',
            implies: 'oauth',
            describe: 'With --oauth: allow plain http to a loopback endpoint (tests)',
          })
          .option('for', {
            type: 'string',
            array: true,
            describe:
              'The tools it is for, which `credmux setup` wires it into: bazel, git, docker, podman, skopeo, buildah, pip, uv, terraform, go, cargo, kubectl (comma-separated; default: every tool)',
          })
          .option('json', { type: 'boolean', describe: 'Machine-readable output (never the secret)' })
          .conflicts('oauth', ['password-stdin', 'token-stdin', 'username', 'for'])
          .example('echo "$PASS" | $0 login https://pkgs.example.com --username alice --password-stdin', '')
          .example('echo "$TOKEN" | $0 login "*.pkg.dev" --token-stdin --username oauth2accesstoken', '')
          .example('echo "$PASS" | $0 login registry.example.com --username alice --password-stdin --for docker', '')
          .example('$0 login https://git.example.com --oauth', ''),
      (a) =>
        run(() =>
          a.oauth
            ? creds.loginOAuth(
                env,
                io,
                {
                  url: requireUrl(a.url, 'login URL --oauth'),
                  deviceEndpoint: a.deviceEndpoint,
                  tokenEndpoint: a.tokenEndpoint,
                  clientId: a.clientId,
                  scope: a.scope,
                  allowInsecureHttp: a.allowInsecureHttp,
                },
                !!a.json,
              )
            : creds.login(env, io, {
                url: a.url,
                username: a.username,
                passwordStdin: a.passwordStdin,
                tokenStdin: a.tokenStdin,
                for: a.for,
                json: a.json,
              }),
        )(),
    )
    .command(
      'logout [url]',
      'Remove the stored credentials that answer a URL (or, with --all, every stored credential)',
      (y) =>
        optionalUrlArg(y)
          .option('username', { alias: 'u', type: 'string', describe: 'Only this user' })
          .option('all', { type: 'boolean', describe: 'Remove every stored credential (of --username, if given); asks first on a terminal' })
          .option('yes', { alias: 'y', type: 'boolean', describe: 'With --all: do not ask (needed without a terminal)' })
          .option('json', { type: 'boolean', describe: 'Machine-readable output' })
          .example('$0 logout https://pkgs.example.com', '')
          .example('$0 logout --all --yes', ''),
      (a) => run(() => creds.logout(env, io, { url: a.url, username: a.username, all: a.all, yes: a.yes, json: a.json }))(),
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
    .command(
      'token <url>',
      'Print the secret served for a URL alone, for tools that read one from a variable or a pipe (refuses a terminal)',
      (y) =>
        urlArg(y)
          .option('username', { alias: 'u', type: 'string', describe: 'Only the credential of this user' })
          .option('force-tty', { type: 'boolean', describe: 'Print it even when stdout is a terminal (it stays on screen)' })
          .example('NPM_TOKEN=$($0 token https://npm.example.com) docker buildx build --secret id=npm,env=NPM_TOKEN .', ''),
      (a) =>
        run(async () =>
          (await import('./token.js')).printToken(env, io, {
            url: a.url as string,
            username: a.username,
            forceTty: !!a.forceTty,
            stdoutIsTty: !!process.stdout.isTTY,
          }),
        )(),
    )
    .command(
      'exec',
      'Run a command with credentials in its environment (only there): credmux exec [--env NAME=URL …] -- CMD [ARGS…]; exits as CMD does',
      (y) =>
        y
          .option('env', { type: 'string', array: true, describe: 'NAME=URL: NAME holds the secret (password or token) served for URL' })
          .option('env-username', { type: 'string', array: true, describe: 'NAME=URL: NAME holds the username served for URL' })
          .option('npm', { type: 'string', describe: 'URL: NPM_TOKEN, for //host/:_authToken=${NPM_TOKEN} in .npmrc' })
          .option('terraform', { type: 'string', array: true, describe: 'HOST: TF_TOKEN_<host> (Terraform ≥ 1.2)' })
          .option('cargo', {
            type: 'string',
            array: true,
            describe: 'REGISTRY=URL: CARGO_REGISTRIES_<REGISTRY>_TOKEN (the whole Authorization value)',
          })
          .option('uv', { type: 'string', array: true, describe: 'INDEX=URL: UV_INDEX_<INDEX>_USERNAME and _PASSWORD' })
          .option('rule', {
            type: 'string',
            array: true,
            describe: 'Set the "exports" of these config rules (default, with no other flag: of every rule that has them)',
          })
          .example('$0 exec --terraform app.terraform.io -- terraform init', '')
          .example('$0 exec --npm https://npm.example.com -- npm publish', '')
          .example('$0 exec --uv internal=https://pypi.example.com/simple -- uv sync', '')
          .example('$0 exec --rule npm -- npm ci', ''),
      (a) =>
        run(async () => {
          if (command === undefined) throw new CredmuxError('bad-request', 'put the command after --: credmux exec --env NAME=URL -- CMD [ARGS…]');
          return (await import('./exec.js')).runExec(env, {
            env: a.env,
            envUsername: a.envUsername,
            npm: a.npm,
            terraform: a.terraform,
            cargo: a.cargo,
            uv: a.uv,
            rule: a.rule,
            command,
          });
        })(),
    )
    // setup / doctor / import (src/cli/setup, src/cli/doctor, src/cli/import): loaded when run.
    .command(
      'setup <tool>',
      "Wire credmux into a tool's own config: bazel (~/.bazelrc), git (global config), docker (config.json credHelpers), podman/skopeo/buildah (registries.conf.d), pip (pip.conf), uv (uv.toml), terraform (CLI config credentials_helper, for OpenTofu too), go (GOAUTH in go's env file), kubectl (a kubeconfig context, --context NAME)",
      (y) =>
        y
          .positional('tool', {
            choices: ['bazel', 'git', 'docker', 'podman', 'pip', 'uv', 'terraform', 'go', 'cargo', 'kubectl'] as const,
            demandOption: true,
            describe: 'The tool to wire (podman also wires skopeo and buildah; terraform also OpenTofu)',
          })
          .option('dry-run', { type: 'boolean', describe: 'Print what would change (a diff); write nothing' })
          .option('undo', { type: 'boolean', describe: 'Take credmux out again: the file comes back byte for byte' })
          .option('workspace', { type: 'string', describe: 'bazel: edit DIR/.bazelrc instead of ~/.bazelrc' })
          .option('unscoped', { type: 'boolean', describe: 'bazel: also add one unscoped helper (serves localhost and IP addresses)' })
          .option('context', {
            type: 'string',
            describe: 'kubectl: the kubeconfig context to wire (KUBECONFIG honoured); with --undo, the one to take out (default: all)',
          })
          .option('json', { type: 'boolean', describe: 'Machine-readable output' })
          .example('$0 setup git --dry-run', '')
          .example('$0 setup docker --undo', '')
          .example('$0 setup kubectl --context prod', ''),
      (a) =>
        run(async () =>
          (await import('./setup/index.js')).runSetup(env, io, a.tool, {
            dryRun: !!a.dryRun,
            undo: !!a.undo,
            workspace: a.workspace,
            unscoped: !!a.unscoped,
            json: !!a.json,
            ...(a.context !== undefined ? { context: a.context } : {}),
          }),
        )(),
    )
    .command(
      'doctor',
      "Check config, store, daemon, every tool's wiring and each rule's token, with the command that fixes each problem (exit 6: something is broken)",
      (y) => y.option('json', { type: 'boolean', describe: 'Machine-readable output' }),
      (a) => run(async () => (await import('./doctor/index.js')).runDoctor(env, io, { json: !!a.json }))(),
    )
    .command(
      'import [sources..]',
      'Copy credentials from netrc, docker, git, pypirc, uv or rattler files, or from the other secret store (store --from file|keychain), into the store (default: every file found; exit 6: conflicts or unreadable files)',
      (y) =>
        y
          .positional('sources', {
            choices: ['netrc', 'docker', 'git', 'pypirc', 'uv', 'rattler', 'store'] as const,
            array: true,
            describe: 'Which files to read, or store: the other secret store',
          })
          .option('from', {
            choices: ['file', 'keychain'] as const,
            describe: 'With store: the store to copy from (the file store, or the OS keychain)',
          })
          .option('dry-run', { type: 'boolean', describe: 'List what would be imported (never a secret); store nothing' })
          .option('json', { type: 'boolean', describe: 'Machine-readable output (never a secret)' })
          .check((a) => {
            const store = (a.sources ?? []).includes('store');
            if (store && (a.sources ?? []).length > 1)
              throw new Error('import store copies from the other secret store; run it on its own (credmux import store --from file|keychain)');
            if (store && !a.from) throw new Error('import store needs --from file or --from keychain: the store to copy from');
            if (!store && a.from) throw new Error('--from goes with import store');
            return true;
          })
          .example('$0 import --dry-run', '')
          .example('$0 import docker netrc', '')
          .example('$0 import store --from file --dry-run', ''),
      (a) =>
        run(async () =>
          a.from
            ? (await import('./import/store.js')).runStoreImport(env, io, { from: a.from, dryRun: !!a.dryRun, json: !!a.json })
            : (await import('./import/index.js')).runImport(env, io, {
                sources: a.sources as Exclude<NonNullable<typeof a.sources>[number], 'store'>[] | undefined,
                dryRun: !!a.dryRun,
                json: !!a.json,
              }),
        )(),
    )
    .command(
      'daemon <action>',
      'The per-user daemon that answers every helper from one token cache: run (foreground), start, stop, status',
      (y) =>
        y
          .positional('action', { choices: ['run', 'start', 'stop', 'status'] as const, demandOption: true })
          .option('json', { type: 'boolean', describe: 'status: machine-readable output' }),
      (a) => run(async () => (await import('./daemon.js')).runDaemonCommand(env, io, a.action, { json: !!a.json }))(),
    )
    .command('bazel', 'Speak the Bazel credential-helper protocol (same as credmux-bazel)')
    .command('git <operation>', 'Speak git-credential (same as git-credential-credmux)')
    .command('docker <action>', 'Speak the Docker credential-helper protocol (same as docker-credential-credmux)')
    .command('keyring', 'Speak the Python keyring CLI for pip/uv (same as the keyring entry)')
    .command('terraform <verb> <host>', 'Speak the Terraform/OpenTofu credentials helper protocol (same as terraform-credentials-credmux)')
    .command('go', 'Answer as a Go GOAUTH command (same as credmux-go)')
    .command('cargo', "Speak cargo's credential-provider protocol (same as cargo-credential-credmux)")
    .command('kubectl', 'Speak the kubectl exec credential plugin protocol (same as credmux-kube)')
    .command('kubelet', 'Speak the kubelet image credential provider protocol (same as credmux-kubelet)')
    // `credmux completion >> ~/.bashrc` (or ~/.zshrc): yargs answers the script's --get-yargs-completions calls.
    .completion('completion', 'Print a bash/zsh completion script: credmux completion >> ~/.bashrc')
    .demandCommand(1, 'Name a command; see --help')
    .strict()
    .version(VERSION_AND_COMMIT)
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
    if (e instanceof Error && e.name === 'NotServedError') {
      io.err(`credmux: ${e.message}\n`);
      return EXIT.notFound;
    }
    io.err(`credmux: internal error (${(e as Error)?.name ?? 'unknown'}); please report it\n`);
    return EXIT.internal;
  }
  return code;
}

class UsageError extends Error {}
