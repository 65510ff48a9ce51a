// Loads the protocol contracts under protocols/<name>/: the JSON Schemas (compiled with ajv, which only
// tests may use) and the conformance vectors. Shared by the conformance runner and the unit tests.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import type { Credential } from '../../src/model/types.js';

export const PROTOCOLS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../protocols');
export const PROTOCOL_NAMES = ['bazel', 'git', 'docker', 'keyring', 'terraform', 'go', 'cargo', 'kubectl', 'kubelet'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];

// ajv is CommonJS: under NodeNext the default import is module.exports, whose `default` is the class.
const Ajv2020 = Ajv2020Module.default;
const ajv = new Ajv2020({ allErrors: true, strict: true });

const compiled = new Map<string, ValidateFunction>();

/** A compiled validator for `protocols/<protocol>/<file>`. */
export function schema(protocol: ProtocolName, file: string): ValidateFunction {
  const key = `${protocol}/${file}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(join(PROTOCOLS_DIR, protocol, file), 'utf8')) as object);
    compiled.set(key, validate);
  }
  return validate;
}

/** Every schema file of a protocol folder. */
export function schemaFiles(protocol: ProtocolName): string[] {
  return readdirSync(join(PROTOCOLS_DIR, protocol)).filter((f) => f.endsWith('.schema.json'));
}

export function schemaErrors(validate: ValidateFunction): string {
  return ajv.errorsText(validate.errors);
}

export interface VectorExpect {
  stdout?: string;
  stdoutJson?: unknown;
  stdoutMatches?: string;
  exitCode?: number;
  stderr?: string;
  stderrIncludes?: string | string[];
  /** Strings that must appear in neither stdout nor stderr (secrets from the input). */
  notIncludes?: string[];
}

export interface VectorStep {
  protocol: ProtocolName;
  argv: string[];
  stdin?: string;
  stdinBase64?: string;
  /** False for a deliberately non-canonical request (testing leniency): skip its schema check. */
  validateStdin?: boolean;
  /** The caller's environment the adapter sees (kubectl: KUBERNETES_EXEC_INFO). */
  env?: Record<string, string>;
  expect: VectorExpect;
}

export interface SchemaCheck {
  schema: string;
  instance: unknown;
  valid: boolean;
  /** For Bazel `expires`: the instant Bazel's parser reads from it, in Unix seconds. */
  expiresEpoch?: number;
}

export interface Vector {
  id: string;
  description: string;
  setup: Array<{ store: { url: string; credential: Credential } }>;
  config: { rules: unknown[] };
  env?: Record<string, string>;
  now?: number;
  steps: VectorStep[];
  schemaChecks?: SchemaCheck[];
  /**
   * Behaviour the engine does not have yet: the vector runs as an expected failure, so it turns red
   * the day the engine is fixed and the marker must go.
   */
  engineGap?: string;
}

export function loadVectors(protocol: ProtocolName): Vector[] {
  const file = join(PROTOCOLS_DIR, protocol, 'vectors.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { vectors: Vector[] }).vectors;
}

export function stepStdin(step: VectorStep): Buffer {
  return step.stdinBase64 !== undefined ? Buffer.from(step.stdinBase64, 'base64') : Buffer.from(step.stdin ?? '', 'utf8');
}

/**
 * Which schemas describe a step's messages: what the protocol's client sends (only for requests the
 * helper accepted) and what the helper printed on success. `stdout` for keyring applies only when the
 * output is JSON (`--output json`).
 */
export function messageSchemas(step: { protocol: ProtocolName; argv: readonly string[] }, exitCode: number): { stdin?: string; stdout?: string } {
  if (exitCode !== 0) return {};
  const { protocol, argv } = step;
  switch (protocol) {
    case 'bazel':
      return argv[0] === 'get' ? { stdin: 'get-request.schema.json', stdout: 'get-response.schema.json' } : {};
    case 'docker':
      if (argv.length !== 1) return {};
      if (argv[0] === 'get') return { stdout: 'get-response.schema.json' };
      if (argv[0] === 'list') return { stdout: 'list-response.schema.json' };
      if (argv[0] === 'store') return { stdin: 'store-request.schema.json' };
      return {};
    case 'keyring':
      // Only `--output json` prints JSON; plain output is lines. The runner checks that every stdout
      // that parses as JSON did get a schema, so this cannot silently skip one.
      return argv.includes('get') ? { stdout: 'creds-output.schema.json' } : {};
    case 'git':
      return {};
    case 'terraform':
      if (argv.length !== 2) return {};
      if (argv[0] === 'get') return { stdout: 'get-response.schema.json' };
      if (argv[0] === 'store') return { stdin: 'store-request.schema.json' };
      return {};
    case 'go':
      // Text, not JSON: the runner parses it as Go does (goauth-output.ts) and validates the sets it read.
      // Only Go's own two call shapes: no argument (startup), or one https URL (after a 4xx).
      return argv.length === 0 || (argv.length === 1 && /^https:/.test(argv[0]!)) ? { stdout: 'credentials.schema.json' } : {};
    case 'cargo':
      // One request line per step; every answer (Err too) is a response line on exit 0.
      return argv.length === 1 && argv[0] === '--cargo-plugin' ? { stdin: 'request.schema.json', stdout: 'response.schema.json' } : {};
    case 'kubectl':
      // The request is KUBERNETES_EXEC_INFO, which the runner checks against exec-info.schema.json.
      return { stdout: 'exec-credential.schema.json' };
    case 'kubelet':
      return { stdin: 'request.schema.json', stdout: 'response.schema.json' };
  }
}
