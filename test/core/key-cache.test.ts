import { describe, expect, it, vi } from 'vitest';
import { GuardedKeyCache, type CachedKey } from '../../workers/key-cache.js';

class Entry implements CachedKey {
  wiped = false;
  constructor(readonly keyId: string, readonly bytes = Buffer.from('secret-bytes')) {}
  wipe() {
    this.bytes.fill(0);
    this.wiped = true;
  }
}

describe('GuardedKeyCache', () => {
  it('loads once, then hits, and counts both', () => {
    const cache = new GuardedKeyCache<Entry>(10, 60_000);
    let loads = 0;
    const load = () => { loads++; return new Entry('k'); };
    const first = cache.getOrLoad('k', 'm1', load);
    expect(cache.getOrLoad('k', 'm1', load)).toBe(first);
    expect(loads).toBe(1);
    expect(cache.takeStats()).toEqual({ hits: 1, misses: 1, evictions: 0 });
    expect(cache.takeStats()).toEqual({ hits: 0, misses: 0, evictions: 0 });
  });

  it('is bounded: the least recently used entry is evicted and wiped', () => {
    const cache = new GuardedKeyCache<Entry>(2, 60_000);
    const a = cache.getOrLoad('a', 'ma', () => new Entry('a'));
    cache.getOrLoad('b', 'mb', () => new Entry('b'));
    cache.getOrLoad('a', 'ma', () => new Entry('a'));
    cache.getOrLoad('c', 'mc', () => new Entry('c'));
    expect(cache.size).toBe(2);
    expect(a.wiped).toBe(false);
    const b = cache.getOrLoad('b', 'mb', () => new Entry('b'));
    expect(b.wiped).toBe(false);
    expect(cache.takeStats().evictions).toBe(2);
  });

  it('expires entries lazily on read and wipes them', async () => {
    const cache = new GuardedKeyCache<Entry>(10, 20);
    const old = cache.getOrLoad('k', 'm1', () => new Entry('k'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    const fresh = cache.getOrLoad('k', 'm1', () => new Entry('k'));
    expect(fresh).not.toBe(old);
    expect(old.wiped).toBe(true);
    expect(old.bytes.every((byte) => byte === 0)).toBe(true);
  });

  it('wipes an expired entry that is never read again', async () => {
    // A key used once and then left alone must not stay unwrapped in memory until 10,000 others push it out.
    const cache = new GuardedKeyCache<Entry>(10, 20);
    const idle = cache.getOrLoad('k', 'm1', () => new Entry('k'));
    await vi.waitFor(() => expect(idle.wiped).toBe(true), { timeout: 5_000, interval: 20 });
    expect(idle.bytes.every((byte) => byte === 0)).toBe(true);
    expect(cache.size).toBe(0);
    expect(cache.takeStats().evictions).toBe(1);
  });

  it('drops every material of evicted keys and nothing else', () => {
    const cache = new GuardedKeyCache<Entry>(10, 60_000);
    const v1 = cache.getOrLoad('key-a', 'a1', () => new Entry('key-a'));
    const v2 = cache.getOrLoad('key-a', 'a2', () => new Entry('key-a'));
    const other = cache.getOrLoad('key-b', 'b1', () => new Entry('key-b'));
    expect(cache.keyIds()).toEqual(new Set(['key-a', 'key-b']));
    cache.evictKeys(['key-a']);
    expect(v1.wiped && v2.wiped).toBe(true);
    expect(other.wiped).toBe(false);
    expect(cache.size).toBe(1);
  });

  it('never hands one key the material cached for another under the same material id', () => {
    const cache = new GuardedKeyCache<Entry>(10, 60_000);
    const mine = cache.getOrLoad('key-a', 'shared-id', () => new Entry('key-a'));
    const theirs = cache.getOrLoad('key-b', 'shared-id', () => new Entry('key-b'));
    expect(theirs).not.toBe(mine);
    expect(theirs.keyId).toBe('key-b');
    expect(mine.wiped).toBe(true); // replaced, so wiped
    expect(cache.takeStats()).toMatchObject({ hits: 0, misses: 2 });
  });
});
