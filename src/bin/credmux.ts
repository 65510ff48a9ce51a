// `credmux`: the protocol forms (`credmux bazel|git|docker|keyring|terraform|go|cargo …`) take the lean helper path;
// everything else loads the human CLI bundle (yargs) on demand. cargo runs a provider named in its
// config with only `--cargo-plugin` (its arguments travel inside the request), so a bare
// `credmux --cargo-plugin` is the cargo conversation too.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runConversation } from '../client/conversation.js';
import { runEntry } from '../client/run.js';
import { adapters } from '../protocols/index.js';

const [first, ...rest] = process.argv.slice(2);
const adapter = first !== undefined && Object.hasOwn(adapters, first) ? adapters[first as keyof typeof adapters] : undefined;

if (first === '--cargo-plugin') {
  void runConversation(adapters.cargo, [first, ...rest]);
} else if (adapter === adapters.cargo) {
  void runConversation(adapters.cargo, rest);
} else if (adapter) {
  void runEntry(adapter, rest);
} else {
  type CliModule = typeof import('../cli/main.js');
  // The constant condition lets esbuild drop the source-mode branch (and yargs with it) from this bundle.
  const load = async (): Promise<CliModule> => {
    if (typeof __CREDMUX_BUNDLED__ !== 'undefined') {
      return import(pathToFileURL(join(__dirname, '../lib/cli.mjs')).href) as Promise<CliModule>;
    } else {
      return import('../cli/main.js');
    }
  };
  void load()
    .then((cli) => cli.main(process.argv.slice(2), process.env))
    .then((code) => {
      process.exitCode = code;
    });
}
