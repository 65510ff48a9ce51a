// The commit a build is made from, for `credmux --version`: `<12 hex digits>`, with `-dirty` when
// tracked files differ from it. A source tree without git (a tarball, a machine without the git
// command) still builds: then there is no commit to name, and the answer is ''.
import { spawnSync } from 'node:child_process';

/** @param {string} root @param {NodeJS.ProcessEnv} [env] @returns {string} */
export function buildCommit(root, env = process.env) {
  const git = (args) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', env, timeout: 10_000 });
  const head = git(['rev-parse', '--short=12', 'HEAD']);
  if (head.error || head.status !== 0) return '';
  const hash = head.stdout.trim();
  if (!/^[0-9a-f]{7,40}$/.test(hash)) return '';
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  const dirty = !status.error && status.status === 0 && status.stdout.trim() !== '';
  return `${hash}${dirty ? '-dirty' : ''}`;
}
