// Runs every protocols/*/vectors.json through the real adapters and the real engine over a
// MemoryStore: parse → engine.handle → format, step by step, one fresh store per vector. Requests and
// results are passed through JSON on the way, as they cross the daemon socket in production.
// Every JSON message a step sends or prints is validated against the protocol's schema.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import type { Config } from '../../src/model/rule.js';
import type { EngineRequest, EngineResult, ProtocolAdapter, ProtocolOutput } from '../../src/model/types.js';
import { adapters } from '../../src/protocols/index.js';
import { kubeletAdapter } from '../../src/protocols/kubelet.js';
import { MemoryStore } from '../../src/store/memory.js';
import {
  PROTOCOL_NAMES,
  loadVectors,
  messageSchemas,
  schema,
  schemaErrors,
  stepStdin,
  type ProtocolName,
  type Vector,
  type VectorStep,
} from './contracts.js';
import { goHeadersFor, parseGoAuthOutput } from './goauth-output.js';

/** The vectors docs/protocols.md lists; each must be present (more are welcome). */
const REQUIRED: Record<ProtocolName, string[]> = {
  bazel: range('B', 14),
  git: range('G', 16),
  docker: range('D', 13),
  keyring: range('K', 13),
  terraform: range('T', 21),
  go: range('GO', 12),
  cargo: range('C', 16),
  kubectl: range('KC', 18),
  kubelet: range('KL', 18),
};

function range(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

/** Secrets a vector hands in: none may ever show up on stderr. Short ones would match by chance. */
function secretsOf(v: Vector): string[] {
  const s = [...v.setup.map((e) => e.store.credential.secret), ...Object.values(v.env ?? {})];
  return s.filter((x) => x.length >= 6);
}

async function runStep(engine: { handle(r: EngineRequest): Promise<EngineResult> }, step: VectorStep, now?: number): Promise<ProtocolOutput> {
  // The kubelet's cacheDuration is the credential's life from now: on the vector's clock, as the engine's.
  const adapter = (step.protocol === 'kubelet' && now !== undefined ? kubeletAdapter(() => now) : adapters[step.protocol]) as ProtocolAdapter;
  const parsed = adapter.parse(step.argv, stepStdin(step), step.env ?? {});
  if (parsed.kind === 'reply') return parsed.output;
  const request = JSON.parse(JSON.stringify(parsed.request)) as EngineRequest;
  expect(request).toEqual(parsed.request); // nothing lost on the socket (no undefined, no prototypes)
  const result = JSON.parse(JSON.stringify(await engine.handle(request))) as EngineResult;
  return adapter.format(parsed.ctx, result);
}

function checkOutput(v: Vector, step: VectorStep, out: ProtocolOutput, label: string): void {
  const e = step.expect;
  if (e.exitCode !== undefined)
    expect(out.exitCode, `${label} exit code (stdout ${JSON.stringify(out.stdout)}, stderr ${JSON.stringify(out.stderr)})`).toBe(e.exitCode);
  if (e.stdout !== undefined) expect(out.stdout, `${label} stdout`).toBe(e.stdout);
  if (e.stdoutJson !== undefined) expect(JSON.parse(out.stdout), `${label} stdout JSON`).toEqual(e.stdoutJson);
  if (e.stdoutMatches !== undefined) expect(out.stdout, `${label} stdout`).toMatch(new RegExp(e.stdoutMatches));
  if (e.stderr !== undefined) expect(out.stderr, `${label} stderr`).toBe(e.stderr);
  for (const s of [e.stderrIncludes ?? []].flat()) expect(out.stderr, `${label} stderr`).toContain(s);
  for (const s of e.notIncludes ?? []) {
    expect(out.stdout, `${label} stdout must not contain it`).not.toContain(s);
    expect(out.stderr, `${label} stderr must not contain it`).not.toContain(s);
  }
  for (const s of secretsOf(v)) expect(out.stderr, `${label}: a secret on stderr`).not.toContain(s);

  const schemas = messageSchemas(step, out.exitCode);
  const execInfo = step.env?.KUBERNETES_EXEC_INFO;
  if (step.protocol === 'kubectl' && out.exitCode === 0 && execInfo !== undefined) {
    const validate = schema('kubectl', 'exec-info.schema.json');
    expect(validate(JSON.parse(execInfo)), `${label} KUBERNETES_EXEC_INFO vs exec-info.schema.json: ${schemaErrors(validate)}`).toBe(true);
  }
  if (schemas.stdin !== undefined && step.validateStdin !== false) {
    const validate = schema(step.protocol, schemas.stdin);
    expect(validate(JSON.parse(stepStdin(step).toString('utf8'))), `${label} stdin vs ${schemas.stdin}: ${schemaErrors(validate)}`).toBe(true);
  }
  if (step.protocol === 'go') return checkGoOutput(step, out, schemas.stdout, label);
  let json: unknown;
  try {
    json = JSON.parse(out.stdout);
  } catch {
    return; // not JSON: nothing to validate (a JSON protocol's success path always has a schema below)
  }
  expect(schemas.stdout, `${label} printed JSON no schema describes`).toBeDefined();
  const validate = schema(step.protocol, schemas.stdout!);
  expect(validate(json), `${label} stdout vs ${schemas.stdout}: ${schemaErrors(validate)}`).toBe(true);
  if (step.protocol === 'bazel') {
    // What we emit is stricter than what Bazel accepts: whole seconds, UTC, `Z`.
    const expires = (json as { expires?: unknown }).expires;
    if (expires !== undefined) expect(expires).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  }
}

/**
 * A GOAUTH answer is text: read it as the go command does, validate the sets it yields against the
 * schema, and check that Go's own prefix lookup would put the answered headers on the retried request.
 */
function checkGoOutput(step: VectorStep, out: ProtocolOutput, schemaFile: string | undefined, label: string): void {
  if (schemaFile === undefined) return; // not a call Go makes, or a failure (Go ignores the output then)
  const parsed = parseGoAuthOutput(out.stdout);
  expect(parsed, `${label}: Go would refuse this output`).toMatchObject({ ok: true });
  if (!parsed.ok) return;
  const validate = schema('go', schemaFile);
  expect(validate(parsed.sets), `${label} stdout vs ${schemaFile}: ${schemaErrors(validate)}`).toBe(true);
  if (parsed.sets.length === 0 || step.argv.length === 0) return;
  expect(goHeadersFor(parsed.sets, step.argv[0]!), `${label}: Go's lookup for the URL asked finds the headers`).toEqual(parsed.sets[0]!.headers);
}

for (const protocol of PROTOCOL_NAMES) {
  const vectors = loadVectors(protocol);

  describe(`${protocol} vectors`, () => {
    it('covers every vector of docs/protocols.md, with unique ids', () => {
      const ids = vectors.map((v) => v.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expect.arrayContaining(REQUIRED[protocol]));
    });

    for (const v of vectors) {
      const test = v.engineGap === undefined ? it : it.fails;
      test(`${v.id}: ${v.description}${v.engineGap ? ` [engine gap: ${v.engineGap}]` : ''}`, async () => {
        expect(v.steps.length + (v.schemaChecks?.length ?? 0)).toBeGreaterThan(0);
        for (const check of v.schemaChecks ?? []) {
          const validate = schema(protocol, check.schema);
          expect(validate(check.instance), `${JSON.stringify(check.instance)} vs ${check.schema}`).toBe(check.valid);
          if (check.expiresEpoch !== undefined) {
            const expires = (check.instance as { expires: string }).expires;
            expect(Date.parse(expires) / 1000).toBe(check.expiresEpoch);
          }
        }
        if (v.steps.length === 0) return;

        const store = new MemoryStore();
        for (const { store: entry } of v.setup) await store.put({ url: entry.url, ...entry.credential });
        const engine = createEngine({
          store,
          config: v.config as unknown as Config,
          env: v.env ?? {},
          ...(v.now !== undefined ? { now: () => v.now! } : {}),
        });
        for (const [i, step] of v.steps.entries()) {
          const label = `${v.id} step ${i + 1} (${step.protocol} ${step.argv.join(' ')})`;
          checkOutput(v, step, await runStep(engine, step, v.now), label);
        }
      });
    }
  });
}
