// Joining the other nodes that share a PostgreSQL store: hear their changes (ChangeFeed -> cache drops) and
// coordinate scheduled work (one pass at a time across the cluster). With the embedded store this node is
// alone: it only watches for writes of a `kms-engine seed` beside it (src/cluster/outside-writes.ts).
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
  return { workLock: new PostgresWorkLock(store.pool), close: () => feed.close() };
}

/**
 * The node id stamped into audit records: set when the node is one of several (a shared store) or was named
 * with KMS_NODE_ID; a lone node's records stay as they always were.
 */
export const auditNodeId = (config: Pick<Config, 'nodeId' | 'store'>, nodeId: string): string | undefined =>
  config.nodeId ?? (config.store === 'sqlite' ? undefined : nodeId);
