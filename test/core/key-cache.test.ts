import { describe, expect, it } from 'vitest';
import { GuardedKeyCache, type CachedKey } from '../../workers/key-cache.js';

class Entry implements CachedKey {
  wiped = false;
  constructor(readonly bytes = Buffer.from('secret-bytes')) {}
  wipe() {
    this.bytes.fill(0);
    this.wiped = true;
  }
}

describe('GuardedKeyCache', () => {
  it('loads once, then hits, and counts both', () => {
    const cache = new GuardedKeyCache<Entry>(10, 60_000);
    let loads = 0;
    const load = () => { loads++; return new Entry(); };
    const first = cache.getOrLoad('k:1', load);
    expect(cache.getOrLoad('k:1', load)).toBe(first);
    expect(loads).toBe(1);
    expect(cache.takeStats()).toEqual({ hits: 1, misses: 1, evictions: 0 });
    expect(cache.takeStats()).toEqual({ hits: 0, misses: 0, evictions: 0 });
  });

  it('is bounded: the least recently used entry is evicted and wiped', () => {
    const cache = new GuardedKeyCache<Entry>(2, 60_000);
    const a = cache.getOrLoad('a:1', () => new Entry());
    cache.getOrLoad('b:1', () => new Entry());
    cache.getOrLoad('a:1', () => new Entry());
    cache.getOrLoad('c:1', () => new Entry());
    expect(cache.size).toBe(2);
    expect(a.wiped).toBe(false);
    const b = cache.getOrLoad('b:1', () => new Entry());
    expect(b.wiped).toBe(false);
    expect(cache.takeStats().evictions).toBe(2);
  });

  it('expires entries lazily on read and wipes them', async () => {
    const cache = new GuardedKeyCache<Entry>(10, 20);
    const old = cache.getOrLoad('k:1', () => new Entry());
    await new Promise((resolve) => setTimeout(resolve, 60));
    const fresh = cache.getOrLoad('k:1', () => new Entry());
    expect(fresh).not.toBe(old);
    expect(old.wiped).toBe(true);
    expect(old.bytes.every((byte) => byte === 0)).toBe(true);
  });

  it('drops every version of evicted keys and nothing else', () => {
    const cache = new GuardedKeyCache<Entry>(10, 60_000);
    const v1 = cache.getOrLoad('key-a:m1', () => new Entry());
    const v2 = cache.getOrLoad('key-a:m2', () => new Entry());
    const other = cache.getOrLoad('key-b:m1', () => new Entry());
    cache.evictKeys(['key-a']);
    expect(v1.wiped && v2.wiped).toBe(true);
    expect(other.wiped).toBe(false);
    expect(cache.size).toBe(1);
  });
});
