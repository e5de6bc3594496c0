// The key-usage tracker against a store double: uses are noted in memory and saved in batches, first noted
// first; reads see what is noted, being saved or saved; a failed save keeps its uses for the next one.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyUsageTracker } from '../../src/keys/usage-tracker.js';
import type { KeyUsageRecord } from '../../src/store/types.js';

const arn = (keyId: string) => `arn:aws:kms:us-east-1:111122223333:key/${keyId}`;

class MemoryUsageStore {
  readonly saved = new Map<string, KeyUsageRecord>();
  readonly batches: string[][] = [];
  failNext = 0;
  /** When set, a save waits for this before it lands. */
  gate: Promise<void> | undefined;

  async recordKeyUsage(uses: readonly KeyUsageRecord[]): Promise<void> {
    this.batches.push(uses.map((use) => use.keyId));
    await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error('store down: secret-looking detail'), { code: 'SQLITE_BUSY' });
    }
    for (const use of uses) {
      const current = this.saved.get(use.keyId);
      if (current === undefined || current.usedAt < use.usedAt) this.saved.set(use.keyId, { ...use });
    }
  }

  async getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    return this.saved.get(keyId);
  }

  async usageTrackingStart(): Promise<number> {
    return 1_700_000_000;
  }
}

const trackers: KeyUsageTracker[] = [];
function tracker(store: MemoryUsageStore, flushBatch = 500): KeyUsageTracker {
  // A long interval: the tests flush by hand.
  const created = new KeyUsageTracker(store, { flushIntervalMs: 3_600_000, flushBatch });
  trackers.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.close()));
  vi.restoreAllMocks();
});

describe('KeyUsageTracker', () => {
  it('answers with a noted use before it is saved, and with the newest of noted and saved', async () => {
    const store = new MemoryUsageStore();
    const usage = tracker(store);
    usage.note([arn('k1')], 'Encrypt', 100, 'event-1', 'request-1');
    expect(store.batches).toEqual([]);
    expect(await usage.lastUsage('k1')).toEqual({ keyId: 'k1', operation: 'Encrypt', usedAt: 100, eventId: 'event-1', requestId: 'request-1' });
    await usage.flush();
    usage.note([arn('k1')], 'Decrypt', 101, 'event-2', 'request-2');
    expect((await usage.lastUsage('k1'))?.operation).toBe('Decrypt');
    // Another process saved a newer use meanwhile: that one wins.
    store.saved.set('k1', { keyId: 'k1', operation: 'Sign', usedAt: 102, eventId: 'e3', requestId: 'r3' });
    expect((await usage.lastUsage('k1'))?.operation).toBe('Sign');
    expect(await usage.lastUsage('never-used')).toBeUndefined();
  });

  it('saves at most a batch per flush, one entry per key, first noted first', async () => {
    const store = new MemoryUsageStore();
    const usage = tracker(store, 2);
    usage.note([arn('a')], 'Encrypt', 1, 'e', 'r');
    usage.note([arn('b')], 'Encrypt', 2, 'e', 'r');
    usage.note([arn('a')], 'Decrypt', 3, 'e', 'r'); // a again: still one entry, still first in line
    usage.note([arn('c'), arn('d')], 'ReEncrypt', 4, 'e', 'r');
    await usage.flush(2);
    expect(store.batches).toEqual([['a', 'b']]);
    expect(store.saved.get('a')?.operation).toBe('Decrypt');
    await usage.flush(2);
    await usage.flush(2); // nothing left: no empty write
    expect(store.batches).toEqual([['a', 'b'], ['c', 'd']]);
  });

  it('reads a use while its save is under way', async () => {
    const store = new MemoryUsageStore();
    const usage = tracker(store);
    let open!: () => void;
    store.gate = new Promise((resolve) => { open = resolve; });
    usage.note([arn('k')], 'Sign', 5, 'e', 'r');
    const saving = usage.flush();
    expect((await usage.lastUsage('k'))?.operation).toBe('Sign');
    open();
    await saving;
    expect(store.saved.get('k')?.operation).toBe('Sign');
  });

  it('keeps the uses of a failed save for the next one, logging once without the error\'s text', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const store = new MemoryUsageStore();
    const usage = tracker(store);
    store.failNext = 2;
    usage.note([arn('k')], 'Encrypt', 1, 'e1', 'r1');
    await usage.flush();
    usage.note([arn('k')], 'Decrypt', 2, 'e2', 'r2'); // newer than the use that failed: it replaces it
    await usage.flush();
    expect(store.saved.size).toBe(0);
    expect((await usage.lastUsage('k'))?.operation).toBe('Decrypt');
    await usage.flush();
    expect(store.saved.get('k')?.operation).toBe('Decrypt');
    const lines = log.mock.calls.map((call) => String(call[0]));
    expect(lines).toEqual([expect.stringMatching(/could not be saved \(SQLITE_BUSY\)/), expect.stringMatching(/saved again/)]);
    expect(lines.join('\n')).not.toMatch(/secret-looking/);
  });

  it('saves everything still waiting when closed', async () => {
    const store = new MemoryUsageStore();
    const usage = tracker(store, 1);
    for (const key of ['a', 'b', 'c']) usage.note([arn(key)], 'GenerateMac', 1, 'e', 'r');
    await usage.close();
    expect([...store.saved.keys()].sort()).toEqual(['a', 'b', 'c']);
  });

  it('keeps each key\'s own ids while uses come and go over many keys (slots are reused after a save)', async () => {
    const store = new MemoryUsageStore();
    const usage = tracker(store, 150);
    const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
    const ids = (key: string, round: number) => [randomUUID(), `${key}-request-${round}`] as const;
    const expected = new Map<string, readonly [string, string]>();
    for (let round = 0; round < 3; round++) {
      for (const key of keys) {
        const [eventId, requestId] = ids(key, round);
        usage.note([arn(key)], 'Encrypt', round, eventId, requestId);
        expected.set(key, [eventId, requestId]);
      }
      await usage.flush(150); // half of them saved: their slots go back and are taken by the next round
    }
    for (const key of keys) {
      const last = await usage.lastUsage(key);
      expect([last?.eventId, last?.requestId]).toEqual(expected.get(key));
      expect(last?.usedAt).toBe(2);
    }
    await usage.flush();
    for (const key of keys) expect([store.saved.get(key)?.eventId, store.saved.get(key)?.requestId]).toEqual(expected.get(key));
  });

  it('keeps ids intact that are too long or not ASCII for a slot, and slotted ids after them', async () => {
    const store = new MemoryUsageStore();
    const usage = tracker(store);
    const long = 'e'.repeat(200);
    usage.note([arn('k')], 'Sign', 1, long, 'r-\u00e9\u4e2d');
    expect(await usage.lastUsage('k')).toMatchObject({ eventId: long, requestId: 'r-\u00e9\u4e2d' });
    usage.note([arn('k')], 'Verify', 2, 'short-event', 'short-request');
    expect(await usage.lastUsage('k')).toMatchObject({ operation: 'Verify', eventId: 'short-event', requestId: 'short-request' });
    usage.note([arn('k')], 'Sign', 3, 'x', long);
    await usage.flush();
    expect(store.saved.get('k')).toMatchObject({ operation: 'Sign', usedAt: 3, eventId: 'x', requestId: long });
  });
});
