// Joining the other nodes that share a PostgreSQL store: hear their changes (ChangeFeed -> cache drops) and
// coordinate scheduled work (one pass at a time across the cluster). With the embedded store this node is
// alone: it only watches for writes of a `kms-engine seed` beside it (src/cluster/outside-writes.ts).
import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import { PostgresStore } from '../store/postgres.js';
import { SqliteStore } from '../store/sqlite.js';
import type { KeyStore } from '../store/types.js';
import { ChangeFeed } from './change-feed.js';
import { dropAll, dropChanged, dropEverything, type CachedViews } from './invalidation.js';
import { watchOutsideWrites } from './outside-writes.js';
import { PostgresWorkLock, singleNodeLock, type WorkLock } from './scheduled-work.js';

export { resolveNodeId } from './node-id.js';
export { startScheduledWork, type WorkLock } from './scheduled-work.js';

export interface ClusterMembership {
  readonly workLock: WorkLock;
  /** Adds the membership's gauges (a shared store's change log age) to the node's registry. */
  registerMetrics?(registry: Registry): void;
  /**
   * True while this node cannot read the shared store and has dropped its caches for it (past KMS_STALE_CACHE_MS):
   * every request that needs a key fails, so /healthz takes the node out of its load balancer's rotation.
   */
  storeUnreachable?(): boolean;
  close(): Promise<void>;
}

export async function joinCluster(store: KeyStore, nodeId: string, views: CachedViews,
  options: { staleCacheMs: number }): Promise<ClusterMembership> {
  if (store instanceof SqliteStore) {
    const stopWatching = await watchOutsideWrites(store, views);
    return { workLock: singleNodeLock, close: async () => stopWatching() };
  }
  if (!(store instanceof PostgresStore)) return { workLock: singleNodeLock, close: async () => {} };
  const feed = await ChangeFeed.start({
    url: store.url, nodeId, pool: store.pool,
    onChange: (change) => dropChanged(views, change),
    onGap: () => dropEverything(views),
    staleAfterMs: options.staleCacheMs, onStale: () => dropAll(views),
  });
  return {
    workLock: new PostgresWorkLock(store.pool),
    registerMetrics(registry) {
      new Gauge({
        name: 'kms_store_change_log_age_seconds',
        help: 'Seconds since this node last read the shared store\'s change log: how stale its cached keys, aliases and grants may be (about 0.4 normally; past KMS_STALE_CACHE_MS it drops them).',
        registers: [registry],
        aggregator: 'max', // over KMS_FRONTENDS front ends: the stalest
        collect() { this.set(feed.ageSeconds); },
      });
    },
    storeUnreachable: () => feed.cachesDropped,
    close: () => feed.close(),
  };
}

/**
 * The node id stamped into audit records: set when the node is one of several (a shared store) or was named
 * with KMS_NODE_ID; a lone node's records stay as they always were.
 */
export const auditNodeId = (config: Pick<Config, 'nodeId' | 'store'>, nodeId: string): string | undefined =>
  config.nodeId ?? (config.store === 'sqlite' ? undefined : nodeId);
