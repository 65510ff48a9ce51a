import { expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { basic, storeContract } from './contract.js';

storeContract('MemoryStore', async () => ({ store: new MemoryStore() }));

it('MemoryStore can be seeded, and version() is a counter of changes', async () => {
  const s = new MemoryStore([basic('https://a.example', 'u', 'x')]);
  expect(await s.list()).toEqual([basic('https://a.example', 'u', 'x')]);
  expect(await s.version()).toBe('0');
  await s.remove(() => false);
  expect(await s.version()).toBe('0');
  await s.put(basic('https://b.example', 'u', 'y'));
  expect(await s.version()).toBe('1');
});
