// The PostgreSQL schema, as numbered migrations applied in order on start. Several nodes may start at once:
// migrate() runs in one transaction under a transaction-scoped advisory lock, so exactly one node applies a
// migration and the others wait, then find it recorded. Never edit a shipped migration: append a new one.
import type pg from 'pg';

/** Advisory lock keys are one bigint namespace per database: these are ours ('kms' in ASCII, then a number). */
export const ADVISORY_LOCKS = {
  migrations: 0x6b6d7301,
  scheduledWork: 0x6b6d7302,
  /** With the key id's hash as the second key (the two-int form): CreateGrant with a Name, per key. */
  namedGrants: 0x6b6d7303,
} as const;

/** Every committed change to a key, alias or grant is announced on this channel (see the trigger below). */
export const CHANGES_CHANNEL = 'kms_changes';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'keys, aliases, grants; change log with NOTIFY',
    // Ids and names compare bytewise (COLLATE "C"), as in SQLite, so ListKeys/ListAliases page identically.
    // The change trigger writes a row to kms_changes and NOTIFYs in the writing transaction: other nodes hear
    // of a change exactly when it commits, and a node that missed notifications reads the log to catch up.
    // `origin` is the writing connection's application_name (kms-engine:<node id>#<process>), so a node skips its own.
    sql: `
CREATE TABLE kms_keys (
  key_id text COLLATE "C" PRIMARY KEY,
  version integer NOT NULL,
  state text NOT NULL,
  due_at double precision,
  doc text NOT NULL);
CREATE INDEX kms_keys_due ON kms_keys (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE kms_aliases (
  name text COLLATE "C" PRIMARY KEY,
  key_id text COLLATE "C" NOT NULL,
  creation_date double precision NOT NULL,
  last_updated_date double precision NOT NULL);
CREATE INDEX kms_aliases_key ON kms_aliases (key_id);
CREATE TABLE kms_grants (
  seq bigserial,
  grant_id text PRIMARY KEY,
  key_id text NOT NULL,
  retiring_principal text,
  doc text NOT NULL);
CREATE INDEX kms_grants_key ON kms_grants (key_id, seq);
CREATE INDEX kms_grants_retiring ON kms_grants (retiring_principal, seq);
CREATE TABLE kms_changes (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL,
  subject text NOT NULL,
  origin text NOT NULL);
CREATE INDEX kms_changes_at ON kms_changes (at);
CREATE FUNCTION kms_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row_json jsonb;
  change_subject text;
  change_origin text := coalesce(current_setting('application_name', true), '');
  change_seq bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN row_json := to_jsonb(OLD); ELSE row_json := to_jsonb(NEW); END IF;
  change_subject := row_json ->> TG_ARGV[1];
  INSERT INTO kms_changes (kind, subject, origin) VALUES (TG_ARGV[0], change_subject, change_origin)
    RETURNING seq INTO change_seq;
  PERFORM pg_notify('${CHANGES_CHANNEL}', json_build_object(
    'seq', change_seq, 'kind', TG_ARGV[0], 'subject', change_subject, 'origin', change_origin)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER kms_keys_changed AFTER INSERT OR UPDATE OR DELETE ON kms_keys
  FOR EACH ROW EXECUTE FUNCTION kms_record_change('key', 'key_id');
CREATE TRIGGER kms_aliases_changed AFTER INSERT OR UPDATE OR DELETE ON kms_aliases
  FOR EACH ROW EXECUTE FUNCTION kms_record_change('alias', 'name');
CREATE TRIGGER kms_grants_changed AFTER INSERT OR UPDATE OR DELETE ON kms_grants
  FOR EACH ROW EXECUTE FUNCTION kms_record_change('grant', 'key_id');
`,
  },
  {
    version: 2,
    description: 'key last usage (GetKeyLastUsage)',
    // Not announced on kms_changes: no node caches uses, and a use changes no answer but GetKeyLastUsage's.
    // Tracking starts when this migration is applied (kms_schema_migrations.applied_at).
    sql: `
CREATE TABLE kms_key_last_usage (
  key_id text COLLATE "C" PRIMARY KEY,
  operation text NOT NULL,
  used_at double precision NOT NULL,
  event_id text NOT NULL,
  request_id text NOT NULL);
`,
  },
];

/**
 * A schema a newer release migrated (a downgrade, or an old node left in a cluster being upgraded) is refused
 * before this release reads or writes anything in it: it would misread what it does not know or fail to keep it.
 */
function refuseNewerSchema(applied: ReadonlySet<number>): void {
  const known = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  const newest = Math.max(0, ...applied);
  if (newest > known) {
    throw new Error(`the store was migrated by a newer kms-engine (schema version ${newest}, this release knows up to ${known}): `
      + 'run that release or a later one, or restore the backup taken before the upgrade');
  }
}

/** Applies every migration the database has not recorded yet; safe to call from many nodes at once. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.migrations]);
    await client.query(`CREATE TABLE IF NOT EXISTS kms_schema_migrations (
      version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM kms_schema_migrations');
    const applied = new Set(rows.map((row) => row.version));
    refuseNewerSchema(applied);
    const newlyApplied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO kms_schema_migrations (version, description) VALUES ($1, $2)',
        [migration.version, migration.description]);
      newlyApplied.push(migration.version);
    }
    await client.query('COMMIT');
    return newlyApplied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
