// The embedded store: SQLite in KMS_DATA_DIR, WAL mode, synchronous=FULL so every committed write is on disk
// before the request that made it is answered. Records are JSON documents with the few columns queries need.
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { keyFromDocument, keyToDocument } from './codec.js';
import {
  AliasGone, AliasNameTaken, GrantLimitReached, StoreConflict, type AliasRecord, type AliasWrite, type GrantRecord, type PlacedGrant, type KeyRecord, type KeyStore,
  type KeyUsageRecord,
} from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (
  key_id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL, due_at REAL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS keys_due ON keys (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS aliases (
  name TEXT PRIMARY KEY, key_id TEXT NOT NULL, creation_date REAL NOT NULL, last_updated_date REAL NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_key ON aliases (key_id);
CREATE TABLE IF NOT EXISTS grants (
  grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, retiring_principal TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS grants_key ON grants (key_id);
CREATE INDEX IF NOT EXISTS grants_retiring ON grants (retiring_principal);
CREATE TABLE IF NOT EXISTS key_state_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS keys_count_insert AFTER INSERT ON keys BEGIN
  INSERT INTO key_state_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS keys_count_delete AFTER DELETE ON keys BEGIN
  UPDATE key_state_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER IF NOT EXISTS keys_count_update AFTER UPDATE OF state ON keys WHEN OLD.state <> NEW.state BEGIN
  UPDATE key_state_counts SET n = n - 1 WHERE state = OLD.state;
  INSERT INTO key_state_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TABLE IF NOT EXISTS key_last_usage (
  key_id TEXT PRIMARY KEY, operation TEXT NOT NULL, used_at REAL NOT NULL, event_id TEXT NOT NULL, request_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS store_meta (name TEXT PRIMARY KEY, value REAL NOT NULL);
`;

/**
 * The embedded store's format, kept in SQLite's user_version. Raise it when a release writes what an older one
 * would misread or fail to maintain (a new table kept by triggers, a new record shape, a new wrapping): the older
 * release then refuses the store with one line instead of serving it half understood, e.g. after a downgrade.
 * Releases before this check left user_version at 0 and do not read it.
 */
export const STORE_FORMAT = 1;

/** Refuses a store a newer release wrote (before changing anything in it); marks an older one as of this format. */
function claimStoreFormat(db: Database.Database, path: string): void {
  const format = db.pragma('user_version', { simple: true }) as number;
  if (format > STORE_FORMAT) {
    throw new Error(`${path} was written by a newer kms-engine (store format ${format}, this release reads up to ${STORE_FORMAT}): `
      + 'run that release or a later one, or restore the backup taken before the upgrade');
  }
  if (format < STORE_FORMAT) db.pragma(`user_version = ${STORE_FORMAT}`);
}

/**
 * Keys per state, kept by triggers: the kms_keys gauge reads a handful of rows instead of counting the keys
 * table, which better-sqlite3 does synchronously on the main thread (~7 ms per 10,000 keys: a 70 ms stall every
 * refresh with 100,000 keys). A store made before the table existed gets it filled once, in the same
 * transaction that creates it, so concurrent openers (several front ends) cannot count twice.
 */
function createSchema(db: Database.Database, path: string): void {
  db.transaction(() => {
    claimStoreFormat(db, path);
    const hadCounts = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'key_state_counts'").get() !== undefined;
    db.exec(SCHEMA);
    if (!hadCounts) db.exec('INSERT INTO key_state_counts (state, n) SELECT state, count(*) FROM keys GROUP BY state');
    // The first open that knows key_last_usage starts tracking; later opens keep that date.
    db.prepare("INSERT OR IGNORE INTO store_meta (name, value) VALUES ('usage_tracking_start', ?)").run(Date.now() / 1000);
  }).immediate();
}

/**
 * When scheduled work must look at a key next: its deletion date, else its next automatic rotation (Enabled keys
 * only: a disabled key is not rotated, and EnableKey's write makes an overdue one due again, so it is not read
 * on every pass meanwhile); or the expiry of its imported material (ValidTo), when that comes first.
 */
export const dueAt = (record: KeyRecord): number | null => {
  const scheduled = record.state === 'PendingDeletion' ? record.deletionDate ?? null
    : record.rotationEnabled && record.state === 'Enabled' ? record.nextRotationDate ?? null : null;
  const expires = record.validTo ?? null;
  return expires === null ? scheduled : scheduled === null ? expires : Math.min(scheduled, expires);
};

/**
 * The grants table's retiring_principal column: whoever may retire the grant by name, an AWS principal or a
 * service principal (ListRetirableGrants keeps the kind it was asked for). Old rows hold the former only.
 */
export const retiringColumn = (grant: GrantRecord): string | null =>
  grant.retiringPrincipal ?? grant.retiringServicePrincipal ?? null;

interface UsageRow { key_id: string; operation: string; used_at: number; event_id: string; request_id: string }

interface AliasRow { name: string; key_id: string; creation_date: number; last_updated_date: number }
const aliasFromRow = (row: AliasRow): AliasRecord =>
  ({ name: row.name, keyId: row.key_id, creationDate: row.creation_date, lastUpdatedDate: row.last_updated_date });

export class SqliteStore implements KeyStore {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  /**
   * Key uses are written through a second connection with synchronous = NORMAL: no fsync per commit (WAL still
   * survives a crash of the process). A use is no change any answer depends on, and AWS reports it eventually;
   * an fsync on the main thread every flush would be a stall in every request's tail.
   */
  private readonly usageDb: Database.Database;
  private readonly statements;
  private readonly usageStatements;

  constructor(path: string) {
    // SQLite creates a new database file (and its -wal and -shm files, which take the file's mode) as 0644: the
    // wrapped key material, policies and grants would be readable by every user of a data directory that is
    // not 0700 (one made beforehand, or a KMS_DATA_DIR shared with other files). Owner only, as the root key.
    closeSync(openSync(path, 'a', 0o600));
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    try {
      createSchema(this.db, path);
    } catch (error) {
      this.db.close(); // a refused store is left as found, without a -wal or -shm file beside it
      throw error;
    }
    const db = this.db;
    this.statements = {
      getKey: db.prepare<[string], { doc: string }>('SELECT doc FROM keys WHERE key_id = ?'),
      listKeyIds: db.prepare<[string, number], { key_id: string }>('SELECT key_id FROM keys WHERE key_id > ? ORDER BY key_id LIMIT ?'),
      countByState: db.prepare<[], { state: string; n: number }>('SELECT state, n FROM key_state_counts WHERE n > 0'),
      due: db.prepare<[number], { key_id: string }>('SELECT key_id FROM keys WHERE due_at IS NOT NULL AND due_at <= ?'),
      insertKey: db.prepare('INSERT INTO keys (key_id, version, state, due_at, doc) VALUES (?, ?, ?, ?, ?)'),
      updateKey: db.prepare('UPDATE keys SET version = ?, state = ?, due_at = ?, doc = ? WHERE key_id = ? AND version = ?'),
      deleteKey: db.prepare('DELETE FROM keys WHERE key_id = ?'),
      deleteKeyAliases: db.prepare('DELETE FROM aliases WHERE key_id = ?'),
      deleteKeyGrants: db.prepare('DELETE FROM grants WHERE key_id = ?'),
      getAlias: db.prepare<[string], AliasRow>('SELECT * FROM aliases WHERE name = ?'),
      listAliases: db.prepare<[], AliasRow>('SELECT * FROM aliases ORDER BY name'),
      listKeyAliases: db.prepare<[string], AliasRow>('SELECT * FROM aliases WHERE key_id = ? ORDER BY name'),
      listAliasesAfter: db.prepare<[string, number], AliasRow>('SELECT * FROM aliases WHERE name > ? ORDER BY name LIMIT ?'),
      listKeyAliasesAfter: db.prepare<[string, string, number], AliasRow>(
        'SELECT * FROM aliases WHERE key_id = ? AND name > ? ORDER BY name LIMIT ?'),
      insertAlias: db.prepare('INSERT INTO aliases (name, key_id, creation_date, last_updated_date) VALUES (?, ?, ?, ?)'),
      updateAlias: db.prepare('UPDATE aliases SET key_id = ?, last_updated_date = ? WHERE name = ?'),
      deleteAlias: db.prepare('DELETE FROM aliases WHERE name = ?'),
      listGrants: db.prepare<[string], { doc: string }>('SELECT doc FROM grants WHERE key_id = ? ORDER BY rowid'),
      getGrant: db.prepare<[string], { doc: string }>('SELECT doc FROM grants WHERE grant_id = ?'),
      listRetirable: db.prepare<[string], { doc: string }>('SELECT doc FROM grants WHERE retiring_principal = ? ORDER BY rowid'),
      // rowid is the order of insertion: a new row takes the largest plus one, and the engine never runs VACUUM,
      // which could renumber them.
      listGrantsAfter: db.prepare<[string, number, number], { place: number; doc: string }>(
        'SELECT rowid AS place, doc FROM grants WHERE key_id = ? AND rowid > ? ORDER BY rowid LIMIT ?'),
      listRetirableAfter: db.prepare<[string, number, number], { place: number; doc: string }>(
        'SELECT rowid AS place, doc FROM grants WHERE retiring_principal = ? AND rowid > ? ORDER BY rowid LIMIT ?'),
      countGrants: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM grants WHERE key_id = ?'),
      insertGrant: db.prepare('INSERT INTO grants (grant_id, key_id, retiring_principal, doc) VALUES (?, ?, ?, ?)'),
      deleteGrant: db.prepare('DELETE FROM grants WHERE grant_id = ?'),
      getUsage: db.prepare<[string], UsageRow>('SELECT * FROM key_last_usage WHERE key_id = ?'),
      deleteKeyUsage: db.prepare('DELETE FROM key_last_usage WHERE key_id = ?'),
      trackingStart: db.prepare<[], { value: number }>("SELECT value FROM store_meta WHERE name = 'usage_tracking_start'"),
      outsideWrites: db.prepare<[], { value: number }>("SELECT value FROM store_meta WHERE name = 'outside_writes'"),
      noteOutsideWrite: db.prepare("INSERT INTO store_meta (name, value) VALUES ('outside_writes', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1"),
    };
    this.usageDb = new Database(path);
    this.usageDb.pragma('synchronous = NORMAL');
    this.usageDb.pragma('busy_timeout = 5000');
    // The SELECT's WHERE also keeps SQLite from reading ON CONFLICT as a join constraint.
    const upsert = this.usageDb.prepare<[KeyUsageRecord]>(`INSERT INTO key_last_usage (key_id, operation, used_at, event_id, request_id)
      SELECT @keyId, @operation, @usedAt, @eventId, @requestId WHERE EXISTS (SELECT 1 FROM keys WHERE key_id = @keyId)
      ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at,
        event_id = excluded.event_id, request_id = excluded.request_id
      WHERE excluded.used_at > key_last_usage.used_at`);
    this.usageStatements = {
      record: this.usageDb.transaction((uses: readonly KeyUsageRecord[]) => {
        for (const { keyId, operation, usedAt, eventId, requestId } of uses) upsert.run({ keyId, operation, usedAt, eventId, requestId });
      }),
    };
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const row = this.statements.getKey.get(keyId);
    return row === undefined ? undefined : keyFromDocument(row.doc);
  }

  async listKeyIds(afterKeyId: string | undefined, limit: number): Promise<string[]> {
    return this.statements.listKeyIds.all(afterKeyId ?? '', limit).map((row) => row.key_id);
  }

  async countKeysByState(): Promise<Record<string, number>> {
    return Object.fromEntries(this.statements.countByState.all().map((row) => [row.state, row.n]));
  }

  async dueKeys(now: number): Promise<string[]> {
    return this.statements.due.all(now).map((row) => row.key_id);
  }

  async insertKey(record: KeyRecord): Promise<void> {
    try {
      this.statements.insertKey.run(record.keyId, record.version, record.state, dueAt(record), keyToDocument(record));
    } catch (error) {
      throw uniqueViolation(error) ? new StoreConflict(`key ${record.keyId} exists`) : error;
    }
  }

  async updateKey(record: KeyRecord, expectedVersion: number, alias?: AliasWrite): Promise<void> {
    const write = () => {
      const result = this.statements.updateKey.run(record.version, record.state, dueAt(record), keyToDocument(record),
        record.keyId, expectedVersion);
      if (result.changes !== 1) throw new StoreConflict(`key ${record.keyId} changed concurrently`);
      if (alias !== undefined) this.writeAlias(alias);
    };
    // A throw inside the transaction rolls the key back with the alias.
    if (alias === undefined) write();
    else this.db.transaction(write).immediate();
  }

  private writeAlias({ alias, isNew }: AliasWrite): void {
    if (!isNew) {
      // Thrown inside the transaction, so the key's new version is rolled back with it.
      if (this.statements.updateAlias.run(alias.keyId, alias.lastUpdatedDate, alias.name).changes === 0) {
        throw new AliasGone(`alias ${alias.name} does not exist`);
      }
      return;
    }
    try {
      this.statements.insertAlias.run(alias.name, alias.keyId, alias.creationDate, alias.lastUpdatedDate);
    } catch (error) {
      throw uniqueViolation(error) ? new AliasNameTaken(`alias ${alias.name} exists`) : error;
    }
  }

  async deleteKey(keyId: string): Promise<void> {
    this.db.transaction(() => {
      this.statements.deleteKeyAliases.run(keyId);
      this.statements.deleteKeyGrants.run(keyId);
      this.statements.deleteKeyUsage.run(keyId);
      this.statements.deleteKey.run(keyId);
    })();
  }

  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const row = this.statements.getAlias.get(name);
    return row === undefined ? undefined : aliasFromRow(row);
  }

  async listAliases(keyId?: string): Promise<AliasRecord[]> {
    const rows = keyId === undefined ? this.statements.listAliases.all() : this.statements.listKeyAliases.all(keyId);
    return rows.map(aliasFromRow);
  }

  async listAliasesAfter(keyId: string | undefined, afterName: string | undefined, limit: number): Promise<AliasRecord[]> {
    const rows = keyId === undefined ? this.statements.listAliasesAfter.all(afterName ?? '', limit)
      : this.statements.listKeyAliasesAfter.all(keyId, afterName ?? '', limit);
    return rows.map(aliasFromRow);
  }

  async insertAlias(alias: AliasRecord): Promise<void> {
    try {
      this.statements.insertAlias.run(alias.name, alias.keyId, alias.creationDate, alias.lastUpdatedDate);
    } catch (error) {
      throw uniqueViolation(error) ? new StoreConflict(`alias ${alias.name} exists`) : error;
    }
  }

  async updateAlias(alias: AliasRecord): Promise<void> {
    this.statements.updateAlias.run(alias.keyId, alias.lastUpdatedDate, alias.name);
  }

  async deleteAlias(name: string): Promise<boolean> {
    return this.statements.deleteAlias.run(name).changes > 0;
  }

  async listGrants(keyId: string): Promise<GrantRecord[]> {
    return this.statements.listGrants.all(keyId).map((row) => JSON.parse(row.doc) as GrantRecord);
  }

  async getGrant(grantId: string): Promise<GrantRecord | undefined> {
    const row = this.statements.getGrant.get(grantId);
    return row === undefined ? undefined : (JSON.parse(row.doc) as GrantRecord);
  }

  async listGrantsByRetiringPrincipal(principal: string): Promise<GrantRecord[]> {
    return this.statements.listRetirable.all(principal).map((row) => JSON.parse(row.doc) as GrantRecord);
  }

  async listGrantsAfter(of: { keyId: string } | { retiringPrincipal: string }, afterPlace: number, limit: number): Promise<PlacedGrant[]> {
    const rows = 'keyId' in of ? this.statements.listGrantsAfter.all(of.keyId, afterPlace, limit)
      : this.statements.listRetirableAfter.all(of.retiringPrincipal, afterPlace, limit);
    return rows.map((row) => ({ grant: JSON.parse(row.doc) as GrantRecord, place: row.place }));
  }

  async insertGrant(grant: GrantRecord, sameAs?: (existing: GrantRecord) => boolean, maxGrantsPerKey?: number): Promise<GrantRecord> {
    const insert = (): GrantRecord => {
      const existing = sameAs === undefined ? undefined
        : this.statements.listGrants.all(grant.keyId).map((row) => JSON.parse(row.doc) as GrantRecord).find(sameAs);
      if (existing !== undefined) return existing;
      if (maxGrantsPerKey !== undefined && this.statements.countGrants.get(grant.keyId)!.n >= maxGrantsPerKey) {
        throw new GrantLimitReached(`key ${grant.keyId} has ${maxGrantsPerKey} grants`);
      }
      this.statements.insertGrant.run(grant.grantId, grant.keyId, retiringColumn(grant), JSON.stringify(grant));
      return grant;
    };
    // Immediate: the write lock is taken before the look and the count, so KMS_FRONTENDS processes on this file
    // take turns.
    return sameAs === undefined && maxGrantsPerKey === undefined ? insert() : this.db.transaction(insert).immediate();
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    return this.statements.deleteGrant.run(grantId).changes > 0;
  }

  async recordKeyUsage(uses: readonly KeyUsageRecord[]): Promise<void> {
    if (uses.length > 0) this.usageStatements.record.immediate(uses);
  }

  async getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const row = this.statements.getUsage.get(keyId);
    return row === undefined ? undefined
      : { keyId: row.key_id, operation: row.operation, usedAt: row.used_at, eventId: row.event_id, requestId: row.request_id };
  }

  async usageTrackingStart(): Promise<number> {
    return this.statements.trackingStart.get()!.value;
  }

  /**
   * Writes by a process that is not a server of this store (`kms-engine seed` beside a running server): it counts
   * them here, and servers watching the count (src/cluster/outside-writes.ts) drop the caches that may be stale.
   */
  async noteOutsideWrite(): Promise<void> {
    this.statements.noteOutsideWrite.run();
  }

  async outsideWrites(): Promise<number> {
    return this.statements.outsideWrites.get()?.value ?? 0;
  }

  async close(): Promise<void> {
    this.usageDb.close();
    this.db.close();
  }
}

const uniqueViolation = (error: unknown): boolean =>
  error instanceof Error && (error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT') === true;
