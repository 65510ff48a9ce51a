// dist/lib/cli.cjs: the human CLI with yargs, loaded only when a person runs `credmux <command>`.
export { main } from '../cli/main.js';
