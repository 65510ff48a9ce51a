// `credmux setup kubectl --context NAME`: points a kubeconfig context at a user of credmux's own,
// `credmux-<context>`, whose exec section runs credmux-kube (docs/protocols.md §11). The context's old
// user entry is left as it was (other contexts may share it) and comes back on --undo.
//
// kubectl reads the files in KUBECONFIG (colon-separated), else ~/.kube/config, and for each context
// or user name the FIRST file that defines it wins (client-go tools/clientcmd loader.go). So the
// user goes into the file that defines the context, and a same-named user in an earlier file (which
// would shadow ours) is refused. The YAML is edited in place with the `yaml` library, so comments and
// the rest of the file stay; `kubectl config set-credentials` cannot write interactiveMode or
// provideClusterInfo (kubernetes/kubectl#1521), which v1 needs.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { matches } from '../../model/match.js';
import { CredmuxError } from '../../model/types.js';
import { parseRequest, redactUrl } from '../../model/url.js';
import type { Env } from '../../platform/paths.js';
import { helperPath } from './common.js';
import { collectTargets } from './targets.js';
import { recordedOwned, type FileSpec } from './transaction.js';
import type { SetupOptions, ToolPlan } from './types.js';

export const KUBE_HELPER = 'credmux-kube';
export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';
/** The user setup adds for a context. */
export const userFor = (context: string): string => `credmux-${context}`;

/** The kubeconfig files kubectl reads, first wins: KUBECONFIG's list (empty entries and repeats dropped), else ~/.kube/config. */
export function kubeconfigFiles(env: Env): string[] {
  const fromEnv = (env.KUBECONFIG ?? '')
    .split(':')
    .filter((f) => f !== '')
    .map((f) => resolve(f));
  if (fromEnv.length) return [...new Set(fromEnv)];
  return [join(env.HOME || homedir(), '.kube', 'config')];
}

/** One named entry of a kubeconfig list (`contexts`, `users`, `clusters`), as plain data. */
interface Named {
  name: string;
  value: Record<string, unknown>;
}

/** What one kubeconfig file says, as plain data; null when the file does not exist (kubectl skips it). */
export interface KubeconfigFile {
  path: string;
  contexts: Named[];
  users: Named[];
  clusters: Named[];
  currentContext?: string;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CredmuxError('bad-request', `cannot read ${path}: ${(e as Error).message}`);
  }
}

function parse(text: string, path: string): Document {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    // The parser's message quotes no file content past a line/column: safe to pass on (a kubeconfig holds tokens).
    throw new CredmuxError('bad-request', `${path} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); kubectl cannot read it either`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) throw new CredmuxError('bad-request', `${path} is not a kubeconfig (not a YAML mapping)`);
  return doc;
}

function namedList(doc: Document, key: string, inner: string): Named[] {
  const js = doc.toJS() as Record<string, unknown> | null;
  const list = js?.[key];
  if (!Array.isArray(list)) return [];
  return list
    .filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && typeof (x as { name?: unknown }).name === 'string')
    .map((x) => ({ name: x.name as string, value: (typeof x[inner] === 'object' && x[inner] !== null ? x[inner] : {}) as Record<string, unknown> }));
}

export function readKubeconfig(path: string): KubeconfigFile | null {
  const text = readText(path);
  if (text === null) return null;
  const doc = parse(text, path);
  const current = (doc.toJS() as Record<string, unknown> | null)?.['current-context'];
  return {
    path,
    contexts: namedList(doc, 'contexts', 'context'),
    users: namedList(doc, 'users', 'user'),
    clusters: namedList(doc, 'clusters', 'cluster'),
    ...(typeof current === 'string' && current !== '' ? { currentContext: current } : {}),
  };
}

/** The merged view kubectl has: for each name, the first file's entry, and which file it came from. */
export function mergedKubeconfig(env: Env) {
  const files = kubeconfigFiles(env)
    .map(readKubeconfig)
    .filter((f): f is KubeconfigFile => f !== null);
  const first = (kind: 'contexts' | 'users' | 'clusters', name: string) => {
    for (const f of files) {
      const hit = f[kind].find((n) => n.name === name);
      if (hit) return { file: f.path, value: hit.value };
    }
    return undefined;
  };
  const contextNames = [...new Set(files.flatMap((f) => f.contexts.map((c) => c.name)))];
  const currentContext = files.find((f) => f.currentContext)?.currentContext;
  return { files, first, contextNames, currentContext };
}

/** The exec section credmux-kube runs with: v1, never interactive, and the cluster's server in KUBERNETES_EXEC_INFO. */
function execSection(env: Env, context: string) {
  return {
    apiVersion: EXEC_API_VERSION,
    command: helperPath(env, KUBE_HELPER),
    interactiveMode: 'Never',
    provideClusterInfo: true,
    installHint: `${KUBE_HELPER} is credmux's kubectl plugin: install credmux, then run credmux setup kubectl --context ${context}`,
  };
}

/** What setup did to one context, so --undo (or a later run) can take it out again. */
interface WiredContext {
  context: string;
  user: string;
  /** The context's user before (null: it named none). */
  previousUser: string | null;
}
interface Owned {
  contexts: WiredContext[];
  createdUsers: boolean;
}

/** Is this `users` item one setup wrote (by name, and it runs credmux-kube)? */
function isOurUser(item: unknown, name: string): boolean {
  if (!isMap(item) || item.get('name') !== name) return false;
  const command = item.getIn(['user', 'exec', 'command']);
  return typeof command === 'string' && basename(command) === KUBE_HELPER;
}

function contextMap(doc: Document, name: string): YAMLMap | undefined {
  const list = doc.get('contexts');
  if (!isSeq(list)) return undefined;
  const item = list.items.find((i) => isMap(i) && i.get('name') === name);
  const ctx = isMap(item) ? item.get('context') : undefined;
  return isMap(ctx) ? ctx : undefined;
}

/** kubectl writes `- name:` flush with its key; keep a file's own style when it indents lists. */
function render(doc: Document, like: string): string {
  const indentSeq = /^[A-Za-z][\w-]*:[ \t]*\r?\n[ \t]+-[ \t]/m.test(like);
  return doc.toString({ indentSeq, lineWidth: 0 });
}

/** The kubeconfig text with each context pointed at credmux's user for it. */
function wire(env: Env, base: string, path: string, contexts: readonly string[]): { content: string; owned: Owned } {
  const doc = parse(base, path);
  const owned: Owned = { contexts: [], createdUsers: false };
  for (const context of contexts) {
    const ctx = contextMap(doc, context);
    if (!ctx) continue; // removed from the file since: nothing left to wire
    const user = userFor(context);
    let users = doc.get('users');
    if (users === undefined || users === null) {
      users = doc.createNode([]) as YAMLSeq;
      doc.set('users', users);
      owned.createdUsers = true;
    }
    if (!isSeq(users)) throw new CredmuxError('bad-request', `${path}: "users" is not a list; fix it first`);
    if (users.items.some((i) => isMap(i) && i.get('name') === user)) {
      throw new CredmuxError('bad-request', `${path} already has a user named ${JSON.stringify(user)}; rename or remove it, then run setup again`);
    }
    users.add(doc.createNode({ name: user, user: { exec: execSection(env, context) } }));
    const previous = ctx.get('user');
    owned.contexts.push({ context, user, previousUser: typeof previous === 'string' ? previous : null });
    ctx.set('user', user);
  }
  if (owned.contexts.length === 0) return { content: base, owned };
  return { content: render(doc, base), owned };
}

/** The text with credmux's part taken out: its users removed, each context's user as it was. */
function unwire(current: string, path: string, owned: Owned): string {
  let doc: Document;
  try {
    doc = parse(current, path);
  } catch {
    return current; // not ours to repair
  }
  let changed = false;
  for (const w of owned.contexts) {
    const ctx = contextMap(doc, w.context);
    if (ctx && ctx.get('user') === w.user) {
      if (w.previousUser === null) ctx.delete('user');
      else ctx.set('user', w.previousUser);
      changed = true;
    }
    const users = doc.get('users');
    if (isSeq(users)) {
      const at = users.items.findIndex((i) => isOurUser(i, w.user));
      if (at >= 0) {
        users.items.splice(at, 1);
        changed = true;
      }
      if (owned.createdUsers && users.items.length === 0) doc.delete('users');
    }
  }
  return changed ? render(doc, current) : current;
}

function contextList(names: readonly string[], current: string | undefined): string {
  if (names.length === 0) return 'no context is defined';
  return `the contexts are: ${names.map((n) => (n === current ? `${n} (current)` : n)).join(', ')}`;
}

export async function planKubectl(env: Env, opts: SetupOptions): Promise<ToolPlan> {
  // Every context wired before stays wired: each run computes the file from its pre-credmux content.
  const recorded = recordedOwned(env, 'kubectl') as Record<string, Owned>;
  const wanted = new Map<string, Set<string>>();
  for (const [path, owned] of Object.entries(recorded)) wanted.set(path, new Set((owned?.contexts ?? []).map((c) => c.context)));
  const notes: string[] = [];
  const warnings: string[] = [];
  const { first, contextNames, currentContext, files } = opts.undo && !opts.context ? emptyView() : mergedKubeconfig(env);

  if (opts.context !== undefined) {
    const name = opts.context;
    const found = first('contexts', name);
    if (opts.undo) {
      const path = [...wanted].find(([, set]) => set.has(name))?.[0];
      if (path === undefined)
        throw new CredmuxError('bad-request', `context ${JSON.stringify(name)} was not set up by credmux setup kubectl: nothing to undo`);
      wanted.get(path)!.delete(name);
    } else {
      if (!found) {
        const where = files.length ? files.map((f) => f.path).join(', ') : kubeconfigFiles(env).join(', ');
        throw new CredmuxError('bad-request', `no context named ${JSON.stringify(name)} in ${where}; ${contextList(contextNames, currentContext)}`);
      }
      const user = userFor(name);
      const earlier = files
        .slice(
          0,
          files.findIndex((f) => f.path === found.file),
        )
        .find((f) => f.users.some((u) => u.name === user));
      if (earlier) {
        throw new CredmuxError(
          'bad-request',
          `${earlier.path} defines a user ${JSON.stringify(user)}, which kubectl would use instead of credmux's; rename it first`,
        );
      }
      if (!wanted.has(found.file)) wanted.set(found.file, new Set());
      wanted.get(found.file)!.add(name);
      notes.push(...describeContext(env, name, found.value, first));
      warnings.push(...(await servedNote(env, name, found.value, first)));
    }
  } else if (!opts.undo && wanted.size === 0) {
    throw new CredmuxError(
      'bad-request',
      `name the context to wire: credmux setup kubectl --context NAME (${contextList(contextNames, currentContext)})`,
    );
  }

  const specs: FileSpec<Owned>[] = [...wanted].map(([path, contexts]) => ({
    path,
    newMode: 0o600,
    async apply(base) {
      if (base === null || contexts.size === 0) return { content: base, owned: { contexts: [], createdUsers: false } };
      return wire(env, base, path, [...contexts].sort());
    },
    async revert(current, owned) {
      return current === null ? null : unwire(current, path, owned);
    },
  }));
  if (!opts.undo) {
    const all = [...wanted.values()].flatMap((s) => [...s]);
    if (all.length > 1 || opts.context === undefined) notes.push(`kubectl contexts wired to ${KUBE_HELPER}: ${all.sort().join(', ')}`);
  }
  // `--undo --context NAME` takes out one context: the others are rewritten as they were.
  return { files: specs, links: [], notes, warnings, ...(opts.undo && opts.context !== undefined ? { undoByApplying: true } : {}) };
}

function emptyView(): ReturnType<typeof mergedKubeconfig> {
  return { files: [], first: () => undefined, contextNames: [], currentContext: undefined };
}

type First = ReturnType<typeof mergedKubeconfig>['first'];

function clusterServer(context: Record<string, unknown>, first: First): string | undefined {
  const cluster = typeof context.cluster === 'string' ? first('clusters', context.cluster) : undefined;
  const server = cluster?.value.server;
  return typeof server === 'string' && server !== '' ? server : undefined;
}

function describeContext(env: Env, name: string, context: Record<string, unknown>, first: First): string[] {
  const server = clusterServer(context, first);
  const was = typeof context.user === 'string' ? ` (it used the user ${JSON.stringify(context.user)}, which is kept for --undo)` : '';
  return [
    `kubectl --context ${name} now runs ${helperPath(env, KUBE_HELPER)} for a token${was}.`,
    server
      ? `kubectl hands it the cluster's server, ${redactUrl(server)}; credmux answers with what it serves for that URL.`
      : `The context's cluster has no server yet; kubectl will hand credmux-kube whatever server it gets.`,
  ];
}

/** Warns when credmux has nothing for the cluster's server (a login is still to do). */
async function servedNote(env: Env, name: string, context: Record<string, unknown>, first: First): Promise<string[]> {
  const server = clusterServer(context, first);
  if (!server) return [];
  let request;
  try {
    request = parseRequest(server);
  } catch {
    return [`The cluster's server ${redactUrl(server)} is not a URL credmux can match; kubectl --context ${name} will fail until it is.`];
  }
  let served: boolean;
  try {
    // Every stored credential is served to every tool (what it is "for" only decides wiring).
    served = (await collectTargets(env)).some((t) => matches(t.pattern, request));
  } catch {
    return []; // a broken config or store says so in credmux doctor
  }
  if (served) return [];
  return [
    `credmux has no credential for ${redactUrl(server)} yet: store one with  credmux login ${redactUrl(server)} --token-stdin  (or add a token rule).`,
  ];
}
