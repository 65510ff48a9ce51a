// The real servers the end-to-end tests drive real clients against. Each starter returns a running
// server on 127.0.0.1 plus its request log and a `stop()`; every server also stops by itself when
// the process that started it dies (supervise.sh).
export { startGitServer, type GitServer } from './git-server.js';
export { startRegistry, type RegistryServer } from './registry.js';
export { startPypiIndex, type PypiIndex } from './pypi-index.js';
export { startCargoRegistry, type CargoRegistry, type CargoRequestLine } from './cargo-registry.js';
export type { AuthLogLine } from './nginx.js';
