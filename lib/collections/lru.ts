/**
 * Least-recently-used order on a plain Map: a Map iterates in insertion order, so re-inserting a key on every use
 * keeps the coldest entry first. O(1) per use, no extra structure per entry.
 */
export function touchEntry<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
}

/**
 * Past `max` entries, drops the coldest 1/16 of them at once; `dropped` sees each one. In batches because finding
 * a Map's first entry skips the holes deletions left at its front (V8 compacts only when the table grows): one
 * eviction per insertion would pay that walk every time.
 */
export function trimToCap<K, V>(map: Map<K, V>, max: number, dropped?: (key: K, value: V) => void): void {
  if (map.size <= max) return;
  const target = max - Math.floor(max / 16);
  for (const [key, value] of map) {
    if (map.size <= target) return;
    map.delete(key);
    dropped?.(key, value);
  }
}

/**
 * Drops entries idle for `idleMs` and more from the cold end; stops at the first one still fresh (LRU order means
 * every later one is fresher). `lastSeen` reads the server-clock time the entry was last used.
 */
export function dropIdle<K, V>(
  map: Map<K, V>,
  nowMs: number,
  idleMs: number,
  lastSeen: (value: V) => number,
  dropped?: (key: K, value: V) => void,
): void {
  for (const [key, value] of map) {
    if (lastSeen(value) > nowMs - idleMs) return;
    map.delete(key);
    dropped?.(key, value);
  }
}
