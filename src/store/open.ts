// Opens the store KMS_STORE names: the embedded SQLite database by default, or PostgreSQL shared by many nodes.
import { join } from 'node:path';
import { ConfigError, pathError, type Config } from '../config.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { KeyStore } from './types.js';

/**
 * A front end's share of KMS_STORE_POOL_SIZE, and never fewer than three connections: a scheduled pass holds one
 * (its lock) while its work and the change feed's catch-up need others.
 */
const MIN_POOL_PER_PROCESS = 3;
export const poolShare = (config: Pick<Config, 'storePoolSize' | 'frontends'>): number =>
  Math.max(MIN_POOL_PER_PROCESS, Math.ceil(config.storePoolSize / config.frontends));

export async function openStore(config: Config, nodeId: string): Promise<KeyStore> {
  if (config.store === 'sqlite') {
    const path = join(config.dataDir, 'kms.sqlite');
    try {
      return new SqliteStore(path);
    } catch (error) {
      throw pathError('KMS_DATA_DIR', path, error);
    }
  }
  try {
    return await PostgresStore.open(config.store, { nodeId, poolSize: poolShare(config) });
  } catch (error) {
    // Name the failure, never the URL: it may carry a password.
    const reason = (error as { code?: string }).code ?? (error instanceof Error ? error.message : 'error');
    throw new ConfigError(`KMS_STORE: cannot open the PostgreSQL store (${reason})`);
  }
}
