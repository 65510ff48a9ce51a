// Map values that are one item, or an array once a key has several. A daemon keeps such maps with a
// key per rule and stored entry (hosts, URLs, cache keys), nearly all holding one item, and a
// one-element array costs ~56 bytes of heap beside the item: 29,000 of them under the bench load
// (10,000 rules, 9,000 stored entries, 5,000 tokens), 1.6 MB. Items must not themselves be arrays.

export type OneOrMany<T> = T | T[];

export function addTo<K, T>(map: Map<K, OneOrMany<T>>, key: K, item: T): void {
  const had = map.get(key);
  if (had === undefined) map.set(key, item);
  else if (Array.isArray(had)) had.push(item);
  else map.set(key, [had, item]);
}

/** The items as an array (a lone item gets a fresh one-element array: callers may not change it). */
export function allOf<T>(value: OneOrMany<T> | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function hasItem<T>(value: OneOrMany<T> | undefined, item: T): boolean {
  return Array.isArray(value) ? value.includes(item) : value === item;
}
