// node:fs/promises, loaded on first use. Importing it at the top costs every process that loads the
// engine ~2 ms (it pulls in readline, file watchers and directory handles), and a helper resolving a
// stored secret in process reads with the synchronous API and needs none of it.
export function fsp(): typeof import('node:fs/promises') {
  return process.getBuiltinModule('node:fs/promises');
}
