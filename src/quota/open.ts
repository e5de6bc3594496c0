// The request-quota limiter a process runs, chosen by KMS_QUOTA_STORE and by what the process is.
import type { Registry } from 'prom-client';
import { LeasedQuotaLimiter, type SharedBuckets } from './leased-limiter.js';
import { QuotaLimiter, type QuotaUsage } from './limiter.js';
import type { QuotaConfig } from './parse.js';
import { RedisBuckets } from './redis-buckets.js';

/** What server.ts needs of a limiter: QuotaLimiter and LeasedQuotaLimiter both provide it. */
export interface RequestQuotas {
  take(account: string, quotaClass: string): boolean;
  /** Whether take() would admit now; spends nothing. */
  canTake(account: string, quotaClass: string): boolean;
  limitOf(quotaClass: string): number | undefined;
  snapshot(): QuotaUsage[];
}

export interface QuotaStoreOptions {
  nodeId: string;
  /**
   * This process is a KMS_FRONTENDS front end: the primary's buckets (cluster/frontend-buckets.ts), which the
   * in-memory store then leases from, so the limits hold for the engine and not per front end.
   */
  frontends?: { buckets: SharedBuckets; name: string };
  /** KMS_FRONTENDS: this node's front ends, each a member of the shared store's limits (at least its share). */
  frontendCount?: number;
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * The limiter KMS_QUOTA_STORE names: a `redis://` URL shares the buckets through Redis; `memory` keeps them
 * in this process, or, in a KMS_FRONTENDS front end, in the primary. Without limits (KMS_QUOTAS=none) a front
 * end needs nothing of the primary.
 */
export async function openRequestQuotas(quotaStore: string, config: QuotaConfig, options: QuotaStoreOptions)
  : Promise<RequestQuotas & { registerMetrics?(registry: Registry): void; close?(): Promise<void> }> {
  const { nodeId: memberId, log, now } = options;
  if (quotaStore !== 'memory') {
    return LeasedQuotaLimiter.open(await RedisBuckets.connect(quotaStore), config, { memberId, log, now, knownMembers: options.frontendCount });
  }
  if (options.frontends !== undefined && config.limits.size > 0) {
    return LeasedQuotaLimiter.open(options.frontends.buckets, config, { memberId, log, now, storeName: options.frontends.name });
  }
  return new QuotaLimiter(config);
}
