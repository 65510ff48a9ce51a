// The wire contract: protocols/daemon/vectors.json run line by line against the bundled daemon, every
// message checked against protocols/daemon/message.schema.json, and the daemon's hand-written
// validator held to the schema (same verdict on every message, generated ones included).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextFingerprint } from '../../src/ipc/context.js';
import { monotonicMs } from '../../src/ipc/deadline.js';
import { decodeClientLine, LineSplitter, PROTOCOL_VERSION } from '../../src/ipc/codec.js';
import { daemonFiles } from '../../src/ipc/paths.js';
import { buildFakeBundles, holderPid, disposeBundles, testHome, waitUntil, type Bundles, type TestHome } from './helpers.js';

interface Step {
  send?: string;
  sendChunks?: string[];
  padTo?: number;
  expect: Record<string, unknown> | null;
}
interface Vector {
  id: string;
  description: string;
  steps: Step[];
}

const dir = fileURLToPath(new URL('../../protocols/daemon/', import.meta.url));
const vectors = (JSON.parse(readFileSync(`${dir}vectors.json`, 'utf8')) as { vectors: Vector[] }).vectors;
const schema = JSON.parse(readFileSync(`${dir}message.schema.json`, 'utf8')) as { $id: string };
const version = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;

const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
ajv.addSchema(schema);
const clientSchema = ajv.getSchema(`${schema.$id}#/definitions/clientMessage`) as ValidateFunction;
const daemonSchema = ajv.getSchema(`${schema.$id}#/definitions/daemonMessage`) as ValidateFunction;

/** Reads replies off one connection, one line at a time. */
class Conn {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private splitter = new LineSplitter(8 << 20);
  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      for (const l of this.splitter.push(d)) {
        if (typeof l !== 'string') throw new Error('oversized reply');
        const w = this.waiters.shift();
        if (w) w(l);
        else this.lines.push(l);
      }
    });
  }
  next(ms = 3_000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply')), ms);
      this.waiters.push((line) => {
        clearTimeout(t);
        resolve(line);
      });
    });
  }
  pending(): number {
    return this.lines.length;
  }
}

function connect(path: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(new Conn(s)));
    s.once('error', reject);
  });
}

function stringsIn(x: unknown): string[] {
  if (typeof x === 'string') return [x];
  if (Array.isArray(x)) return x.flatMap(stringsIn);
  if (x && typeof x === 'object') return Object.values(x).flatMap(stringsIn);
  return [];
}

let bins: Bundles;
let h: TestHome;
let daemon: ChildProcess;
let pid: number;
let ctx: string;

beforeAll(async () => {
  bins = await buildFakeBundles();
  h = testHome(bins.daemon);
  daemon = spawn(process.execPath, [bins.daemon], { env: h.env as NodeJS.ProcessEnv, stdio: 'ignore' });
  await waitUntil(() => holderPid(h.env) === daemon.pid, 5_000, 'daemon lock');
  await waitUntil(
    async () =>
      connect(daemonFiles(h.env).socket).then(
        (c) => (c.socket.destroy(), true),
        () => false,
      ),
    5_000,
    'daemon socket',
  );
  pid = daemon.pid!;
  ctx = contextFingerprint(h.env);
});

afterAll(() => {
  daemon?.kill('SIGKILL');
  h?.cleanup();
  disposeBundles(bins?.dir);
});

function substitute(x: unknown): unknown {
  if (x === '$PID') return pid;
  if (x === '$VERSION') return version;
  if (x === '$CTX') return ctx;
  if (Array.isArray(x)) return x.map(substitute);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, substitute(v)]));
  return x;
}

describe('protocols/daemon/vectors.json against the bundled daemon', () => {
  it('covers the cases the issue names', () => {
    const ids = vectors.map((v) => v.id);
    expect(ids).toEqual(expect.arrayContaining(['M1', 'M6', 'M8', 'M12', 'M13', 'M16', 'M17', 'M18']));
    expect(ids[ids.length - 1]).toBe('M16'); // shutdown last
  });

  for (const v of vectors) {
    it(`${v.id}: ${v.description}`, async () => {
      const c = await connect(daemonFiles(h.env).socket);
      try {
        for (const [i, step] of v.steps.entries()) {
          const label = `${v.id} step ${i + 1}`;
          let sent: string;
          if (step.sendChunks) {
            const bytes = step.sendChunks.map((chunk) => Buffer.from(chunk, 'latin1'));
            sent = Buffer.concat(bytes).toString('utf8');
            for (const b of bytes) {
              c.socket.write(b);
              await new Promise((r) => setTimeout(r, 20));
            }
            c.socket.write('\n');
          } else {
            sent = (step.send ?? '').replaceAll('$CTX', ctx).replaceAll('$DEADLINE', String(monotonicMs() + 10_000));
            if (step.padTo) sent = sent + ' '.repeat(step.padTo - Buffer.byteLength(sent));
            c.socket.write(`${sent}\n`);
          }
          if (step.expect === null) {
            await new Promise((r) => setTimeout(r, 50));
            expect(c.pending(), `${label}: no reply expected`).toBe(0);
            continue;
          }
          const line = await c.next();
          const reply = JSON.parse(line) as Record<string, unknown> & { error?: { message?: unknown } };
          expect(daemonSchema(reply), `${label} reply fits the schema: ${ajv.errorsText(daemonSchema.errors)}`).toBe(true);
          const expected = substitute(step.expect) as Record<string, unknown> & { error?: object };
          if (reply.error) {
            const { message, ...rest } = reply.error;
            expect(typeof message === 'string' && message.length > 0, `${label} error message`).toBe(true);
            // Error texts name fields, never echo what was sent (a value may be a secret).
            let sentJson: unknown;
            try {
              sentJson = JSON.parse(sent);
            } catch {
              sentJson = undefined;
            }
            for (const s of stringsIn(sentJson).filter((s) => s.length >= 6)) expect(message, label).not.toContain(s);
            expect({ ...reply, error: rest }, label).toEqual(expected);
          } else {
            expect(reply, label).toEqual(expected);
          }
          // The schema and the daemon agree on what a valid client message is.
          if (!step.padTo || step.padTo <= 1 << 20) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(sent);
            } catch {
              parsed = undefined;
            }
            const refused = reply.error && ['bad-json', 'bad-message', 'version'].includes((reply.error as { code: string }).code);
            expect(parsed !== undefined && clientSchema(parsed), `${label}: schema verdict on the sent message`).toBe(!refused);
          }
        }
      } finally {
        c.socket.destroy();
      }
    });
  }

  it('after M16 the daemon has stopped and removed its socket', async () => {
    await waitUntil(() => daemon.exitCode !== null, 5_000, 'daemon exit');
    expect(daemon.exitCode).toBe(0);
    expect(holderPid(h.env)).toBeUndefined();
  });
});

describe('schema and validator', () => {
  it('a real status reply fits the schema', async () => {
    const h2 = testHome(bins.daemon);
    const d = spawn(process.execPath, [bins.daemon], { env: h2.env as NodeJS.ProcessEnv, stdio: 'ignore' });
    try {
      const sock = daemonFiles(h2.env).socket;
      await waitUntil(
        async () =>
          connect(sock).then(
            (c) => (c.socket.destroy(), true),
            () => false,
          ),
        5_000,
        'socket',
      );
      const c = await connect(sock);
      c.socket.write(
        `${JSON.stringify({ v: PROTOCOL_VERSION, id: 1, req: { op: 'get', url: 'https://s.example' }, ctx: contextFingerprint(h2.env) })}\n`,
      );
      await c.next();
      c.socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 2, ctl: 'status' })}\n`);
      const status = JSON.parse(await c.next()) as { status: { cache: { entries: unknown[] }; context: string } };
      expect(daemonSchema(status), ajv.errorsText(daemonSchema.errors)).toBe(true);
      expect(status.status.cache.entries).toHaveLength(1);
      expect(status.status.context).toBe(contextFingerprint(h2.env));
      c.socket.destroy();
    } finally {
      d.kill('SIGKILL');
      h2.cleanup();
    }
  });

  it('the hand-written validator accepts exactly what the schema accepts (generated messages)', () => {
    const str = fc.oneof(fc.constant('https://x.example'), fc.string({ maxLength: 8 }));
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const junk = fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.string({ maxLength: 3 }), fc.constant({}), fc.constant([]));
    const credential = fc.record(
      {
        kind: fc.oneof(fc.constantFrom('basic', 'bearer', 'ntlm'), junk),
        username: fc.oneof(str, junk),
        secret: fc.oneof(str, junk),
        expiresAt: fc.oneof(fc.integer(), fc.double(), junk),
        oauthRefreshToken: fc.oneof(str, junk),
        extra: junk,
      },
      { requiredKeys: [] },
    );
    const req = fc.record(
      {
        op: fc.oneof(fc.constantFrom('get', 'store', 'erase', 'list', 'nope'), junk),
        url: fc.oneof(str, junk),
        username: fc.oneof(str, junk),
        secret: fc.oneof(str, junk),
        credential: fc.oneof(credential, junk),
        via: fc.oneof(fc.constantFrom('bazel', 'git', 'docker', 'keyring', 'pip'), junk),
        extra: junk,
      },
      { requiredKeys: [] },
    );
    const msg = fc.record(
      {
        v: fc.oneof(fc.constant(1), fc.constant(2), fc.constant(3), fc.constant('2'), junk),
        id: fc.oneof(fc.nat(), fc.constant(-1), fc.constant(1.5), fc.constant('7'), junk),
        req: fc.oneof(req, junk),
        ctl: fc.oneof(fc.constantFrom('ping', 'status', 'shutdown', 'reboot'), junk),
        ctx: fc.oneof(str, junk),
        deadline: fc.oneof(fc.nat(), fc.constant(-1), fc.constant(2.5), fc.constant('9'), junk),
        other: maybe(junk),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(msg, (m) => {
        const clean = JSON.parse(JSON.stringify(m)) as unknown;
        const decoded = decodeClientLine(JSON.stringify(clean), version);
        const accepted = decoded.kind === 'request' || decoded.kind === 'control';
        expect(accepted, JSON.stringify(clean)).toBe(clientSchema(clean));
      }),
      { numRuns: 3000 },
    );
    expect(PROTOCOL_VERSION).toBe(2);
  });

  it("hands on the caller's variables as sent, a name like __proto__ included, and refuses bad ones", () => {
    const line = (env: string) => `{"v":2,"id":3,"req":{"op":"get","url":"https://h.example/"},"env":${env}}`;
    const ok = decodeClientLine(line('{"__proto__":"p-value","CI_TOKEN":null,"X":"x"}'), version);
    expect(ok.kind).toBe('request');
    const env = (ok as { env: Record<string, string | null> }).env;
    expect(Object.hasOwn(env, '__proto__') && env['__proto__']).toBe('p-value');
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype); // the name set a value, not a prototype
    expect(Object.keys(env)).toEqual(['__proto__', 'CI_TOKEN', 'X']);
    for (const bad of ['{"1X":"v"}', '{"A-B":"v"}', '{"X":1}', '[]', '"x"']) {
      expect(decodeClientLine(line(bad), version), bad).toMatchObject({ kind: 'invalid', reply: { error: { code: 'bad-message' } } });
    }
  });
});
