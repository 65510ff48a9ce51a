// Which tools a stored entry is for (StoredEntry.protocols): what a helper's store adds, what a
// person's `credmux login --for` sets, and that serving never depends on it (only `credmux setup` does).
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import type { EngineRequest, ProtocolName } from '../../src/model/types.js';
import { MemoryStore } from '../../src/store/memory.js';

const basic = (secret: string) => ({ kind: 'basic' as const, username: 'alice', secret });

function setup() {
  const store = new MemoryStore();
  let now = 1_900_000_000;
  const engine = createEngine({ store, now: () => now++ });
  const store1 = (url: string, secret: string, extra: { via?: ProtocolName; protocols?: ProtocolName[] | 'all' } = {}) =>
    engine.handle({ op: 'store', url, credential: basic(secret), ...extra } as EngineRequest);
  const protocolsOf = async (url: string) => (await store.list()).find((e) => e.url === url)?.protocols;
  return { engine, store1, protocolsOf };
}

describe('what a stored entry is for', () => {
  it("a helper's store records its protocol; another protocol storing the same credential adds its own", async () => {
    const { engine, store1, protocolsOf } = setup();
    expect(await store1('reg.example.com', 'pw', { via: 'docker' })).toEqual({ op: 'store', stored: true });
    expect(await protocolsOf('https://reg.example.com')).toEqual(['docker']);
    // git storing back exactly what it was served: nothing new about the secret, but now git uses it too.
    expect(await store1('https://reg.example.com', 'pw', { via: 'git' })).toEqual({ op: 'store', stored: true });
    expect(await protocolsOf('https://reg.example.com')).toEqual(['git', 'docker']);
    // The same again changes nothing, and writes nothing.
    expect(await store1('https://reg.example.com', 'pw', { via: 'git' })).toEqual({ op: 'store', stored: false });
    // A new password through docker keeps what the entry was for.
    await store1('reg.example.com', 'pw2', { via: 'docker' });
    expect(await protocolsOf('https://reg.example.com')).toEqual(['git', 'docker']);
    // Serving does not depend on it: every protocol gets the credential.
    expect(await engine.handle({ op: 'get', url: 'https://reg.example.com/simple/' })).toMatchObject({ credential: { secret: 'pw2' } });
  });

  it('`credmux login --for` sets exactly what it names; a login without --for counts for every tool, and a helper store keeps that', async () => {
    const { store1, protocolsOf } = setup();
    await store1('https://pkgs.example.com', 'pw', { protocols: ['keyring', 'bazel'] });
    expect(await protocolsOf('https://pkgs.example.com')).toEqual(['bazel', 'keyring']);
    // The same secret with another --for: the entry changes what it is for.
    expect(await store1('https://pkgs.example.com', 'pw', { protocols: ['git'] })).toEqual({ op: 'store', stored: true });
    expect(await protocolsOf('https://pkgs.example.com')).toEqual(['git']);
    await store1('https://pkgs.example.com', 'pw', { protocols: 'all' });
    expect(await protocolsOf('https://pkgs.example.com')).toBeUndefined();
    await store1('https://pkgs.example.com', 'pw3', { via: 'docker' });
    expect(await protocolsOf('https://pkgs.example.com')).toBeUndefined();
  });
});
