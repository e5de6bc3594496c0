// The KMS_FRONTENDS primary's token buckets (src/quota/bucket-table.ts): the arithmetic of the Redis lease
// script (src/quota/redis-buckets.ts) on the primary's clock.
import { describe, expect, it } from 'vitest';
import { TokenBucketTable } from '../../src/quota/bucket-table.js';
import { QuotaLimiter } from '../../src/quota/limiter.js';
import { seededRandom } from '../support/seeded-random.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

/** Leases `want` at a time until the bucket grants nothing; the total granted. */
function drain(table: TokenBucketTable, bucket: string, rate: number, capacity: number, want: number): number {
  let total = 0;
  for (let granted = table.lease(bucket, rate, capacity, want, 0); granted > 0; granted = table.lease(bucket, rate, capacity, want, 0)) {
    expect(granted).toBeLessThanOrEqual(want);
    total += granted;
  }
  return total;
}

describe('TokenBucketTable', () => {
  it('starts full: a new bucket grants its capacity, in leases of at most what was asked', () => {
    const table = new TokenBucketTable(fakeClock().now);
    expect(table.lease('acct:ecc', 300, 300, 15, 0)).toBe(15);
    expect(drain(table, 'acct:ecc', 300, 300, 15)).toBe(285);
    expect(table.lease('acct:ecc', 300, 300, 15, 0)).toBe(0);
  });

  it('refills at the rate, never past the capacity', () => {
    const clock = fakeClock();
    const table = new TokenBucketTable(clock.now);
    drain(table, 'b', 300, 300, 15);
    clock.advance(100); // 30 tokens
    expect([1, 2, 3].map(() => table.lease('b', 300, 300, 15, 0))).toEqual([15, 15, 0]);
    clock.advance(50); // 15 tokens; asking for more grants what is there
    expect(table.lease('b', 300, 300, 100, 0)).toBe(15);
    clock.advance(60_000); // idle for a minute: still one second's worth
    expect(drain(table, 'b', 300, 300, 15)).toBe(300);
  });

  it('grants whole tokens only, and only when at least one is there', () => {
    const clock = fakeClock();
    const table = new TokenBucketTable(clock.now);
    drain(table, 'b', 10, 10, 5);
    clock.advance(250); // 2.5 tokens
    expect(table.lease('b', 10, 10, 5, 0)).toBe(2);
    clock.advance(40); // 0.5 + 0.4
    expect(table.lease('b', 10, 10, 5, 0)).toBe(0);
    clock.advance(10); // 1.0
    expect(table.lease('b', 10, 10, 5, 0)).toBe(1);
  });

  it('charges what was owed before granting, and a debt delays the next grants', () => {
    const clock = fakeClock();
    const table = new TokenBucketTable(clock.now);
    expect(table.lease('b', 300, 300, 15, 15)).toBe(15); // 300 - 15 owed - 15 granted = 270 left
    expect(drain(table, 'b', 300, 300, 15)).toBe(270);
    expect(table.lease('b', 300, 300, 15, 15)).toBe(0); // now 15 in debt
    clock.advance(50); // 15 tokens repay it
    expect(table.lease('b', 300, 300, 15, 0)).toBe(0);
    clock.advance(50);
    expect(table.lease('b', 300, 300, 15, 0)).toBe(15);
  });

  it('fractional rates: 0.5/s with a capacity of one grants one token every two seconds', () => {
    const clock = fakeClock();
    const table = new TokenBucketTable(clock.now);
    let granted = 0;
    for (let ms = 0; ms < 20_000; ms += 100) {
      granted += table.lease('b', 0.5, 1, 1, 0);
      clock.advance(100);
    }
    expect(granted).toBe(10);
  });

  it('keeps buckets apart', () => {
    const table = new TokenBucketTable(fakeClock().now);
    expect(drain(table, 'a:ecc', 300, 300, 15)).toBe(300);
    expect(drain(table, 'b:ecc', 300, 300, 15)).toBe(300);
    expect(drain(table, 'a:rsa', 10, 10, 1)).toBe(10);
    expect(table.size).toBe(3);
  });

  it('leasing one token at a time admits exactly what the in-process QuotaLimiter admits', () => {
    // Rates whose per-millisecond refill is exact in binary, so both sides round alike at every boundary.
    for (const rate of [62.5, 125, 250]) {
      const clock = fakeClock();
      const random = seededRandom(rate);
      const table = new TokenBucketTable(clock.now);
      const limiter = new QuotaLimiter({ limits: new Map([['ecc', rate]]) }, clock.now);
      let admitted = 0;
      for (let i = 0; i < 20_000; i++) {
        clock.advance(Math.floor(random() * 8));
        const leased = table.lease('acct:ecc', rate, rate, 1, 0) === 1;
        expect(leased).toBe(limiter.take('acct', 'ecc'));
        if (leased) admitted++;
      }
      expect(admitted).toBeGreaterThan(rate); // some admitted, some refused
      expect(admitted).toBeLessThan(20_000);
    }
  });

  it('forgets a bucket once it would be full again, not before', () => {
    const clock = fakeClock();
    const table = new TokenBucketTable(clock.now);
    drain(table, 'b', 10, 10, 5);
    clock.advance(1_000 + 59_000);
    expect(table.sweep()).toBe(1);
    clock.advance(1_000);
    expect(table.sweep()).toBe(0);
    expect(drain(table, 'b', 10, 10, 5)).toBe(10); // starts full, as it would have been
  });

  it('grants nothing for nonsense arguments', () => {
    const table = new TokenBucketTable(fakeClock().now);
    expect(table.lease('b', Number.NaN, 300, 15, 0)).toBe(0);
    expect(table.lease('b', 0, 300, 15, 0)).toBe(0);
    expect(table.lease('b', 300, 0, 15, 0)).toBe(0);
    expect(table.lease('b', 300, 300, -1, 0)).toBe(0);
    expect(table.lease('b', 300, 300, 15, Number.NaN)).toBe(0);
    expect(table.size).toBe(0);
  });
});
