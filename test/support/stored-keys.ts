// Rewrites a key record in a stopped server's SQLite store, for what the API cannot reach: material whose ValidTo
// has passed, a rotation schedule moved close, a record in the shape an older engine stored. The next server on
// the same data directory reads the edited record.
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { KeyRecord } from '../../src/store/types.js';

/** Replaces the stored record of `keyId` with `edit(record)`, as its next version. */
export async function rewriteStoredKey(dataDir: string, keyId: string, edit: (record: KeyRecord) => KeyRecord): Promise<void> {
  const store = new SqliteStore(join(dataDir, 'kms.sqlite'));
  try {
    const record = await store.getKey(keyId);
    if (record === undefined) throw new Error(`no stored key ${keyId}`);
    await store.updateKey({ ...edit(record), version: record.version + 1 }, record.version);
  } finally {
    await store.close();
  }
}
