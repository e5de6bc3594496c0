// LeasedQuotaLimiter (src/quota/leased-limiter.ts) over fake shared buckets and a fake clock: members that
// lease from one bucket together admit what that bucket admits, and a member whose store stops answering
// counts locally at its share with one log line, then goes back once the store answers a heartbeat.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrontendBuckets } from '../../src/cluster/frontend-buckets.js';
import { TokenBucketTable } from '../../src/quota/bucket-table.js';
import { HEARTBEAT_MS, LeasedQuotaLimiter, type SharedBuckets } from '../../src/quota/leased-limiter.js';
import { parseQuotas } from '../../src/quota/parse.js';

const ECC_LIMIT = 300;
const BATCH = Math.ceil(ECC_LIMIT * 0.05);
const STORE_NAME = 'front end 1: quota store (the KMS_FRONTENDS primary)';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

/** Lets settled lease and heartbeat promises run their callbacks. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Buckets kept by a TokenBucketTable (what the primary runs), answering or not at will, counting the calls. */
function fakeBuckets(table: TokenBucketTable, live = 2) {
  const state = { answering: true, leases: 0, heartbeats: 0, left: [] as string[] };
  const buckets: SharedBuckets = {
    async lease(bucket, rate, capacity, want, owed) {
      state.leases++;
      if (!state.answering) throw new Error('no answer');
      return table.lease(bucket, rate, capacity, want, owed);
    },
    async heartbeat() {
      state.heartbeats++;
      if (!state.answering) throw new Error('no answer');
      return live;
    },
    async leave(memberId) { state.left.push(memberId); },
    close() {},
  };
  return { buckets, state };
}

/**
 * `perMs` attempts per millisecond on each limiter for `ms` milliseconds of the fake clock, letting leases
 * resolve between milliseconds (an IPC round trip is far shorter). What each admitted.
 */
async function flood(limiters: LeasedQuotaLimiter[], clock: ReturnType<typeof fakeClock>, ms: number, perMs = 2): Promise<number[]> {
  const admitted = limiters.map(() => 0);
  for (let t = 0; t < ms; t++) {
    for (let i = 0; i < perMs; i++) {
      limiters.forEach((limiter, index) => { if (limiter.take('111122223333', 'ecc')) admitted[index]!++; });
    }
    clock.advance(1);
    await flush();
  }
  return admitted;
}

const degradedGauge = async (registry: Registry): Promise<number> =>
  (await registry.getSingleMetric('kms_quota_store_degraded')!.get()).values[0]!.value;

/** Two members (nodes or front ends) leasing `quotas` (default `ecc=ECC_LIMIT`) from one table, on one fake clock. */
async function twoMembersOnOneBucket(quotas = `ecc=${ECC_LIMIT}`) {
  const clock = fakeClock();
  const table = new TokenBucketTable(clock.now);
  const config = parseQuotas(quotas, 'us-east-1');
  const members = await Promise.all([1, 2].map((n) =>
    LeasedQuotaLimiter.open(fakeBuckets(table).buckets, config, { memberId: `node.${n}`, now: clock.now, log: () => {} })));
  return { clock, members };
}

afterEach(() => { vi.useRealTimers(); });

describe('LeasedQuotaLimiter', () => {
  it('two members leasing from one bucket admit what one bucket admits, each some', async () => {
    const { clock, members } = await twoMembersOnOneBucket();
    try {
      const admitted = await flood(members, clock, 3_000);
      const total = admitted[0]! + admitted[1]!;
      const exact = ECC_LIMIT * (1 + 3); // the full bucket, then 300/s
      expect(total).toBeLessThanOrEqual(exact + members.length * 2 * BATCH);
      expect(total).toBeGreaterThanOrEqual(exact - members.length * 2 * BATCH); // at most the leases in hand unspent
      for (const each of admitted) expect(each).toBeGreaterThan(exact / 4);
      expect(members.every((member) => !member.degraded)).toBe(true);
    } finally {
      await Promise.all(members.map((member) => member.close()));
    }
  });

  it('sustains the rate: after the first second, about 300 per second over both members', async () => {
    const { clock, members } = await twoMembersOnOneBucket();
    try {
      await flood(members, clock, 1_000);
      for (let second = 0; second < 3; second++) {
        const [a, b] = await flood(members, clock, 1_000);
        expect(Math.abs(a! + b! - ECC_LIMIT)).toBeLessThanOrEqual(2 * BATCH);
      }
    } finally {
      await Promise.all(members.map((member) => member.close()));
    }
  });

  it('a small limit admits its whole bucket to calls made one after the other: CreateKey=5, five in a row', async () => {
    const { clock, members } = await twoMembersOnOneBucket('CreateKey=5');
    try {
      const answers: boolean[] = [];
      for (let call = 0; call < 6; call++) {
        answers.push(members[0]!.take('111122223333', 'CreateKey'));
        clock.advance(1); // the next call comes a millisecond later: the lease asked for meanwhile has come back
        await flush();
      }
      expect(answers).toEqual([true, true, true, true, true, false]);
    } finally {
      await Promise.all(members.map((member) => member.close()));
    }
  });

  it('admits the first request after a quiet spell on a member whose lease ran dry while throttled', async () => {
    const { clock, members } = await twoMembersOnOneBucket();
    try {
      await flood(members, clock, 1_500); // over the limit: the bucket is empty at the end
      // Spend whatever the last leases brought until every member is dry and nothing is in flight.
      for (let round = 0; round < 3; round++) {
        for (const member of members) while (member.take('111122223333', 'ecc'));
        await flush();
      }
      expect(members.map((member) => member.canTake('111122223333', 'ecc'))).toEqual([false, false]);

      clock.advance(2_000); // nobody asks for anything: the shared bucket is full again
      expect(members.map((member) => member.take('111122223333', 'ecc'))).toEqual([true, true]);

      // What was admitted on credit is charged to the bucket: the next second still admits one bucket's worth.
      await flush();
      const [a, b] = await flood(members, clock, 1_000);
      const exact = ECC_LIMIT * 2; // the full bucket, then 300/s
      expect(a! + b! + 2).toBeLessThanOrEqual(exact + members.length * 2 * BATCH);
    } finally {
      await Promise.all(members.map((member) => member.close()));
    }
  });

  it('counts locally at 1/N with one log line while the store does not answer, and goes back when it does', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }); // the heartbeat; the clock is the fake one below
    const clock = fakeClock();
    const table = new TokenBucketTable(clock.now);
    const { buckets, state } = fakeBuckets(table, 2);
    const log: string[] = [];
    const limiter = await LeasedQuotaLimiter.open(buckets, parseQuotas(`ecc=${ECC_LIMIT}`, 'us-east-1'),
      { memberId: 'node.1', now: clock.now, log: (line) => log.push(line), storeName: STORE_NAME });
    const registry = new Registry();
    limiter.registerMetrics(registry);
    try {
      expect(limiter.degraded).toBe(false);
      expect(await degradedGauge(registry)).toBe(0);
      await flood([limiter], clock, 1_000); // the shared bucket's first second
      expect(log).toEqual([]);

      state.answering = false; // the primary stops answering (its lease requests time out)
      await flood([limiter], clock, 50);
      expect(limiter.degraded).toBe(true);
      expect(await degradedGauge(registry)).toBe(1);
      expect(log).toEqual([`kms-engine: ${STORE_NAME} unreachable; counting quotas locally at 1/2 of each limit until it is back`]);

      // Alone at half the limit: once its local bucket is full again (150), 150 more per second. Heartbeats keep
      // failing meanwhile, and nothing more is logged.
      clock.advance(1_000);
      const leasesBefore = state.leases;
      let admitted = 0;
      for (let second = 0; second < 2; second++) {
        admitted += (await flood([limiter], clock, 1_000))[0]!;
        vi.advanceTimersByTime(HEARTBEAT_MS);
        await flush();
      }
      expect(admitted).toBeGreaterThanOrEqual(ECC_LIMIT / 2 * 3 - 2);
      expect(admitted).toBeLessThanOrEqual(ECC_LIMIT / 2 * 3 + 1);
      expect(state.leases).toBe(leasesBefore); // nothing asked of the store while counting locally
      expect(state.heartbeats).toBeGreaterThanOrEqual(3);
      expect(log).toHaveLength(1);

      state.answering = true; // the primary answers the next heartbeat
      vi.advanceTimersByTime(HEARTBEAT_MS);
      await flush();
      expect(limiter.degraded).toBe(false);
      expect(await degradedGauge(registry)).toBe(0);
      expect(log).toHaveLength(2);
      expect(log[1]).toBe(`kms-engine: ${STORE_NAME} reachable again; sharing quotas through it`);
      const [shared] = await flood([limiter], clock, 1_000);
      expect(state.leases).toBeGreaterThan(leasesBefore);
      // The shared bucket refilled while nobody leased from it: full (300) plus 300/s, give or take the leases.
      expect(Math.abs(shared! - 2 * ECC_LIMIT)).toBeLessThanOrEqual(2 * BATCH);
    } finally {
      await limiter.close();
    }
    expect(state.left).toEqual(['node.1']);
  });

  it('starts on local quotas, at full share, when the store does not answer the first heartbeat', async () => {
    const clock = fakeClock();
    const { buckets, state } = fakeBuckets(new TokenBucketTable(clock.now), 2);
    state.answering = false;
    const log: string[] = [];
    const limiter = await LeasedQuotaLimiter.open(buckets, parseQuotas(`ecc=${ECC_LIMIT}`, 'us-east-1'),
      { memberId: 'node.1', now: clock.now, log: (line) => log.push(line) });
    try {
      expect(limiter.degraded).toBe(true);
      expect(log).toEqual(['kms-engine: quota store unreachable; counting quotas locally at 1/1 of each limit until it is back']);
      let admitted = 0;
      while (limiter.take('acct', 'ecc')) admitted++;
      expect(admitted).toBe(ECC_LIMIT);
    } finally {
      await limiter.close();
    }
  });
});

describe('FrontendBuckets (a front end\'s view of the primary\'s buckets)', () => {
  it('passes leases and heartbeats through, and fails them when the primary did not answer in time', async () => {
    let answer: number | undefined = 7;
    const calls: unknown[][] = [];
    const buckets = new FrontendBuckets({
      leaseTokens: async (...args) => { calls.push(args); return answer; },
      liveFrontends: async () => (answer === undefined ? undefined : 2),
    });
    expect(await buckets.lease('acct:ecc', 300, 300, 15, 15)).toBe(7);
    expect(calls).toEqual([['acct:ecc', 300, 300, 15, 15]]);
    expect(await buckets.heartbeat()).toBe(2);
    answer = undefined;
    await expect(buckets.lease('acct:ecc', 300, 300, 15, 0)).rejects.toThrow(/did not answer/);
    await expect(buckets.heartbeat()).rejects.toThrow(/did not answer/);
  });
});
