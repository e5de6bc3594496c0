// The shared store: PostgreSQL, for several nodes serving the same keys. Same documents as SQLite (codec.ts)
// with the few columns queries need. Every write is one statement (one round trip, atomic); triggers record
// each change and NOTIFY other nodes on commit (migrations/index.ts, src/cluster/change-feed.ts).
//
// Failure behaviour: a node must fail fast, never hang, while PostgreSQL restarts or is unreachable. The pool
// gives up connecting after CONNECT_TIMEOUT_MS, every query after QUERY_TIMEOUT_MS (client side, and
// statement_timeout server side); such failures surface as DependencyTimeoutException (503, retryable).
// Broken connections are dropped by the pool, so the node recovers by itself once PostgreSQL is back.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DEPENDENCY_TIMEOUT_MESSAGE } from '../realism/messages.js';
import { KmsError } from '../protocol/errors.js';
import { keyFromDocument, keyToDocument } from './codec.js';
import { ADVISORY_LOCKS, migrate } from './migrations/index.js';
import { dueAt, retiringColumn } from './sqlite.js';
import {
  AliasGone, AliasNameTaken, GrantLimitReached, StoreConflict, type AliasRecord, type AliasWrite, type GrantRecord, type PlacedGrant, type KeyRecord, type KeyStore,
  type KeyUsageRecord,
} from './types.js';

const CONNECT_TIMEOUT_MS = 2_000;
const QUERY_TIMEOUT_MS = 5_000;
const POOL_SIZE = 10;

export interface PostgresStoreOptions {
  /** Names this node's connections (application_name kms-engine:<nodeId>#<process>): change notifications carry it. */
  nodeId: string;
  poolSize?: number;
}

/**
 * This process among every process on the store: two nodes given one KMS_NODE_ID (a templated configuration, a
 * cloned data directory) are still two writers, or each would take the other's changes for its own.
 */
const PROCESS_TAG = randomBytes(4).toString('hex');

/**
 * The application_name of this process's connections (kms-engine:<node id>#<process tag>, within PostgreSQL's
 * 63 bytes): the change feed compares it to skip the process's own changes; the node id shows who is connected.
 */
export const applicationName = (nodeId: string): string =>
  `kms-engine:${nodeId.slice(0, 63 - 'kms-engine:'.length - 1 - PROCESS_TAG.length)}#${PROCESS_TAG}`;

/** pg connection settings shared by the store's pool and the cluster's dedicated connections. */
export function connectionSettings(url: string, nodeId: string): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: applicationName(nodeId),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    statement_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
  };
}

interface AliasRow { name: string; key_id: string; creation_date: number; last_updated_date: number }
const aliasFromRow = (row: AliasRow): AliasRecord =>
  ({ name: row.name, keyId: row.key_id, creationDate: row.creation_date, lastUpdatedDate: row.last_updated_date });
const grantFromRow = (row: { doc: string }): GrantRecord => JSON.parse(row.doc) as GrantRecord;

// SQLSTATE classes and driver errors that mean "PostgreSQL is not answering", as opposed to a bad query.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '53300']);
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True when `error` says the database is unreachable, restarting or too slow (retryable by the client). */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code;
  if (code !== undefined && (UNAVAILABLE_SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  return /timeout|Connection terminated|Client has encountered a connection error|not queryable|ECONNREFUSED/i.test(error.message);
}

const unavailable = (): KmsError => new KmsError('DependencyTimeoutException', DEPENDENCY_TIMEOUT_MESSAGE);

export class PostgresStore implements KeyStore {
  readonly kind = 'postgres';
  /** Shared with the cluster modules (change-log catch-up, scheduled-work lock): one pool per node. */
  readonly pool: pg.Pool;

  private constructor(readonly url: string, readonly nodeId: string, poolSize: number) {
    this.pool = new pg.Pool({ ...connectionSettings(url, nodeId), max: poolSize, idleTimeoutMillis: 30_000 });
    // An idle connection dying (PostgreSQL restarting) is reported here; the pool has already dropped it.
    this.pool.on('error', () => {});
  }

  /** Connects and brings the schema up to date (waits for another node doing the same). */
  static async open(url: string, options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(url, options.nodeId, options.poolSize ?? POOL_SIZE);
    try {
      const client = await store.pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
    } catch (error) {
      await store.pool.end().catch(() => {});
      throw error;
    }
    return store;
  }

  /** One statement; unavailability becomes DependencyTimeoutException. Reads are retried once on a fresh connection. */
  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[], retryable = false): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      if (retryable) {
        try {
          return await this.pool.query<R>(text, values);
        } catch (retryError) {
          if (!isUnavailable(retryError)) throw retryError;
        }
      }
      throw unavailable();
    }
  }

  /** `work` in one transaction on one connection; unavailability becomes DependencyTimeoutException. Never retried. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw isUnavailable(error) ? unavailable() : error;
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error('rollback failed');
      });
      throw isUnavailable(error) ? unavailable() : error;
    } finally {
      client.release(broken);
    }
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const { rows } = await this.query<{ doc: string }>('SELECT doc FROM kms_keys WHERE key_id = $1', [keyId], true);
    return rows[0] === undefined ? undefined : keyFromDocument(rows[0].doc);
  }

  async listKeyIds(afterKeyId: string | undefined, limit: number): Promise<string[]> {
    const { rows } = await this.query<{ key_id: string }>(
      'SELECT key_id FROM kms_keys WHERE key_id > $1 ORDER BY key_id LIMIT $2', [afterKeyId ?? '', limit], true);
    return rows.map((row) => row.key_id);
  }

  async countKeysByState(): Promise<Record<string, number>> {
    const { rows } = await this.query<{ state: string; n: number }>(
      'SELECT state, count(*)::integer AS n FROM kms_keys GROUP BY state', [], true);
    return Object.fromEntries(rows.map((row) => [row.state, row.n]));
  }

  async dueKeys(now: number): Promise<string[]> {
    const { rows } = await this.query<{ key_id: string }>(
      'SELECT key_id FROM kms_keys WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY key_id', [now], true);
    return rows.map((row) => row.key_id);
  }

  async insertKey(record: KeyRecord): Promise<void> {
    try {
      await this.query('INSERT INTO kms_keys (key_id, version, state, due_at, doc) VALUES ($1, $2, $3, $4, $5)',
        [record.keyId, record.version, record.state, dueAt(record), keyToDocument(record)]);
    } catch (error) {
      throw uniqueViolation(error) ? new StoreConflict(`key ${record.keyId} exists`) : error;
    }
  }

  async updateKey(record: KeyRecord, expectedVersion: number, alias?: AliasWrite): Promise<void> {
    const keyValues = [record.version, record.state, dueAt(record), keyToDocument(record), record.keyId, expectedVersion];
    if (alias === undefined) {
      const result = await this.query(
        'UPDATE kms_keys SET version = $1, state = $2, due_at = $3, doc = $4 WHERE key_id = $5 AND version = $6', keyValues);
      if (result.rowCount !== 1) throw new StoreConflict(`key ${record.keyId} changed concurrently`);
      return;
    }
    // One statement: the alias is written only from the key row the version check updated, so a writer that
    // lost the race (its UPDATE waits on the row lock, then finds the new version) writes neither.
    const { name, keyId, creationDate, lastUpdatedDate } = alias.alias;
    const [aliasWrite, aliasValues] = alias.isNew
      ? [`INSERT INTO kms_aliases (name, key_id, creation_date, last_updated_date)
           SELECT $7, $8, $9, $10 FROM updated RETURNING name`, [name, keyId, creationDate, lastUpdatedDate]]
      : [`UPDATE kms_aliases SET key_id = $8, last_updated_date = $9
           WHERE name = $7 AND EXISTS (SELECT 1 FROM updated) RETURNING name`, [name, keyId, lastUpdatedDate]];
    let updated: number;
    let aliasesWritten: number;
    try {
      const { rows } = await this.query<{ n: number; a: number }>(`WITH updated AS (
          UPDATE kms_keys SET version = $1, state = $2, due_at = $3, doc = $4 WHERE key_id = $5 AND version = $6
          RETURNING key_id),
        alias AS (${aliasWrite})
        SELECT (SELECT count(*)::integer FROM updated) AS n, (SELECT count(*)::integer FROM alias) AS a`,
      [...keyValues, ...aliasValues]);
      updated = rows[0]!.n;
      aliasesWritten = rows[0]!.a;
    } catch (error) {
      throw uniqueViolation(error) ? new AliasNameTaken(`alias ${name} exists`) : error;
    }
    if (updated !== 1) throw new StoreConflict(`key ${record.keyId} changed concurrently`);
    // A DeleteAlias won the race: the key took a new version with nothing else changed, the alias stays deleted.
    if (aliasesWritten !== 1) throw new AliasGone(`alias ${name} does not exist`);
  }

  async deleteKey(keyId: string): Promise<void> {
    // Data-modifying CTEs: one statement, so the key, its aliases, grants and last use go together or not at all.
    await this.query(`WITH aliases AS (DELETE FROM kms_aliases WHERE key_id = $1),
      grants AS (DELETE FROM kms_grants WHERE key_id = $1),
      uses AS (DELETE FROM kms_key_last_usage WHERE key_id = $1)
      DELETE FROM kms_keys WHERE key_id = $1`, [keyId]);
  }

  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const { rows } = await this.query<AliasRow>('SELECT * FROM kms_aliases WHERE name = $1', [name], true);
    return rows[0] === undefined ? undefined : aliasFromRow(rows[0]);
  }

  async listAliases(keyId?: string): Promise<AliasRecord[]> {
    const { rows } = keyId === undefined
      ? await this.query<AliasRow>('SELECT * FROM kms_aliases ORDER BY name', [], true)
      : await this.query<AliasRow>('SELECT * FROM kms_aliases WHERE key_id = $1 ORDER BY name', [keyId], true);
    return rows.map(aliasFromRow);
  }

  async listAliasesAfter(keyId: string | undefined, afterName: string | undefined, limit: number): Promise<AliasRecord[]> {
    const { rows } = keyId === undefined
      ? await this.query<AliasRow>('SELECT * FROM kms_aliases WHERE name > $1 ORDER BY name LIMIT $2', [afterName ?? '', limit], true)
      : await this.query<AliasRow>('SELECT * FROM kms_aliases WHERE key_id = $1 AND name > $2 ORDER BY name LIMIT $3',
        [keyId, afterName ?? '', limit], true);
    return rows.map(aliasFromRow);
  }

  async insertAlias(alias: AliasRecord): Promise<void> {
    try {
      await this.query('INSERT INTO kms_aliases (name, key_id, creation_date, last_updated_date) VALUES ($1, $2, $3, $4)',
        [alias.name, alias.keyId, alias.creationDate, alias.lastUpdatedDate]);
    } catch (error) {
      throw uniqueViolation(error) ? new StoreConflict(`alias ${alias.name} exists`) : error;
    }
  }

  async updateAlias(alias: AliasRecord): Promise<void> {
    await this.query('UPDATE kms_aliases SET key_id = $1, last_updated_date = $2 WHERE name = $3',
      [alias.keyId, alias.lastUpdatedDate, alias.name]);
  }

  async deleteAlias(name: string): Promise<boolean> {
    return ((await this.query('DELETE FROM kms_aliases WHERE name = $1', [name])).rowCount ?? 0) > 0;
  }

  async listGrants(keyId: string): Promise<GrantRecord[]> {
    const { rows } = await this.query<{ doc: string }>('SELECT doc FROM kms_grants WHERE key_id = $1 ORDER BY seq', [keyId], true);
    return rows.map(grantFromRow);
  }

  async getGrant(grantId: string): Promise<GrantRecord | undefined> {
    const { rows } = await this.query<{ doc: string }>('SELECT doc FROM kms_grants WHERE grant_id = $1', [grantId], true);
    return rows[0] === undefined ? undefined : grantFromRow(rows[0]);
  }

  async listGrantsByRetiringPrincipal(principal: string): Promise<GrantRecord[]> {
    const { rows } = await this.query<{ doc: string }>(
      'SELECT doc FROM kms_grants WHERE retiring_principal = $1 ORDER BY seq', [principal], true);
    return rows.map(grantFromRow);
  }

  async listGrantsAfter(of: { keyId: string } | { retiringPrincipal: string }, afterPlace: number, limit: number): Promise<PlacedGrant[]> {
    const [column, value] = 'keyId' in of ? ['key_id', of.keyId] : ['retiring_principal', of.retiringPrincipal];
    // On the (key_id, seq) and (retiring_principal, seq) indexes. seq is a bigint, which pg hands over as text.
    const { rows } = await this.query<{ place: string; doc: string }>(
      `SELECT seq AS place, doc FROM kms_grants WHERE ${column} = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [value, afterPlace, limit], true);
    return rows.map((row) => ({ grant: grantFromRow(row), place: Number(row.place) }));
  }

  async insertGrant(grant: GrantRecord, sameAs?: (existing: GrantRecord) => boolean, maxGrantsPerKey?: number): Promise<GrantRecord> {
    const insert = 'INSERT INTO kms_grants (grant_id, key_id, retiring_principal, doc) VALUES ($1, $2, $3, $4)';
    const values = [grant.grantId, grant.keyId, retiringColumn(grant), JSON.stringify(grant)];
    if (sameAs === undefined && maxGrantsPerKey === undefined) {
      await this.query(insert, values);
      return grant;
    }
    // A named grant or a counted one: look, count and insert under a per-key lock held to commit, so nodes racing
    // with the same name and terms make one grant, and nodes racing for a key's last place one between them
    // (without it, each finds none and counts the same under READ COMMITTED, and inserts its own).
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADVISORY_LOCKS.namedGrants, grant.keyId]);
      if (sameAs !== undefined) {
        const { rows } = await client.query<{ doc: string }>('SELECT doc FROM kms_grants WHERE key_id = $1 ORDER BY seq', [grant.keyId]);
        const existing = rows.map(grantFromRow).find(sameAs);
        if (existing !== undefined) return existing;
      }
      if (maxGrantsPerKey !== undefined) {
        const { rows } = await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM kms_grants WHERE key_id = $1', [grant.keyId]);
        if (Number(rows[0]!.n) >= maxGrantsPerKey) throw new GrantLimitReached(`key ${grant.keyId} has ${maxGrantsPerKey} grants`);
      }
      await client.query(insert, values);
      return grant;
    });
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    return ((await this.query('DELETE FROM kms_grants WHERE grant_id = $1', [grantId])).rowCount ?? 0) > 0;
  }

  async recordKeyUsage(uses: readonly KeyUsageRecord[]): Promise<void> {
    if (uses.length === 0) return;
    // One statement for the whole batch: the uses arrive as parallel arrays, the newest per key first (an upsert
    // may touch a row only once per statement).
    await this.query(`INSERT INTO kms_key_last_usage (key_id, operation, used_at, event_id, request_id)
      SELECT DISTINCT ON (u.key_id) u.key_id, u.operation, u.used_at, u.event_id, u.request_id
      FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[]) AS u(key_id, operation, used_at, event_id, request_id)
      WHERE EXISTS (SELECT 1 FROM kms_keys k WHERE k.key_id = u.key_id)
      ORDER BY u.key_id, u.used_at DESC
      ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at,
        event_id = excluded.event_id, request_id = excluded.request_id
      WHERE excluded.used_at > kms_key_last_usage.used_at`,
    [uses.map((u) => u.keyId), uses.map((u) => u.operation), uses.map((u) => u.usedAt), uses.map((u) => u.eventId),
      uses.map((u) => u.requestId)]);
  }

  async getKeyUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const { rows } = await this.query<{ operation: string; used_at: number; event_id: string; request_id: string }>(
      'SELECT operation, used_at, event_id, request_id FROM kms_key_last_usage WHERE key_id = $1', [keyId], true);
    const row = rows[0];
    return row === undefined ? undefined
      : { keyId, operation: row.operation, usedAt: row.used_at, eventId: row.event_id, requestId: row.request_id };
  }

  async usageTrackingStart(): Promise<number> {
    const { rows } = await this.query<{ at: number }>(
      'SELECT extract(epoch FROM applied_at)::float8 AS at FROM kms_schema_migrations WHERE version = 2', [], true);
    return rows[0]!.at;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

const uniqueViolation = (error: unknown): boolean => error instanceof Error && (error as { code?: string }).code === '23505';
