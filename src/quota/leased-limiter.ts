// Request quotas whose token buckets live elsewhere (SharedBuckets: Redis for KMS_QUOTA_STORE=redis://..., or
// the KMS_FRONTENDS primary for its front ends), with take() still synchronous and allocation-free on the hot
// path: nobody asks the shared store per request.
//
// Algorithm: the token bucket of limiter.ts, kept by the shared store per (account, class) on the store's clock
// (so member clocks do not matter). Each member (a node, or a front end) holds a small local lease of tokens
// per bucket and spends it synchronously; when the lease runs low it asks the store for the next batch in the
// background (one request in flight per bucket). A batch is LEASE_SECONDS of the class's rate (5% of a
// second), so:
//  - sustained admission over all members is the configured rate: every admitted request was granted by the
//    store's bucket (or advanced, below, and charged to it at the next lease);
//  - bursts exceed the bucket's capacity by at most one batch per member (the leases held in hand);
//  - the store sees about 20 lease calls per second per busy bucket per member, whatever the request rate.
// A bucket a member has never used starts with one batch advanced on credit (so the first request is not
// refused while the first lease is in flight); the advance is charged to the store with the first lease. So
// does a lease left empty for IDLE_ADVANCE_MS: the store's bucket refills meanwhile, but only a request asks it
// for tokens, and the first request after a quiet spell must not be refused for a lease that ran dry when the
// bucket was last empty (after throttling, say).
//
// If the store does not answer, the member keeps serving with the in-memory QuotaLimiter at its share (the
// limit divided by the number of live members it last saw), says so in one log line and in
// kms_quota_store_degraded, and goes back to the store as soon as a heartbeat succeeds.
import { Gauge, type Registry } from 'prom-client';
import { busiestAround, countAdmission, newAdmissionCount, type AdmissionCount } from './admission-count.js';
import { QuotaLimiter, type QuotaUsage } from './limiter.js';
import type { RequestQuotas } from './open.js';
import type { QuotaConfig } from './parse.js';

/** Where the token buckets are kept: Redis (redis-buckets.ts) or the KMS_FRONTENDS primary (cluster/frontend-buckets.ts). */
export interface SharedBuckets {
  /**
   * Charges `owed` (tokens admitted on credit) to `bucket`, then grants up to `want` tokens: min(want,
   * floor(tokens)) when at least one is there, else 0. The bucket refills at `rate` per second up to `capacity`
   * and starts full. Rejects when the store does not answer.
   */
  lease(bucket: string, rate: number, capacity: number, want: number, owed: number): Promise<number>;
  /** Records `memberId` as alive; resolves to how many members are (this one included). Rejects when the store does not answer. */
  heartbeat(memberId: string): Promise<number>;
  /** Removes `memberId` from the live members at once (the others' shares grow without waiting for it to expire). */
  leave(memberId: string): Promise<void>;
  close(): void;
}

export const LEASE_SECONDS = 0.05;
/** After the store granted less than asked, wait this long before asking again (the bucket is empty). */
const RETRY_MS = 10;
/** A bucket refills completely in a second (capacity is one second's rate): an empty lease this old is advanced again. */
const IDLE_ADVANCE_MS = 1_000;
export const HEARTBEAT_MS = 1_000;

/** Also counts what it admitted per second, for the utilisation gauge. */
interface Lease extends AdmissionCount {
  /** Tokens in hand: spent synchronously by take(). */
  tokens: number;
  /** Tokens admitted on credit, not yet charged to the store. */
  owed: number;
  inFlight: boolean;
  /** Earliest time (ms) of the next lease request. */
  retryAt: number;
  /** When the store last answered a lease request for it, or the lease was advanced (ms). */
  answeredAt: number;
}

interface ClassLeases {
  readonly quotaClass: string;
  readonly limit: number;
  readonly capacity: number;
  readonly batch: number;
  readonly leases: Map<string, Lease>;
}

export interface LeasedQuotaOptions {
  /** This member's name among the store's live members (the node id). */
  memberId: string;
  /** What the log lines call the store; default 'quota store'. */
  storeName?: string;
  /**
   * Members known to share the limits without asking the store: this node's KMS_FRONTENDS front ends. Its share
   * is never more than 1/members, also when the store does not answer the first heartbeat.
   */
  knownMembers?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export class LeasedQuotaLimiter implements RequestQuotas {
  readonly #config: QuotaConfig;
  readonly #classes = new Map<string, ClassLeases>();
  readonly #buckets: SharedBuckets;
  readonly #memberId: string;
  readonly #storeName: string;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #heartbeat: NodeJS.Timeout;
  #degraded = false;
  #liveMembers: number;
  readonly #knownMembers: number;
  #fallback: QuotaLimiter | undefined;
  #gauge: Gauge | undefined;
  #closed = false;

  private constructor(buckets: SharedBuckets, config: QuotaConfig, options: LeasedQuotaOptions) {
    this.#buckets = buckets;
    this.#config = config;
    this.#memberId = options.memberId;
    this.#storeName = options.storeName ?? 'quota store';
    this.#log = options.log ?? ((line) => console.error(line));
    this.#now = options.now ?? (() => performance.now());
    this.#knownMembers = this.#liveMembers = Math.max(1, options.knownMembers ?? 1);
    for (const [quotaClass, limit] of config.limits) {
      const batch = Math.max(1, Math.ceil(limit * LEASE_SECONDS));
      this.#classes.set(quotaClass, { quotaClass, limit, capacity: Math.max(limit, 1), batch, leases: new Map() });
    }
    this.#heartbeat = setInterval(() => { void this.#beat(); }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /**
   * Starts leasing from `buckets` after one heartbeat; if the store does not answer it, the member starts on
   * local quotas at the share of the members it knows (its node's front ends; no other node is known).
   */
  static async open(buckets: SharedBuckets, config: QuotaConfig, options: LeasedQuotaOptions): Promise<LeasedQuotaLimiter> {
    const limiter = new LeasedQuotaLimiter(buckets, config, options);
    await limiter.#beat();
    return limiter;
  }

  /** True while the store does not answer and this member counts alone at its share. */
  get degraded(): boolean {
    return this.#degraded;
  }

  take(account: string, quotaClass: string): boolean {
    const state = this.#classes.get(quotaClass);
    if (state === undefined) return true;
    if (this.#degraded) return this.#fallback!.take(account, quotaClass);
    const now = this.#now();
    const lease = this.#leaseOf(account, state, now);
    if (lease.tokens < 1) return false;
    lease.tokens -= 1;
    countAdmission(lease, now);
    // Ask for the next batch now, not when the next request comes: with a batch of one (limits under 20 per
    // second, e.g. CreateKey=5) that request would otherwise find the lease empty and be refused.
    this.#topUp(account, state, lease, now);
    return true;
  }

  /** Whether take() would admit the request now, spending nothing (a request charged to several classes). */
  canTake(account: string, quotaClass: string): boolean {
    const state = this.#classes.get(quotaClass);
    if (state === undefined) return true;
    if (this.#degraded) return this.#fallback!.canTake(account, quotaClass);
    return this.#leaseOf(account, state, this.#now()).tokens >= 1;
  }

  #leaseOf(account: string, state: ClassLeases, now: number): Lease {
    let lease = state.leases.get(account);
    if (lease === undefined) {
      lease = { tokens: state.batch, owed: state.batch, inFlight: false, retryAt: 0, answeredAt: now, ...newAdmissionCount(now) };
      state.leases.set(account, lease);
    } else if (lease.tokens < 1 && !lease.inFlight && now - lease.answeredAt >= IDLE_ADVANCE_MS) {
      // Quiet since it ran dry: hold one batch again, on credit, as a member new to the bucket does.
      lease.tokens += state.batch;
      lease.owed += state.batch;
      lease.answeredAt = now;
    }
    this.#topUp(account, state, lease, now);
    return lease;
  }

  /** Keeps one batch in hand: asks for the next while this one is being spent. */
  #topUp(account: string, state: ClassLeases, lease: Lease, now: number): void {
    if (lease.tokens <= state.batch / 2 && !lease.inFlight && now >= lease.retryAt) this.#refill(account, state, lease);
  }

  limitOf(quotaClass: string): number | undefined {
    return this.#classes.get(quotaClass)?.limit;
  }

  /** This member's use against each class's shared limit (the fallback limiter's while degraded). */
  snapshot(): QuotaUsage[] {
    if (this.#degraded) {
      return this.#fallback!.snapshot().map((usage) => ({ ...usage, limit: this.#classes.get(usage.quotaClass)!.limit }));
    }
    const second = Math.floor(this.#now() / 1000);
    const usage: QuotaUsage[] = [];
    for (const state of this.#classes.values()) {
      usage.push({ quotaClass: state.quotaClass, limit: state.limit, usedThisSecond: busiestAround(state.leases.values(), second) });
    }
    return usage;
  }

  /** Adds kms_quota_store_degraded to the member's registry. */
  registerMetrics(registry: Registry): void {
    this.#gauge = new Gauge({
      name: 'kms_quota_store_degraded',
      help: 'Whether this node counts quotas locally at its share because the shared quota store (Redis, or the KMS_FRONTENDS primary) is unreachable (1) or shares them through it (0).',
      registers: [registry],
      aggregator: 'max', // over KMS_FRONTENDS front ends: 1 when any of them counts locally
    });
    this.#gauge.set(this.#degraded ? 1 : 0);
  }

  #refill(account: string, state: ClassLeases, lease: Lease): void {
    lease.inFlight = true;
    const owed = lease.owed;
    const want = state.batch;
    this.#buckets.lease(`${account}:${state.quotaClass}`, state.limit, state.capacity, want, owed).then(
      (granted) => {
        lease.owed -= owed;
        lease.tokens += Number(granted);
        lease.answeredAt = this.#now();
        lease.retryAt = Number(granted) < want ? this.#now() + RETRY_MS : 0;
      },
      () => {
        lease.retryAt = this.#now() + RETRY_MS;
        this.#setDegraded(true);
      },
    ).finally(() => { lease.inFlight = false; });
  }

  async #beat(): Promise<void> {
    if (this.#closed) return;
    try {
      const live = Number(await this.#buckets.heartbeat(this.#memberId));
      this.#liveMembers = Math.max(this.#knownMembers, live);
      this.#setDegraded(false);
    } catch {
      this.#setDegraded(true);
    }
  }

  #setDegraded(degraded: boolean): void {
    if (degraded === this.#degraded || this.#closed) return;
    this.#degraded = degraded;
    this.#gauge?.set(degraded ? 1 : 0);
    if (degraded) {
      const share = this.#liveMembers;
      const limits = new Map([...this.#config.limits].map(([quotaClass, limit]) => [quotaClass, limit / share]));
      this.#fallback = new QuotaLimiter({ limits }, this.#now);
      this.#log(`kms-engine: ${this.#storeName} unreachable; counting quotas locally at 1/${share} of each limit until it is back`);
    } else {
      // Leases from before the outage are stale (the store may have lost its buckets): start afresh.
      for (const state of this.#classes.values()) state.leases.clear();
      this.#fallback = undefined;
      this.#log(`kms-engine: ${this.#storeName} reachable again; sharing quotas through it`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    // Leave the live members at once, so the others' shares grow without waiting for the store to expire this one.
    await this.#buckets.leave(this.#memberId).catch(() => {});
    this.#buckets.close();
  }
}
