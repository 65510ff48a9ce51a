// The environment every end-to-end client runs in. ONE function, so a later change (the daemon)
// flips one line for the whole suite.
//
// It is built from an allow-list, not from process.env minus a deny-list: anything the machine
// exports (PIP_FIND_LINKS pointing at a local mirror, a REGISTRY_AUTH_FILE, GIT_ASKPASS, a proxy,
// NODE_OPTIONS…) could otherwise let a test pass without ever going through credmux.
import { join } from 'node:path';

/** Variables worth inheriting: where tools are, how text is encoded, where temp files go. */
const INHERITED = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'PYENV_ROOT'];

/**
 * @param home    a fresh temp dir; every XDG dir, DOCKER_CONFIG and auth file lives under it
 * @param binDir  put first on PATH: holds links named as the tools look helpers up
 *                (`docker-credential-credmux`, `keyring`, …); null leaves credmux off PATH
 */
export function isolatedEnv(home: string, binDir: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of INHERITED) if (process.env[k] !== undefined) env[k] = process.env[k];
  return {
    ...env,
    PATH: binDir ? `${binDir}:${process.env.PATH ?? ''}` : (process.env.PATH ?? ''),
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_RUNTIME_DIR: join(home, '.run'),

    // credmux: the file store (no keychain on a test machine), and no daemon yet.
    CREDMUX_STORE: 'file',
    CREDMUX_DAEMON: '0',

    // git: no system config, and a missing credential fails instead of prompting.
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',

    // docker CLI and skopeo: config and auth files only inside the test home.
    DOCKER_CONFIG: join(home, '.docker'),
    REGISTRY_AUTH_FILE: join(home, '.config', 'containers', 'auth.json'),

    // pip: no machine config (its find-links/extra-index-url would serve the package without
    // touching our authenticated index), no version check.
    PIP_CONFIG_FILE: '/dev/null',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PYTHONDONTWRITEBYTECODE: '1',

    // Loopback servers are reached directly even where a proxy is configured.
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
}
