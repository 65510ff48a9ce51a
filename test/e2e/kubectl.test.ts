// Real kubectl (client-go's exec credential plugin, v1) running credmux-kube against an HTTPS API
// server stub on 127.0.0.1 that only answers a known bearer token. The kubeconfig trusts the stub's
// throwaway CA through certificate-authority, as a real cluster's kubeconfig does.
//
// Evidence is the stub's own record of the Authorization header it was sent, never kubectl's exit
// code alone.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { distBin, requireBuiltAndTools } from '../helpers/dist.js';
import { show } from '../helpers/run.js';
import { createSandbox, type Sandbox } from '../helpers/sandbox.js';
import { makeTestTls, type TestTls } from '../helpers/tls.js';

const TOKEN = 'kube-e2e-token-Qx7w';
const CONTEXT = 'stub';

let tls: TestTls;
let api: Server;
let server: string;
/** Every request the stub saw: path and Authorization header. */
const seen: { path: string; authorization: string | undefined }[] = [];
/** The tokens the stub accepts. */
const accepted = new Set<string>([TOKEN]);

beforeAll(async () => {
  requireBuiltAndTools(['kubectl', 'openssl']);
  tls = makeTestTls();
  api = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const authorization = req.headers.authorization;
    seen.push({ path: req.url ?? '', authorization });
    const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
    res.setHeader('content-type', 'application/json');
    if (token === undefined || !accepted.has(token)) {
      // metav1.Status as kube-apiserver answers an unauthenticated request
      // (kubernetes/apimachinery pkg/apis/meta/v1/types.go, Status; StatusReasonUnauthorized).
      res.statusCode = 401;
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'Unauthorized',
          reason: 'Unauthorized',
          code: 401,
        }),
      );
      return;
    }
    if (req.url === '/version') {
      // version.Info (kubernetes/apimachinery pkg/version/types.go), what GET /version returns.
      res.end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0-credmux-stub', platform: 'linux/amd64' }));
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  server = `https://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => api?.close(resolve));
});

let sb: Sandbox;
let kubeconfig: string;
let env: NodeJS.ProcessEnv;
/** A token the stub refuses: with no credential at all, kubectl would prompt for a password instead. */
const STALE = 'stale-token-the-stub-refuses';
const ORIGINAL = () => `# the person's kubeconfig: a cluster whose user's token is no longer accepted
apiVersion: v1
kind: Config
clusters:
- name: ${CONTEXT}
  cluster:
    server: ${server}
    certificate-authority: ${tls.caFile}
contexts:
- name: ${CONTEXT}
  context:
    cluster: ${CONTEXT}
    user: nobody
current-context: ${CONTEXT}
users:
- name: nobody
  user:
    token: ${STALE}
`;

beforeEach(async () => {
  sb = await createSandbox('kubectl');
  mkdirSync(join(sb.home, 'kube'));
  kubeconfig = join(sb.home, 'kube', 'config');
  writeFileSync(kubeconfig, ORIGINAL(), { mode: 0o600 });
  // KUBECONFIG names the file (setup honours it); kubectl's cache and kuberc stay in the test home.
  env = { ...sb.env, KUBECONFIG: kubeconfig };
  seen.length = 0;
});
afterEach(async () => {
  await sb.cleanup();
});

const kubectl = (args: string[] = ['get', '--raw', '/version']) => sb.run('kubectl', args, { env });
const bearersSeen = () => seen.filter((s) => s.path === '/version').map((s) => s.authorization);

describe('kubectl with credmux-kube', () => {
  it('fails with 401 without credmux, and succeeds once credmux setup kubectl wired the context', async () => {
    const anon = await kubectl();
    expect(anon.code, show(anon)).not.toBe(0);
    expect(anon.stderr).toMatch(/Unauthorized|provide credentials/);
    expect(bearersSeen()).toEqual([`Bearer ${STALE}`]);

    await sb.credmux(['login', server, '--token-stdin'], TOKEN);
    const setup = await sb.run(sb.bin('credmux'), ['setup', 'kubectl', '--context', CONTEXT], { env });
    expect(setup.code, show(setup)).toBe(0);
    expect(setup.stdout).toContain(`kubectl --context ${CONTEXT} now runs`);

    seen.length = 0;
    const ok = await kubectl();
    expect(ok.code, show(ok)).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ gitVersion: 'v1.32.0-credmux-stub' });
    expect(bearersSeen()).toEqual([`Bearer ${TOKEN}`]);

    // What kubectl itself reads back from the file setup wrote: a v1 exec user that never prompts.
    const view = await kubectl(['config', 'view', '--minify', '-o', 'json']);
    expect(view.code, show(view)).toBe(0);
    const user = JSON.parse(view.stdout).users[0];
    expect(user.name).toBe(`credmux-${CONTEXT}`);
    expect(user.user.exec).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: distBin('credmux-kube'),
      interactiveMode: 'Never',
      provideClusterInfo: true,
    });
    expect(readFileSync(kubeconfig, 'utf8')).not.toContain(TOKEN);

    // --undo gives the file back byte for byte, and kubectl is refused again.
    const undo = await sb.run(sb.bin('credmux'), ['setup', 'kubectl', '--undo'], { env });
    expect(undo.code, show(undo)).toBe(0);
    expect(readFileSync(kubeconfig, 'utf8')).toBe(ORIGINAL());
    seen.length = 0;
    const again = await kubectl();
    expect(again.code, show(again)).not.toBe(0);
    expect(bearersSeen()).toEqual([`Bearer ${STALE}`]);
  });

  it('a minted token reaches kubectl with expirationTimestamp; the plugin runs once per kubectl process', async () => {
    const minted = 'kube-minted-token-9fJ2';
    accepted.add(minted);
    // A token source with a known life: the command prints the token, ttlSeconds bounds it (docs/config.md).
    mkdirSync(join(sb.home, '.config', 'credmux'), { recursive: true });
    writeFileSync(
      join(sb.home, '.config', 'credmux', 'config.json'),
      JSON.stringify({ rules: [{ id: 'k8s', match: server, source: { type: 'command', command: ['printf', '%s', minted], ttlSeconds: 1800 } }] }),
    );
    // The kubeconfig runs credmux-kube through a recorder that keeps what kubectl handed it and what it answered.
    const record = join(sb.root, 'record');
    mkdirSync(record);
    const wrapper = join(sb.root, 'record-kube');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nprintf '%s' "$KUBERNETES_EXEC_INFO" > ${record}/info.$$\nout=$(${distBin('credmux-kube')} "$@")\nrc=$?\nprintf '%s\\n' "$out" > ${record}/answer.$$\nprintf '%s\\n' "$out"\nexit $rc\n`,
    );
    chmodSync(wrapper, 0o755);
    const setup = await sb.run(sb.bin('credmux'), ['setup', 'kubectl', '--context', CONTEXT], { env });
    expect(setup.code, show(setup)).toBe(0);
    writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace(distBin('credmux-kube'), wrapper));

    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 2; i++) {
      const r = await kubectl();
      expect(r.code, show(r)).toBe(0);
    }
    expect(bearersSeen()).toEqual([`Bearer ${minted}`, `Bearer ${minted}`]);

    const answers = readdirSync(record).filter((f) => f.startsWith('answer.'));
    expect(answers).toHaveLength(2); // client-go caches in memory only: every kubectl runs the plugin
    for (const f of answers) {
      const answer = JSON.parse(readFileSync(join(record, f), 'utf8'));
      expect(answer).toMatchObject({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: minted } });
      const expires = Date.parse(answer.status.expirationTimestamp) / 1000;
      expect(answer.status.expirationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(expires).toBeGreaterThan(before);
      expect(expires).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1800);
    }
    // What kubectl sent: v1, not interactive, the cluster's server (provideClusterInfo).
    for (const f of readdirSync(record).filter((n) => n.startsWith('info.'))) {
      const info = JSON.parse(readFileSync(join(record, f), 'utf8'));
      expect(info).toMatchObject({
        kind: 'ExecCredential',
        apiVersion: 'client.authentication.k8s.io/v1',
        spec: { interactive: false, cluster: { server } },
      });
    }
  });

  it("never prompts: with no credential kubectl fails at once with credmux's message, even with a terminal-like stdin left open", async () => {
    const setup = await sb.run(sb.bin('credmux'), ['setup', 'kubectl', '--context', CONTEXT], { env });
    expect(setup.code, show(setup)).toBe(0);
    expect(setup.stdout).toContain(`credmux has no credential for ${server}`);

    const r = await openStdin('kubectl', ['get', '--raw', '/version'], env);
    expect(r.killed, r.stderr).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`credmux has no credential for ${server}; store one with: credmux login ${server} --token-stdin`);
    expect(bearersSeen()).toEqual([]); // nothing was sent without a credential

    // The plugin alone, stdin an open pipe nobody writes to: it answers without reading it.
    const info = JSON.stringify({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1',
      spec: { interactive: true, cluster: { server } },
    });
    const direct = await openStdin(distBin('credmux-kube'), [], { ...env, KUBERNETES_EXEC_INFO: info });
    expect(direct.killed, direct.stderr).toBe(false);
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain('credmux has no credential for');
  });
});

/** Runs a command whose stdin is a pipe that stays open: a process that read it would wait until killed. */
function openStdin(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    let killed = false;
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      killed = true;
      p.kill('SIGKILL');
    }, 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      p.stdin!.destroy();
      resolve({ code, stderr, killed });
    });
  });
}
