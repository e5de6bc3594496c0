// The one storage contract, run against both KeyStore implementations: SQLite (embedded) and PostgreSQL (a
// throwaway server, a fresh database per test). Whatever a store must do, both must do the same way.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applicationName, PostgresStore } from '../../src/store/postgres.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { AliasNameTaken, StoreConflict, type GrantRecord, type KeyRecord, type KeyStore } from '../../src/store/types.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

let postgres: TestPostgres;
let databases = 0;

/** A new empty database on the test server, so every test starts from nothing. */
async function freshDatabaseUrl(): Promise<string> {
  const name = `store_${++databases}`;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return postgres.url.replace(/\/postgres$/, `/${name}`);
}

const backends: Array<{ name: string; open(): Promise<{ store: KeyStore; cleanup(): void }> }> = [
  {
    name: 'SqliteStore',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'kms-store-test-'));
      return { store: new SqliteStore(join(dir, 'kms.sqlite')), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgresStore',
    async open() {
      return { store: await PostgresStore.open(await freshDatabaseUrl(), { nodeId: 'test-node' }), cleanup: () => {} };
    },
  },
];

beforeAll(async () => { postgres = await startPostgres(); });
afterAll(async () => { await postgres?.remove(); });

function keyRecord(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const keyId = overrides.keyId ?? randomUUID();
  return {
    keyId,
    arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
    account: '111122223333',
    region: 'us-east-1',
    spec: 'SYMMETRIC_DEFAULT',
    usage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS',
    state: 'Enabled',
    description: 'a test key',
    creationDate: 1_700_000_000.25,
    policy: '{"Version":"2012-10-17","Statement":[]}',
    rotationEnabled: false,
    onDemandRotations: 0,
    currentMaterialId: 'ab'.repeat(32),
    materials: [{ materialId: 'ab'.repeat(32), wrapped: Buffer.from([0, 1, 2, 250, 251, 252]), createdAt: 1_700_000_000, state: 'CURRENT' }],
    tags: [{ TagKey: 'team', TagValue: 'crypto' }],
    version: 1,
    ...overrides,
  };
}

function grantRecord(keyId: string, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    grantId: randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, ''),
    keyId,
    granteePrincipal: 'arn:aws:iam::111122223333:role/app',
    issuingAccount: 'arn:aws:iam::111122223333:root',
    operations: ['Encrypt', 'Decrypt'],
    creationDate: 1_700_000_100,
    ...overrides,
  };
}

describe.each(backends)('$name', (backend) => {
  let store: KeyStore;
  let cleanup: () => void;

  const open = async () => {
    ({ store, cleanup } = await backend.open());
  };
  afterEach(async () => {
    await store?.close();
    cleanup?.();
  });

  it('stores a key and gives back the same record, Buffers included; a second insert of the id conflicts', async () => {
    await open();
    const record = keyRecord({ publicKey: Buffer.from('3059301306072a8648ce3d', 'hex'), rotationEnabled: true,
      rotationPeriodInDays: 365, nextRotationDate: 1_731_536_000 });
    await store.insertKey(record);
    const stored = await store.getKey(record.keyId);
    expect(stored).toEqual(record);
    expect(Buffer.isBuffer(stored!.materials[0]!.wrapped)).toBe(true);
    expect(await store.getKey(randomUUID())).toBeUndefined();
    await expect(store.insertKey(record)).rejects.toBeInstanceOf(StoreConflict);
  });

  it('stores a mutated copy intact: structuredClone turns Buffers into Uint8Arrays (Keyring.mutate drafts)', async () => {
    await open();
    const record = keyRecord({ publicKey: Buffer.from('3059301306072a8648ce3d', 'hex') });
    await store.insertKey(record);
    const draft = structuredClone(record);
    expect(Buffer.isBuffer(draft.materials[0]!.wrapped)).toBe(false);
    await store.updateKey({ ...draft, state: 'Disabled', version: 2 }, 1);
    const stored = await store.getKey(record.keyId);
    expect(stored!.materials[0]!.wrapped).toEqual(record.materials[0]!.wrapped);
    expect(stored!.publicKey).toEqual(record.publicKey);
  });

  it('updates only from the expected version: a stale writer gets StoreConflict and changes nothing', async () => {
    await open();
    const record = keyRecord();
    await store.insertKey(record);
    await store.updateKey({ ...record, state: 'Disabled', version: 2 }, 1);
    await expect(store.updateKey({ ...record, description: 'stale', version: 2 }, 1)).rejects.toBeInstanceOf(StoreConflict);
    const stored = await store.getKey(record.keyId);
    expect(stored).toMatchObject({ state: 'Disabled', version: 2, description: 'a test key' });
    await expect(store.updateKey(keyRecord({ version: 2 }), 1)).rejects.toBeInstanceOf(StoreConflict);
  });

  it('lists key ids in byte order, page by page, and counts keys by state', async () => {
    await open();
    const ids = ['0a', 'Zz', 'a0', 'ab', 'b-', 'b_'].map((prefix) => `${prefix}${randomUUID().slice(2)}`);
    for (const [i, keyId] of ids.entries()) await store.insertKey(keyRecord({ keyId, state: i % 3 === 0 ? 'Disabled' : 'Enabled' }));
    const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(await store.listKeyIds(undefined, 100)).toEqual(sorted);
    const first = await store.listKeyIds(undefined, 4);
    expect(first).toEqual(sorted.slice(0, 4));
    expect(await store.listKeyIds(first.at(-1), 4)).toEqual(sorted.slice(4));
    expect(await store.countKeysByState()).toEqual({ Disabled: 2, Enabled: 4 });
    // The counts follow state changes and deletions, and a state with no keys left is not reported.
    const disabled = (await store.getKey(ids[0]!))!;
    await store.updateKey({ ...disabled, state: 'Enabled', version: disabled.version + 1 }, disabled.version);
    const enabled = (await store.getKey(ids[1]!))!;
    await store.updateKey({ ...enabled, description: 'state unchanged', version: enabled.version + 1 }, enabled.version);
    expect(await store.countKeysByState()).toEqual({ Disabled: 1, Enabled: 5 });
    await store.deleteKey(ids[3]!);
    await store.deleteKey(ids[1]!);
    expect(await store.countKeysByState()).toEqual({ Enabled: 4 });
  });

  it('reports keys due for deletion or automatic rotation, and only those', async () => {
    await open();
    const deleting = keyRecord({ state: 'PendingDeletion', deletionDate: 1_000, pendingWindowInDays: 7 });
    const laterDeletion = keyRecord({ state: 'PendingDeletion', deletionDate: 5_000, pendingWindowInDays: 7 });
    const rotating = keyRecord({ rotationEnabled: true, rotationPeriodInDays: 90, nextRotationDate: 2_000 });
    const rotationOff = keyRecord({ rotationEnabled: false, nextRotationDate: 500 });
    for (const record of [deleting, laterDeletion, rotating, rotationOff]) await store.insertKey(record);
    expect((await store.dueKeys(3_000)).sort()).toEqual([deleting.keyId, rotating.keyId].sort());
    await store.updateKey({ ...rotating, nextRotationDate: 10_000, version: 2 }, 1);
    expect(await store.dueKeys(3_000)).toEqual([deleting.keyId]);
    // A disabled key is not rotated, so an overdue one is not due (not read on every pass) until it is enabled.
    const disabledOverdue = keyRecord({ state: 'Disabled', rotationEnabled: true, rotationPeriodInDays: 90, nextRotationDate: 2_500 });
    await store.insertKey(disabledOverdue);
    expect(await store.dueKeys(3_000)).toEqual([deleting.keyId]);
    await store.updateKey({ ...disabledOverdue, state: 'Enabled', version: 2 }, 1);
    expect((await store.dueKeys(3_000)).sort()).toEqual([deleting.keyId, disabledOverdue.keyId].sort());
  });

  it('keeps aliases: insert, name conflicts, retarget, list all or per key, delete', async () => {
    await open();
    const [one, two] = [keyRecord(), keyRecord()];
    await store.insertKey(one);
    await store.insertKey(two);
    await store.insertAlias({ name: 'alias/b', keyId: one.keyId, creationDate: 10, lastUpdatedDate: 10 });
    await store.insertAlias({ name: 'alias/a', keyId: one.keyId, creationDate: 11, lastUpdatedDate: 11 });
    await expect(store.insertAlias({ name: 'alias/a', keyId: two.keyId, creationDate: 12, lastUpdatedDate: 12 }))
      .rejects.toBeInstanceOf(StoreConflict);
    expect((await store.listAliases()).map((alias) => alias.name)).toEqual(['alias/a', 'alias/b']);
    await store.updateAlias({ name: 'alias/b', keyId: two.keyId, creationDate: 10, lastUpdatedDate: 20 });
    expect(await store.getAlias('alias/b')).toEqual({ name: 'alias/b', keyId: two.keyId, creationDate: 10, lastUpdatedDate: 20 });
    expect((await store.listAliases(one.keyId)).map((alias) => alias.name)).toEqual(['alias/a']);
    expect(await store.deleteAlias('alias/a')).toBe(true);
    expect(await store.deleteAlias('alias/a')).toBe(false);
    expect(await store.getAlias('alias/a')).toBeUndefined();
  });

  it('reads aliases a page at a time in byte order after a name, all or per key (ListAliases pages)', async () => {
    await open();
    const [one, two] = [keyRecord(), keyRecord()];
    await store.insertKey(one);
    await store.insertKey(two);
    const names = ['alias/B', 'alias/a-b', 'alias/a/b', 'alias/a_b', 'alias/ab', 'alias/b'];
    for (const [i, name] of names.entries()) {
      await store.insertAlias({ name, keyId: i % 2 === 0 ? one.keyId : two.keyId, creationDate: i, lastUpdatedDate: i });
    }
    const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const page = async (keyId: string | undefined, after: string | undefined, limit: number): Promise<string[]> =>
      (await store.listAliasesAfter(keyId, after, limit)).map((alias) => alias.name);
    expect(await page(undefined, undefined, 100)).toEqual(sorted);
    expect(await page(undefined, undefined, 4)).toEqual(sorted.slice(0, 4));
    expect(await page(undefined, sorted[3], 4)).toEqual(sorted.slice(4));
    // After a name no alias has (one deleted since the marker was handed out): the names that follow it.
    expect(await page(undefined, 'alias/a0', 2)).toEqual(sorted.filter((name) => name > 'alias/a0').slice(0, 2));
    const ofTwo = sorted.filter((name) => names.indexOf(name) % 2 === 1);
    expect(await page(two.keyId, undefined, 2)).toEqual(ofTwo.slice(0, 2));
    expect(await page(two.keyId, ofTwo[1], 2)).toEqual(ofTwo.slice(2));
    expect(await store.listAliasesAfter(one.keyId, undefined, 1)).toEqual([{ name: 'alias/B', keyId: one.keyId, creationDate: 0, lastUpdatedDate: 0 }]);
  });

  it('keeps grants in creation order, finds them by id and retiring principal, deletes them', async () => {
    await open();
    const key = keyRecord();
    await store.insertKey(key);
    const grants = [
      grantRecord(key.keyId, { name: 'first', retiringPrincipal: 'arn:aws:iam::111122223333:role/ops' }),
      grantRecord(key.keyId, { constraints: { EncryptionContextSubset: { app: 'x' } } }),
      grantRecord(key.keyId, { retiringPrincipal: 'arn:aws:iam::111122223333:role/ops' }),
    ];
    for (const grant of grants) await store.insertGrant(grant);
    expect(await store.listGrants(key.keyId)).toEqual(grants);
    expect(await store.getGrant(grants[1]!.grantId)).toEqual(grants[1]);
    expect(await store.listGrantsByRetiringPrincipal('arn:aws:iam::111122223333:role/ops')).toEqual([grants[0], grants[2]]);
    expect(await store.deleteGrant(grants[0]!.grantId)).toBe(true);
    expect(await store.deleteGrant(grants[0]!.grantId)).toBe(false);
    expect(await store.listGrants(key.keyId)).toEqual(grants.slice(1));
  });

  it('reads grants a page at a time in the order stored, after a place, of a key or of a retiring principal', async () => {
    await open();
    const [key, other] = [keyRecord(), keyRecord()];
    await store.insertKey(key);
    await store.insertKey(other);
    const ops = 'arn:aws:iam::111122223333:role/ops';
    const grants = Array.from({ length: 7 }, (_, i) => grantRecord(i % 3 === 2 ? other.keyId : key.keyId, i % 2 === 0 ? { retiringPrincipal: ops } : {}));
    for (const grant of grants) await store.insertGrant(grant);
    const ids = (placed: Array<{ grant: GrantRecord }>): string[] => placed.map((each) => each.grant.grantId);
    const ofKey = grants.filter((grant) => grant.keyId === key.keyId).map((grant) => grant.grantId);
    const first = await store.listGrantsAfter({ keyId: key.keyId }, 0, 3);
    expect(ids(first)).toEqual(ofKey.slice(0, 3));
    expect(first[0]!.grant).toEqual(grants[0]);
    expect(first.map((each) => each.place)).toEqual([...first.map((each) => each.place)].sort((a, b) => a - b));
    expect(ids(await store.listGrantsAfter({ keyId: key.keyId }, first.at(-1)!.place, 3))).toEqual(ofKey.slice(3));
    // A place whose grant is gone since: the grants stored after it.
    await store.deleteGrant(ofKey[2]!);
    expect(ids(await store.listGrantsAfter({ keyId: key.keyId }, first.at(-1)!.place, 10))).toEqual(ofKey.slice(3));
    expect(ids(await store.listGrantsAfter({ keyId: key.keyId }, first[0]!.place, 10))).toEqual([ofKey[1], ...ofKey.slice(3)]);
    const retirable = grants.filter((grant) => grant.retiringPrincipal === ops && grant.grantId !== ofKey[2]).map((grant) => grant.grantId);
    const byOps = await store.listGrantsAfter({ retiringPrincipal: ops }, 0, 2);
    expect(ids(byOps)).toEqual(retirable.slice(0, 2));
    expect(ids(await store.listGrantsAfter({ retiringPrincipal: ops }, byOps.at(-1)!.place, 10))).toEqual(retirable.slice(2));
  });

  it('writes an alias with a new version of its key, both or neither (a key\'s alias limit rests on it)', async () => {
    await open();
    const key = keyRecord();
    const other = keyRecord();
    await store.insertKey(key);
    await store.insertKey(other);
    await store.insertAlias({ name: 'alias/taken', keyId: other.keyId, creationDate: 1, lastUpdatedDate: 1 });
    const fresh = { name: 'alias/fresh', keyId: key.keyId, creationDate: 2, lastUpdatedDate: 2 };
    await store.updateKey({ ...key, version: 2 }, 1, { alias: fresh, isNew: true });
    expect((await store.getKey(key.keyId))!.version).toBe(2);
    expect(await store.getAlias('alias/fresh')).toEqual(fresh);
    // A writer that read version 1 lost the race: neither its key nor its alias is written.
    await expect(store.updateKey({ ...key, version: 2, description: 'stale' }, 1,
      { alias: { ...fresh, name: 'alias/lost' }, isNew: true })).rejects.toBeInstanceOf(StoreConflict);
    expect(await store.getAlias('alias/lost')).toBeUndefined();
    // A new alias whose name is taken: AliasNameTaken, and the key keeps its version.
    await expect(store.updateKey({ ...key, version: 3 }, 2, { alias: { ...fresh, name: 'alias/taken' }, isNew: true }))
      .rejects.toBeInstanceOf(AliasNameTaken);
    expect((await store.getKey(key.keyId))!.version).toBe(2);
    expect((await store.getAlias('alias/taken'))!.keyId).toBe(other.keyId);
    // Moving an alias onto the key.
    const moved = { name: 'alias/taken', keyId: key.keyId, creationDate: 1, lastUpdatedDate: 5 };
    await store.updateKey({ ...key, version: 3 }, 2, { alias: moved, isNew: false });
    expect(await store.getAlias('alias/taken')).toEqual(moved);
    expect((await store.listAliases(key.keyId)).map((alias) => alias.name)).toEqual(['alias/fresh', 'alias/taken']);
  });

  it('keeps grants to service principals, found by their retiring service principal; older grant rows still read', async () => {
    await open();
    const key = keyRecord();
    await store.insertKey(key);
    const legacy = grantRecord(key.keyId, { retiringPrincipal: 'arn:aws:iam::111122223333:role/ops' });
    const toService = grantRecord(key.keyId, {
      granteePrincipal: undefined, granteeServicePrincipal: 'logs.us-east-1.amazonaws.com',
      retiringServicePrincipal: 'logs.us-east-1.amazonaws.com',
      constraints: { SourceArn: 'arn:aws:logs:us-east-1:111122223333:log-group:app' },
    });
    const { granteePrincipal: _none, ...serviceDocument } = toService;
    await store.insertGrant(legacy);
    await store.insertGrant(toService);
    expect(await store.listGrants(key.keyId)).toEqual([legacy, serviceDocument]);
    expect(await store.listGrantsByRetiringPrincipal('logs.us-east-1.amazonaws.com')).toEqual([serviceDocument]);
    expect(await store.listGrantsByRetiringPrincipal('arn:aws:iam::111122223333:role/ops')).toEqual([legacy]);
  });

  it('deletes a key together with its aliases and grants, leaving other keys alone', async () => {
    await open();
    const [doomed, kept] = [keyRecord(), keyRecord()];
    await store.insertKey(doomed);
    await store.insertKey(kept);
    await store.insertAlias({ name: 'alias/doomed', keyId: doomed.keyId, creationDate: 1, lastUpdatedDate: 1 });
    await store.insertAlias({ name: 'alias/kept', keyId: kept.keyId, creationDate: 1, lastUpdatedDate: 1 });
    const doomedGrant = grantRecord(doomed.keyId);
    const keptGrant = grantRecord(kept.keyId);
    await store.insertGrant(doomedGrant);
    await store.insertGrant(keptGrant);
    await store.deleteKey(doomed.keyId);
    expect(await store.getKey(doomed.keyId)).toBeUndefined();
    expect(await store.getAlias('alias/doomed')).toBeUndefined();
    expect(await store.getGrant(doomedGrant.grantId)).toBeUndefined();
    expect(await store.getKey(kept.keyId)).toEqual(kept);
    expect((await store.listAliases()).map((alias) => alias.name)).toEqual(['alias/kept']);
    expect(await store.listGrants(kept.keyId)).toEqual([keptGrant]);
  });

  it('lets exactly one of many concurrent writers from the same version win', async () => {
    await open();
    const record = keyRecord();
    await store.insertKey(record);
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) =>
      store.updateKey({ ...record, description: `writer ${i}`, version: 2 }, 1)));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected' && outcome.reason instanceof StoreConflict)).toHaveLength(7);
  });

  it('keeps each key\'s newest use whatever order uses arrive in, drops uses of unknown keys, deletes a key\'s use with it', async () => {
    const before = Date.now() / 1000;
    await open();
    const start = await store.usageTrackingStart();
    expect(start).toBeGreaterThan(before - 5);
    expect(start).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    const [a, b] = [keyRecord(), keyRecord()];
    await store.insertKey(a);
    await store.insertKey(b);
    const use = (keyId: string, usedAt: number, operation = 'Encrypt') =>
      ({ keyId, operation, usedAt, eventId: randomUUID(), requestId: randomUUID() });
    expect(await store.getKeyUsage(a.keyId)).toBeUndefined();

    const newest = use(a.keyId, 1_800_000_002.5, 'Sign');
    const unknown = use(randomUUID(), 1_800_000_000);
    await store.recordKeyUsage([use(a.keyId, 1_800_000_001), newest, use(b.keyId, 1_800_000_000), unknown]);
    expect(await store.getKeyUsage(a.keyId)).toEqual(newest);
    // An older use arriving later (another front end or node) does not replace a newer one.
    await store.recordKeyUsage([use(a.keyId, 1_800_000_002)]);
    expect(await store.getKeyUsage(a.keyId)).toEqual(newest);
    expect(await store.getKeyUsage(unknown.keyId)).toBeUndefined();
    await store.recordKeyUsage([]);

    await store.deleteKey(a.keyId);
    expect(await store.getKeyUsage(a.keyId)).toBeUndefined();
    // A key inserted again under a deleted key's id starts without a use.
    await store.insertKey(a);
    expect(await store.getKeyUsage(a.keyId)).toBeUndefined();
    expect((await store.getKeyUsage(b.keyId))?.usedAt).toBe(1_800_000_000);
    expect(await store.usageTrackingStart()).toBe(start);
  });
});

describe('SqliteStore specifics', () => {
  it('counts the keys of a store made before the per-state counts existed, once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-store-test-'));
    try {
      const path = join(dir, 'kms.sqlite');
      const old = new SqliteStore(path);
      for (const state of ['Enabled', 'Enabled', 'Disabled'] as const) await old.insertKey(keyRecord({ state }));
      await old.close();
      // What an older release left behind: the keys, without the counts table or its triggers.
      const raw = new Database(path);
      raw.exec('DROP TABLE key_state_counts; DROP TRIGGER keys_count_insert; DROP TRIGGER keys_count_delete; DROP TRIGGER keys_count_update;');
      raw.close();
      // Two openers (two front ends starting at once): the counts are filled by exactly one of them.
      const reopened = [new SqliteStore(path), new SqliteStore(path)];
      expect(await reopened[1]!.countKeysByState()).toEqual({ Disabled: 1, Enabled: 2 });
      for (const store of reopened) await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgresStore specifics', () => {
  it('migrates once when several nodes start at the same moment', async () => {
    const url = await freshDatabaseUrl();
    const stores = await Promise.all(Array.from({ length: 5 }, (_, i) => PostgresStore.open(url, { nodeId: `node-${i}` })));
    try {
      const { rows } = await stores[0]!.pool.query<{ version: number }>('SELECT version FROM kms_schema_migrations');
      expect(rows.map((row) => row.version).sort()).toEqual([1, 2]);
      const record = keyRecord();
      await stores[1]!.insertKey(record);
      expect(await stores[4]!.getKey(record.keyId)).toEqual(record);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('records every committed change, with the writing node, in the change log', async () => {
    const store = await PostgresStore.open(await freshDatabaseUrl(), { nodeId: 'writer-1' });
    try {
      const key = keyRecord();
      await store.insertKey(key);
      await store.insertAlias({ name: 'alias/logged', keyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 });
      await store.insertGrant(grantRecord(key.keyId));
      await expect(store.updateKey({ ...key, version: 2 }, 7)).rejects.toBeInstanceOf(StoreConflict); // nothing committed
      await store.deleteKey(key.keyId);
      const { rows } = await store.pool.query<{ kind: string; subject: string; origin: string }>(
        'SELECT kind, subject, origin FROM kms_changes ORDER BY seq');
      const changes = rows.map((row) => `${row.kind}:${row.subject}`);
      const writes = [`key:${key.keyId}`, 'alias:alias/logged', `grant:${key.keyId}`];
      expect(changes.slice(0, 3)).toEqual(writes);
      expect(changes.slice(3).sort()).toEqual([...writes].sort()); // the cascade of deleteKey, in any order
      expect(new Set(rows.map((row) => row.origin))).toEqual(new Set([applicationName('writer-1')])); // kms-engine:writer-1#<this process>
    } finally {
      await store.close();
    }
  });

  // Bounded by the store's connect and query timeouts: a hang would run into the test's own timeout instead.
  it('fails fast with DependencyTimeoutException while PostgreSQL is down, and recovers by itself', async () => {
    const store = await PostgresStore.open(await freshDatabaseUrl(), { nodeId: 'outage' });
    try {
      const key = keyRecord();
      await store.insertKey(key);
      await postgres.halt();
      await expect(store.getKey(key.keyId)).rejects.toMatchObject({ code: 'DependencyTimeoutException' });
      await expect(store.insertKey(keyRecord())).rejects.toMatchObject({ code: 'DependencyTimeoutException' });
      await postgres.start();
      expect(await store.getKey(key.keyId)).toEqual(key);
    } finally {
      await store.close();
    }
  });
});
