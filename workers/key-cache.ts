// The guarded key cache: unwrapped keys live here and nowhere else. Bounded in entries, expiring, and wiped on
// eviction where the key holds raw bytes. An entry is dropped (and wiped) when its time is up, read again or not:
// expiring only on read kept a key used once unwrapped in memory until enough others pushed it out. The purge
// timers run in the workers because the pool waits for tasks on the event loop (atomics: 'disabled'); they are
// unref'd, so they keep no worker alive. Keys are held as KeyObjects where node:crypto has the algorithm, so the material stays in native
// memory and only leaves through an explicit export().
import { LRUCache } from 'lru-cache';

export interface CachedKey {
  /** The key the material belongs to. */
  readonly keyId: string;
  /** Overwrites any raw key bytes the entry holds; KeyObjects are released to the GC. */
  wipe?(): void;
}

export interface KeyCacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

export class GuardedKeyCache<V extends CachedKey> {
  private readonly lru: LRUCache<string, V>;
  private readonly stats: KeyCacheStats = { hits: 0, misses: 0, evictions: 0 };

  constructor(maxEntries: number, ttlMs: number) {
    this.lru = new LRUCache<string, V>({
      max: maxEntries,
      ttl: ttlMs,
      ttlAutopurge: true,
      updateAgeOnGet: false,
      dispose: (value, _key, reason) => {
        value.wipe?.();
        if (reason === 'evict' || reason === 'expire') this.stats.evictions++;
      },
    });
  }

  /** Returns the key's cached material, or loads, caches and returns it. */
  getOrLoad(keyId: string, materialId: string, load: () => V): V {
    const hit = this.lru.get(materialId);
    if (hit !== undefined && hit.keyId === keyId) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const value = load();
    this.lru.set(materialId, value);
    return value;
  }

  /** Drops every material of the given keys (disabled, rotated, deleted). */
  evictKeys(keyIds: readonly string[]): void {
    const ids = new Set(keyIds);
    for (const [materialId, value] of [...this.lru.entries()]) {
      if (ids.has(value.keyId)) this.lru.delete(materialId);
    }
  }

  /** The distinct key ids with cached material. */
  keyIds(): Set<string> {
    const ids = new Set<string>();
    for (const value of this.lru.values()) ids.add(value.keyId);
    return ids;
  }

  get size(): number {
    return this.lru.size;
  }

  /** Counters since the last call, then reset: each batch reports its own deltas. */
  takeStats(): KeyCacheStats {
    const snapshot = { ...this.stats };
    this.stats.hits = this.stats.misses = this.stats.evictions = 0;
    return snapshot;
  }
}
