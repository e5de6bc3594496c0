// The token buckets of KMS_QUOTA_STORE=redis://...: every node's LeasedQuotaLimiter (leased-limiter.ts) leases
// from them, so KMS_QUOTAS limits the nodes together. One Lua script per call, atomic and on Redis's clock
// (node clocks do not matter); the live nodes, for the shares they fall back to, are a sorted set of heartbeats.
import { Redis } from 'ioredis';
import type { SharedBuckets } from './leased-limiter.js';

/** A node that has not beaten for this long no longer counts in the shares. */
const NODE_TTL_MS = 5_000;
const KEY_PREFIX = 'kms:quota:';
const NODES_KEY = `${KEY_PREFIX}nodes`;

// KEYS[1] bucket; ARGV: rate per second, capacity, tokens wanted, tokens owed (advanced earlier). Returns the
// tokens granted. The bucket may go negative by what was owed: the debt delays the next grants.
// src/quota/bucket-table.ts does the same arithmetic for the KMS_FRONTENDS primary: keep them in step.
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

export class RedisBuckets implements SharedBuckets {
  readonly #redis: Redis & QuotaScripts;

  private constructor(url: string) {
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
  }

  /** Connects to Redis; if it cannot, ioredis keeps reconnecting in the background (the heartbeat notices when it is back). */
  static async connect(url: string): Promise<RedisBuckets> {
    const buckets = new RedisBuckets(url);
    await buckets.#redis.connect().catch(() => {});
    return buckets;
  }

  async lease(bucket: string, rate: number, capacity: number, want: number, owed: number): Promise<number> {
    return Number(await this.#redis.kmsQuotaLease(`${KEY_PREFIX}${bucket}`, rate, capacity, want, owed));
  }

  async heartbeat(memberId: string): Promise<number> {
    return Number(await this.#redis.kmsQuotaHeartbeat(NODES_KEY, memberId, NODE_TTL_MS));
  }

  async leave(memberId: string): Promise<void> {
    await this.#redis.zrem(NODES_KEY, memberId);
  }

  close(): void {
    this.#redis.disconnect();
  }
}
