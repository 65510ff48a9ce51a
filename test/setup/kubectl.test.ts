// `credmux setup kubectl --context NAME` on the BUILT binary: it edits the kubeconfig file that
// defines the context (KUBECONFIG's list honoured), and real kubectl reads back what it wrote
// (`kubectl config view`, which merges the files as kubectl does). A second run changes nothing,
// --dry-run writes nothing, --undo gives every byte back, one context or all.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { distBin, requireBuiltAndTools } from '../helpers/dist.js';
import { run, show } from '../helpers/run.js';
import { newHome, type Home } from './home.js';

// Two files in kubectl's own layout (what `kubectl config set-*` writes: lists flush with their key),
// plus a person's comments. Shapes: kubernetes/client-go tools/clientcmd/api/v1/types.go.
const DEV = `# dev clusters
apiVersion: v1
clusters:
- cluster:
    server: https://dev.k8s.example.test:6443
  name: dev
contexts:
- context:
    cluster: dev
    namespace: team-a # my namespace
    user: dev-admin
  name: dev
current-context: dev
kind: Config
preferences: {}
users:
- name: dev-admin
  user:
    token: dev-static-token
`;
const PROD = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUURE
    server: https://prod.k8s.example.test
  name: prod
contexts:
- context:
    cluster: prod
    user: prod-oidc
  name: prod
kind: Config
users:
- name: prod-oidc
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      interactiveMode: IfAvailable
`;

let h: Home;
let devFile: string;
let prodFile: string;
let env: NodeJS.ProcessEnv;
const helper = () => distBin('credmux-kube');

beforeAll(() => requireBuiltAndTools(['kubectl']));
beforeEach(async () => {
  h = await newHome('kubectl');
  mkdirSync(join(h.home, 'kube'));
  devFile = join(h.home, 'kube', 'dev.yaml');
  prodFile = join(h.home, 'kube', 'prod.yaml');
  writeFileSync(devFile, DEV, { mode: 0o600 });
  writeFileSync(prodFile, PROD, { mode: 0o600 });
  env = { ...h.env, KUBECONFIG: `${devFile}:${prodFile}` };
});
afterEach(async () => h.cleanup());

const setup = (...args: string[]) => h.credmux(['setup', 'kubectl', ...args], { env });
/** kubectl's merged view of one context: its user entry, as kubectl parsed it. */
async function viewUser(context: string): Promise<{ name: string; user: Record<string, unknown> }> {
  const r = await run('kubectl', ['config', 'view', '--context', context, '--minify', '-o', 'json'], { env });
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout).users[0];
}

describe('credmux setup kubectl', () => {
  it('wires the context in the file that defines it (KUBECONFIG), and kubectl reads a v1 exec user back', async () => {
    const dry = await setup('--context', 'prod', '--dry-run');
    expect(dry.code, show(dry)).toBe(0);
    expect(dry.stdout).toContain('+- name: credmux-prod');
    expect(readFileSync(prodFile, 'utf8')).toBe(PROD);

    const r = await setup('--context', 'prod');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('credmux has no credential for https://prod.k8s.example.test yet');
    expect(readFileSync(devFile, 'utf8')).toBe(DEV); // the other file is not touched
    const user = await viewUser('prod');
    expect(user.name).toBe('credmux-prod');
    expect(user.user.exec).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: helper(),
      args: null,
      env: null,
      interactiveMode: 'Never',
      provideClusterInfo: true,
      installHint: expect.stringContaining('credmux setup kubectl --context prod'),
    });
    // The old user is still there (another context may use it), and the rest of the file as it was.
    const text = readFileSync(prodFile, 'utf8');
    expect(text).toContain('- name: prod-oidc\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubelogin');
    expect(text.startsWith(PROD.slice(0, PROD.indexOf('contexts:')))).toBe(true);

    const again = await setup('--context', 'prod');
    expect(again.code, show(again)).toBe(0);
    expect(again.stdout).toContain('already set up, no change');
    expect(readFileSync(prodFile, 'utf8')).toBe(text);
  });

  it('keeps earlier contexts wired; --undo --context takes out one, --undo the rest, byte for byte', async () => {
    await h.login('https://dev.k8s.example.test:6443', 'dev', 'dev-secret-1');
    expect((await setup('--context', 'prod')).code).toBe(0);
    const dev = await setup('--context', 'dev');
    expect(dev.code, show(dev)).toBe(0);
    expect(dev.stdout).not.toContain('no credential for');
    expect(dev.stdout).toContain('it used the user "dev-admin"');
    expect((await viewUser('dev')).name).toBe('credmux-dev');
    expect((await viewUser('prod')).name).toBe('credmux-prod');
    // The person's comment on the edited context survives.
    expect(readFileSync(devFile, 'utf8')).toContain('namespace: team-a # my namespace');

    const one = await setup('--undo', '--context', 'prod');
    expect(one.code, show(one)).toBe(0);
    expect(readFileSync(prodFile, 'utf8')).toBe(PROD);
    expect((await viewUser('dev')).name).toBe('credmux-dev');

    const rest = await setup('--undo');
    expect(rest.code, show(rest)).toBe(0);
    expect(readFileSync(devFile, 'utf8')).toBe(DEV);
    expect(readFileSync(prodFile, 'utf8')).toBe(PROD);
  });

  it("undo after kubectl rewrote the file keeps the person's change and removes only credmux's part", async () => {
    expect((await setup('--context', 'dev')).code).toBe(0);
    // kubectl re-serializes the whole file when it changes anything.
    const use = await run('kubectl', ['config', 'set-context', 'dev', '--namespace', 'team-b'], { env });
    expect(use.code, show(use)).toBe(0);
    const undo = await setup('--undo');
    expect(undo.code, show(undo)).toBe(0);
    expect(undo.stdout).toContain('edited since setup');
    const after = readFileSync(devFile, 'utf8');
    expect(after).not.toContain('credmux');
    const ctx = await run('kubectl', ['config', 'view', '--context', 'dev', '--minify', '-o', 'json'], { env });
    const view = JSON.parse(ctx.stdout);
    expect(view.contexts[0].context).toMatchObject({ user: 'dev-admin', namespace: 'team-b' });
  });

  it('refuses what it cannot do, and changes nothing', async () => {
    const none = await setup('--context', 'staging');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no context named "staging"');
    expect(none.stderr).toContain('the contexts are: dev (current), prod');

    const unnamed = await setup();
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain('credmux setup kubectl --context NAME');

    // A same-named user in an earlier file would shadow credmux's: kubectl takes the first.
    writeFileSync(devFile, `${DEV}- name: credmux-prod\n  user:\n    token: other\n`);
    const shadowed = await setup('--context', 'prod');
    expect(shadowed.code).toBe(2);
    expect(shadowed.stderr).toContain('defines a user "credmux-prod"');
    expect(readFileSync(prodFile, 'utf8')).toBe(PROD);

    const wrongTool = await h.credmux(['setup', 'git', '--context', 'dev'], { env });
    expect(wrongTool.code).toBe(2);
    expect(wrongTool.stderr).toContain('--context applies to credmux setup kubectl only');
  });

  it('without KUBECONFIG it edits ~/.kube/config', async () => {
    const own = join(h.home, '.kube', 'config');
    mkdirSync(join(h.home, '.kube'));
    writeFileSync(own, DEV, { mode: 0o600 });
    const r = await h.credmux(['setup', 'kubectl', '--context', 'dev']);
    expect(r.code, show(r)).toBe(0);
    expect(readFileSync(own, 'utf8')).toContain(`command: ${helper()}`);
    expect((await h.credmux(['setup', 'kubectl', '--undo'])).code).toBe(0);
    expect(readFileSync(own, 'utf8')).toBe(DEV);
  });
});

describe('credmux doctor: kubectl', () => {
  type Check = { area: string; status: string; summary: string; details?: string[]; fix?: string };
  async function kubectlCheck(): Promise<{ code: number | null; check: Check }> {
    const r = await h.credmux(['doctor', '--json'], { env });
    const checks = JSON.parse(r.stdout).checks as Check[];
    return { code: r.code, check: checks.find((c) => c.area === 'kubectl')! };
  }

  it('not wired, wired and served, wired without a credential', async () => {
    expect((await kubectlCheck()).check).toMatchObject({ status: 'info', fix: 'credmux setup kubectl --context NAME' });

    expect((await setup('--context', 'prod')).code).toBe(0);
    const unserved = await kubectlCheck();
    expect(unserved.check.status).toBe('warn');
    expect(unserved.check.details!.join('\n')).toContain('credmux has no credential for https://prod.k8s.example.test');

    await h.login('https://prod.k8s.example.test', 'ops', 'prod-secret-1');
    const ok = await kubectlCheck();
    expect(ok.check).toMatchObject({ status: 'ok', summary: `context prod asks ${helper()} for a token` });
  });

  it('a plugin that cannot run, or is not told the server, is a problem (exit 6) with the fix', async () => {
    await h.login('https://prod.k8s.example.test', 'ops', 'prod-secret-1');
    expect((await setup('--context', 'prod')).code).toBe(0);
    const wired = readFileSync(prodFile, 'utf8');

    writeFileSync(prodFile, wired.replace(`command: ${helper()}`, 'command: /nonexistent/bin/credmux-kube'));
    const gone = await kubectlCheck();
    expect(gone.code).toBe(6);
    expect(gone.check.status).toBe('error');
    expect(gone.check.details!.join('\n')).toContain('/nonexistent/bin/credmux-kube does not exist or is not executable');
    expect(gone.check.fix).toContain('credmux setup kubectl --context NAME');

    writeFileSync(prodFile, wired.replace('provideClusterInfo: true', 'provideClusterInfo: false'));
    const blind = await kubectlCheck();
    expect(blind.check.status).toBe('error');
    expect(blind.check.details!.join('\n')).toContain('provideClusterInfo is not true');
  });
});
