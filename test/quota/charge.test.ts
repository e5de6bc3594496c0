// chargeRequest (src/quota/charge.ts): a cryptographic operation with a limit of its own (KMS_QUOTAS=Encrypt=N)
// must pass both that limit and its key's class quota, and a request refused by either spends nothing of the
// other, in the in-memory limiter and in the leased one (Redis, or the KMS_FRONTENDS primary's buckets).
import { describe, expect, it } from 'vitest';
import { TokenBucketTable } from '../../src/quota/bucket-table.js';
import { chargeRequest } from '../../src/quota/charge.js';
import { LeasedQuotaLimiter, type SharedBuckets } from '../../src/quota/leased-limiter.js';
import { QuotaLimiter } from '../../src/quota/limiter.js';
import { parseQuotas } from '../../src/quota/parse.js';

const ACCOUNT = '111122223333';
const SYMMETRIC = ['symmetric'];

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

const encrypt = (limiter: QuotaLimiter | LeasedQuotaLimiter) => chargeRequest(limiter, ACCOUNT, SYMMETRIC, 'Encrypt');
const decrypt = (limiter: QuotaLimiter | LeasedQuotaLimiter) => chargeRequest(limiter, ACCOUNT, SYMMETRIC, 'Decrypt');
const times = (n: number, charge: () => string | undefined): Array<string | undefined> => Array.from({ length: n }, charge);

describe('chargeRequest with the in-memory limiter', () => {
  it('an operation limit throttles that operation only, and its refusals leave the class quota to the others', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('symmetric=10,Encrypt=2', 'us-east-1'), clock.now);
    const encrypts = times(20, () => encrypt(limiter));
    expect(encrypts.filter((refused) => refused === undefined)).toHaveLength(2);
    expect(new Set(encrypts.slice(2))).toEqual(new Set(['Encrypt']));
    // 18 refused Encrypts took nothing from symmetric: its 10 tokens less the 2 admitted Encrypts are there.
    expect(times(10, () => decrypt(limiter))).toEqual([...Array(8).fill(undefined), 'symmetric', 'symmetric']);
  });

  it('a request the class quota refuses spends nothing of the operation limit', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('symmetric=10,Encrypt=2', 'us-east-1'), clock.now);
    expect(times(10, () => decrypt(limiter)).every((refused) => refused === undefined)).toBe(true);
    expect(times(2, () => encrypt(limiter))).toEqual(['symmetric', 'symmetric']);
    clock.advance(200); // symmetric refills 2 tokens; Encrypt (at 2/s) only 0.4, so it must still hold its 2
    expect(times(2, () => encrypt(limiter))).toEqual([undefined, undefined]);
  });

  it('without an operation limit, charges the class alone (management operations and unlimited ones)', () => {
    const clock = fakeClock();
    const limiter = new QuotaLimiter(parseQuotas('symmetric=2,CreateKey=1', 'us-east-1'), clock.now);
    expect(times(3, () => decrypt(limiter))).toEqual([undefined, undefined, 'symmetric']);
    expect(times(2, () => chargeRequest(limiter, ACCOUNT, ['CreateKey']))).toEqual([undefined, 'CreateKey']);
  });
});

/** Buckets kept by a TokenBucketTable, as the KMS_FRONTENDS primary keeps them (Redis runs the same arithmetic). */
function tableBuckets(table: TokenBucketTable): SharedBuckets {
  return {
    lease: async (bucket, rate, capacity, want, owed) => table.lease(bucket, rate, capacity, want, owed),
    heartbeat: async () => 1,
    leave: async () => {},
    close() {},
  };
}

describe('chargeRequest with the leased limiter', () => {
  it('an Encrypt flood is held at its own rate, and its refusals leave the symmetric quota to Decrypt', async () => {
    const clock = fakeClock();
    const config = parseQuotas('symmetric=100,Encrypt=5', 'us-east-1');
    const limiter = await LeasedQuotaLimiter.open(tableBuckets(new TokenBucketTable(clock.now)), config,
      { memberId: 'node.1', now: clock.now, log: () => {} });
    const seconds = 3;
    let encrypts = 0;
    let decrypts = 0;
    for (let ms = 0; ms < seconds * 1000; ms++) {
      for (let i = 0; i < 2; i++) if (encrypt(limiter) === undefined) encrypts++;
      if (ms % 20 === 0 && decrypt(limiter) === undefined) decrypts++; // 50/s, half the symmetric quota
      clock.advance(1);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await limiter.close();
    // Encrypt: its bucket of 5, 5 per second, and a lease in hand at most.
    expect(encrypts).toBeGreaterThanOrEqual(5 * seconds);
    expect(encrypts).toBeLessThanOrEqual(5 + 5 * seconds + 2);
    // 6,000 Encrypt attempts were refused, and Decrypt, well inside symmetric's 100/s, was never throttled.
    expect(decrypts).toBe(seconds * 50);
  });
});
