// The real test servers (git over smart HTTP, a Docker registry, a PEP 503 index), all behind Basic
// auth on 127.0.0.1. They live in scripts/servers so they can also be started by hand:
//   node scripts/servers/run.mjs git|registry|pypi [--user alice --password s3cret]
export {
  startGitServer,
  startRegistry,
  startPypiIndex,
  startCargoRegistry,
  type GitServer,
  type RegistryServer,
  type PypiIndex,
  type CargoRegistry,
  type CargoRequestLine,
  type AuthLogLine,
} from '../../scripts/servers/index.js';
