// Opens the store KMS_STORE names: the embedded SQLite database by default.
import { join } from 'node:path';
import { ConfigError, type Config } from '../config.js';
import { SqliteStore } from './sqlite.js';
import type { KeyStore } from './types.js';

export async function openStore(config: Config): Promise<KeyStore> {
  if (config.store === 'sqlite') return new SqliteStore(join(config.dataDir, 'kms.sqlite'));
  throw new ConfigError('KMS_STORE=postgres:// is not available in this build');
}
