// Real pip calling credmux's `keyring` entry (found on PATH) against a PEP 503 index behind Basic
// auth: the machine's pip 23.2 (`keyring get URL USER`, needs the username in the index URL) and
// pip 26.2.1 in a venv (`keyring --mode=creds --output=json get URL`, no username needed).
//
// Trap: the machine's pip config points at a local mirror. The isolated env sets
// PIP_CONFIG_FILE=/dev/null and drops PIP_FIND_LINKS etc., and every success is checked against
// the index's log (alice, 200) and the wheel's bytes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run as runPlain } from '../../scripts/servers/process.js';
import { requireBuiltAndTools } from '../helpers/dist.js';
import { markLog, summary } from '../helpers/logs.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startPypiIndex, type AuthLogLine, type PypiIndex } from '../helpers/servers.js';

const USER = 'alice';
const PASSWORD = 'pw-pip-Tq4u';
const PIP_NEW = '26.2.1';

let index: PypiIndex;
let sb: Sandbox;
/** The machine's python3 (resolved once, so pyenv shims play no part). */
let machinePython: string;
let venvDir: string;
let venvPython: string;

/**
 * A venv holding pip 26.2.1, from the machine's configured wheel mirror: created WITHOUT pip, then
 * the machine's pip installs pip into it (`--python`), under the machine's own environment and
 * config — never the isolated one, and never our authenticated index. `--retries 0`: where the
 * default index is unreachable, fail over to the mirror at once instead of backing off.
 */
async function makePipVenv(): Promise<void> {
  venvDir = await mkdtemp(join(tmpdir(), 'credmux-pip26-'));
  await runPlain(machinePython, ['-m', 'venv', '--without-pip', venvDir]);
  venvPython = join(venvDir, 'bin', 'python');
  await runPlain(machinePython, [
    '-m',
    'pip',
    '--python',
    venvPython,
    'install',
    '-q',
    '--retries',
    '0',
    '--disable-pip-version-check',
    `pip==${PIP_NEW}`,
  ]);
}

beforeAll(async () => {
  requireBuiltAndTools(['python3', 'nginx', 'htpasswd']);
  machinePython = (await runPlain('python3', ['-c', 'import sys; print(sys.executable)'])).trim();
  [index] = await Promise.all([startPypiIndex({ user: USER, password: PASSWORD }), makePipVenv()]);
}, 120_000);
afterAll(async () => {
  await index?.stop();
  if (venvDir) await rm(venvDir, { recursive: true, force: true });
});
beforeEach(async () => {
  sb = await createSandbox('pip');
});
afterEach(async () => {
  await sb.cleanup();
});

/** `pip download` of the probe wheel from our index only; keyring via subprocess, never a prompt. */
function pipDownload(python: string, indexUrl: string, provider = 'subprocess') {
  return sb.run(
    python,
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--no-cache-dir',
      '--no-input',
      '--disable-pip-version-check',
      '--keyring-provider',
      provider,
      '--index-url',
      indexUrl,
      '-d',
      join(sb.root, 'dl'),
      `${index.project}==${index.version}`,
    ],
    { timeoutMs: 60_000 },
  );
}

const aliceGotWheel = (l: AuthLogLine[]) => l.some((x) => x.uri.endsWith('.whl') && x.status === 200 && x.user === USER);

function expectWheelDownloaded() {
  const bytes = readFileSync(join(sb.root, 'dl', index.wheelFilename));
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(index.wheelSha256);
}

describe(`machine pip (23.x): keyring get <index-url> <user>`, () => {
  it('is the pip we mean to test', async () => {
    const v = await sb.run(machinePython, ['-m', 'pip', '--version']);
    expect(v.stdout).toMatch(/^pip 23\./);
  });

  it('downloads through credmux with the username in the index URL; fails with nothing stored or keyring disabled', async () => {
    const url = index.indexUrlFor(USER);

    // Negative control 1: nothing stored → keyring answers nothing → 401.
    const m0 = await markLog(index);
    const denied = await pipDownload(machinePython, url);
    expect(denied.code, show(denied)).not.toBe(0);
    const deniedLog = await m0.lines((l) => l.some((x) => x.status === 401));
    expect(
      deniedLog.filter((x) => x.status === 200),
      summary(deniedLog).join('\n'),
    ).toEqual([]);

    await sb.login(index.indexUrl, USER, PASSWORD);

    // Negative control 2: stored, but pip told not to ask keyring → still 401.
    const disabled = await pipDownload(machinePython, url, 'disabled');
    expect(disabled.code, show(disabled)).not.toBe(0);

    const m1 = await markLog(index);
    const ok = await pipDownload(machinePython, url);
    expect(ok.code, show(ok)).toBe(0);
    expectWheelDownloaded();
    const lines = await m1.lines(aliceGotWheel);
    expect(aliceGotWheel(lines), summary(lines).join('\n')).toBe(true);
    expect(lines.some((x) => x.uri === `/simple/${index.project}/` && x.status === 200 && x.user === USER)).toBe(true);
  });
});

describe(`pip ${PIP_NEW} in a venv: keyring --mode=creds --output=json get <index-url>`, () => {
  it('is the pip we mean to test', async () => {
    const v = await sb.run(venvPython, ['-m', 'pip', '--version']);
    expect(v.stdout).toMatch(new RegExp(`^pip ${PIP_NEW.replace(/\./g, '\\.')} `));
  });

  it('downloads through credmux with NO username in the index URL; fails with nothing stored', async () => {
    const denied = await pipDownload(venvPython, index.indexUrl);
    expect(denied.code, show(denied)).not.toBe(0);
    // pip ≥ 26.2 rejects a keyring that cannot do --mode=creds as outdated: credmux must not be one.
    expect(denied.stderr).not.toMatch(/Keyring util is outdated|Keyring is skipped due to an exception/);

    await sb.login(index.indexUrl, USER, PASSWORD);

    const mark = await markLog(index);
    const ok = await pipDownload(venvPython, index.indexUrl);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stderr).not.toMatch(/Keyring is skipped/);
    expectWheelDownloaded();
    const lines = await mark.lines(aliceGotWheel);
    expect(aliceGotWheel(lines), summary(lines).join('\n')).toBe(true);
  });
});
