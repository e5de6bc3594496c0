// Request quotas shared by every node through Redis (KMS_QUOTA_STORE=redis://...), with take() still
// synchronous and allocation-free on the hot path: nodes never ask Redis per request.
//
// Algorithm: the token bucket of limiter.ts, kept in Redis per (account, class) by one Lua script (atomic,
// on Redis's clock, so node clocks do not matter). Each node holds a small local lease of tokens per bucket
// and spends it synchronously; when the lease runs low it asks Redis for the next batch in the background
// (one request in flight per bucket). A batch is LEASE_SECONDS of the class's rate (5% of a second), so:
//  - sustained admission across the cluster is the configured rate: every admitted request was granted by
//    Redis's bucket (or advanced, below, and charged to it at the next lease);
//  - bursts exceed the bucket's capacity by at most one batch per node (the leases held in hand);
//  - Redis sees about 20 lease calls per second per busy bucket per node, whatever the request rate.
// A bucket a node has never used starts with one batch advanced on credit (so the first request is not
// refused while the first lease is in flight); the advance is charged to Redis with the first lease.
//
// If Redis is unreachable, the node keeps serving with the in-memory QuotaLimiter at its share (the limit
// divided by the number of live nodes it last saw), says so in the log and in kms_quota_store_degraded, and
// goes back to Redis as soon as a heartbeat succeeds.
import { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import { admittedAround, countAdmission, newAdmissionCount, type AdmissionCount } from './admission-count.js';
import { QuotaLimiter, type QuotaUsage } from './limiter.js';
import type { QuotaConfig } from './parse.js';

/** What server.ts needs of a limiter: QuotaLimiter and RedisQuotaLimiter both provide it. */
export interface RequestQuotas {
  take(account: string, quotaClass: string): boolean;
  limitOf(quotaClass: string): number | undefined;
  snapshot(): QuotaUsage[];
}

const LEASE_SECONDS = 0.05;
/** After Redis granted less than asked, wait this long before asking again (the bucket is empty). */
const RETRY_MS = 10;
const HEARTBEAT_MS = 1_000;
/** A node that has not beaten for this long no longer counts in the shares. */
const NODE_TTL_MS = 5_000;
const KEY_PREFIX = 'kms:quota:';
const NODES_KEY = `${KEY_PREFIX}nodes`;

// KEYS[1] bucket; ARGV: rate per second, capacity, tokens wanted, tokens owed (advanced earlier). Returns the
// tokens granted. The bucket may go negative by what was owed: the debt delays the next grants.
const LEASE_SCRIPT = `
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local owed = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
end
tokens = tokens - owed
local granted = 0
if tokens >= 1 then granted = math.min(want, math.floor(tokens)) end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 60000)
return granted
`;

// KEYS[1] live-node set; ARGV: node id, TTL ms. Records this node as alive now and returns how many are.
const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])
`;

interface QuotaScripts {
  kmsQuotaLease(key: string, rate: number, capacity: number, want: number, owed: number): Promise<number>;
  kmsQuotaHeartbeat(key: string, nodeId: string, ttlMs: number): Promise<number>;
}

/** Also counts what it admitted per second, for the utilisation gauge. */
interface Lease extends AdmissionCount {
  /** Tokens in hand: spent synchronously by take(). */
  tokens: number;
  /** Tokens admitted on credit, not yet charged to Redis. */
  owed: number;
  inFlight: boolean;
  /** Earliest time (ms) of the next lease request. */
  retryAt: number;
}

interface ClassLeases {
  readonly quotaClass: string;
  readonly limit: number;
  readonly capacity: number;
  readonly batch: number;
  readonly leases: Map<string, Lease>;
}

export interface RedisQuotaOptions {
  nodeId: string;
  log?: (line: string) => void;
  now?: () => number;
}

export class RedisQuotaLimiter implements RequestQuotas {
  readonly #config: QuotaConfig;
  readonly #classes = new Map<string, ClassLeases>();
  readonly #redis: Redis & QuotaScripts;
  readonly #nodeId: string;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #heartbeat: NodeJS.Timeout;
  #degraded = false;
  #liveNodes = 1;
  #fallback: QuotaLimiter | undefined;
  #gauge: Gauge | undefined;
  #closed = false;

  private constructor(url: string, config: QuotaConfig, options: RedisQuotaOptions) {
    this.#config = config;
    this.#nodeId = options.nodeId;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#now = options.now ?? (() => performance.now());
    for (const [quotaClass, limit] of config.limits) {
      const batch = Math.max(1, Math.ceil(limit * LEASE_SECONDS));
      this.#classes.set(quotaClass, { quotaClass, limit, capacity: Math.max(limit, 1), batch, leases: new Map() });
    }
    const redis = new Redis(url, {
      lazyConnect: true,
      // Fail at once while disconnected instead of queueing: the hot path never waits on Redis anyway, and a
      // failed lease is what switches the node to local quotas.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      connectTimeout: 1_000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
    });
    redis.on('error', () => {}); // reported through failed commands and the degraded state instead
    redis.defineCommand('kmsQuotaLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
    redis.defineCommand('kmsQuotaHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_SCRIPT });
    this.#redis = redis as Redis & QuotaScripts;
    this.#heartbeat = setInterval(() => { void this.#beat(); }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** Connects to Redis; if it cannot, the node starts on local quotas (at full share: no other node is known). */
  static async open(url: string, config: QuotaConfig, options: RedisQuotaOptions): Promise<RedisQuotaLimiter> {
    const limiter = new RedisQuotaLimiter(url, config, options);
    try {
      await limiter.#redis.connect();
    } catch {
      // ioredis keeps reconnecting in the background; the heartbeat notices when it is back.
    }
    await limiter.#beat();
    return limiter;
  }

  /** True while Redis is unreachable and this node counts alone at its share. */
  get degraded(): boolean {
    return this.#degraded;
  }

  take(account: string, quotaClass: string): boolean {
    const state = this.#classes.get(quotaClass);
    if (state === undefined) return true;
    if (this.#degraded) return this.#fallback!.take(account, quotaClass);
    const now = this.#now();
    let lease = state.leases.get(account);
    if (lease === undefined) {
      lease = { tokens: state.batch, owed: state.batch, inFlight: false, retryAt: 0, ...newAdmissionCount(now) };
      state.leases.set(account, lease);
    }
    // Keep one batch in hand: ask for the next while this one is being spent.
    if (lease.tokens <= state.batch / 2 && !lease.inFlight && now >= lease.retryAt) this.#refill(account, state, lease);
    if (lease.tokens < 1) return false;
    lease.tokens -= 1;
    countAdmission(lease, now);
    return true;
  }

  limitOf(quotaClass: string): number | undefined {
    return this.#classes.get(quotaClass)?.limit;
  }

  /** This node's use against each class's cluster-wide limit (the fallback limiter's while degraded). */
  snapshot(): QuotaUsage[] {
    if (this.#degraded) {
      return this.#fallback!.snapshot().map((usage) => ({ ...usage, limit: this.#classes.get(usage.quotaClass)!.limit }));
    }
    const second = Math.floor(this.#now() / 1000);
    const usage: QuotaUsage[] = [];
    for (const state of this.#classes.values()) {
      let usedThisSecond = 0;
      for (const lease of state.leases.values()) {
        const used = admittedAround(lease, second);
        if (used > usedThisSecond) usedThisSecond = used;
      }
      usage.push({ quotaClass: state.quotaClass, limit: state.limit, usedThisSecond });
    }
    return usage;
  }

  /** Adds kms_quota_store_degraded to the node's registry. */
  registerMetrics(registry: Registry): void {
    this.#gauge = new Gauge({
      name: 'kms_quota_store_degraded',
      help: 'Whether this node counts quotas locally at its share because the shared quota store (Redis) is unreachable (1) or shares them through it (0).',
      registers: [registry],
    });
    this.#gauge.set(this.#degraded ? 1 : 0);
  }

  #refill(account: string, state: ClassLeases, lease: Lease): void {
    lease.inFlight = true;
    const owed = lease.owed;
    const want = state.batch;
    this.#redis.kmsQuotaLease(`${KEY_PREFIX}${account}:${state.quotaClass}`, state.limit, state.capacity, want, owed).then(
      (granted) => {
        lease.owed -= owed;
        lease.tokens += Number(granted);
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
      const live = Number(await this.#redis.kmsQuotaHeartbeat(NODES_KEY, this.#nodeId, NODE_TTL_MS));
      this.#liveNodes = Math.max(1, live);
      this.#setDegraded(false);
    } catch {
      this.#setDegraded(true);
    }
  }

  #setDegraded(degraded: boolean): void {
    if (degraded === this.#degraded) return;
    this.#degraded = degraded;
    this.#gauge?.set(degraded ? 1 : 0);
    if (degraded) {
      const share = this.#liveNodes;
      const limits = new Map([...this.#config.limits].map(([quotaClass, limit]) => [quotaClass, limit / share]));
      this.#fallback = new QuotaLimiter({ limits }, this.#now);
      this.#log(`kms-engine: quota store unreachable; counting quotas locally at 1/${share} of each limit until it is back`);
    } else {
      // Leases from before the outage are stale (Redis may have lost its buckets): start afresh.
      for (const state of this.#classes.values()) state.leases.clear();
      this.#fallback = undefined;
      this.#log('kms-engine: quota store reachable again; sharing quotas through it');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    // Leave the live-node set at once, so the other nodes' shares grow without waiting for the TTL.
    await this.#redis.zrem(NODES_KEY, this.#nodeId).catch(() => {});
    this.#redis.disconnect();
  }
}

/** The limiter KMS_QUOTA_STORE names: in-memory per node by default, or shared through Redis. */
export async function openRequestQuotas(quotaStore: string, config: QuotaConfig, options: RedisQuotaOptions)
  : Promise<RequestQuotas & { registerMetrics?(registry: Registry): void; close?(): Promise<void> }> {
  if (quotaStore === 'memory') return new QuotaLimiter(config);
  return RedisQuotaLimiter.open(quotaStore, config, options);
}
