// In-process checks of the cluster plumbing on a real PostgreSQL: the change feed (NOTIFY, skipping a node's
// own writes, catching up from the change log when its listener connection is lost) and scheduled work
// running exactly once when every node runs its passes at the same moment.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed, type StoreChange } from '../../src/cluster/change-feed.js';
import { PostgresWorkLock, startScheduledWork, type WorkLock } from '../../src/cluster/scheduled-work.js';
import { Keyring } from '../../src/keys/keyring.js';
import { runDueWork, type ScheduledEvent } from '../../src/keys/scheduler.js';
import type { CryptoPool } from '../../src/pool/crypto-pool.js';
import { applicationName, PostgresStore } from '../../src/store/postgres.js';
import type { KeyRecord } from '../../src/store/types.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { sleep } from './helpers.js';

let postgres: TestPostgres;
const stores: PostgresStore[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
  for (const nodeId of ['node-a', 'node-b', 'node-c']) stores.push(await PostgresStore.open(postgres.url, { nodeId }));
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await postgres?.remove();
});

function keyRecord(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const keyId = randomUUID();
  const materialId = 'cd'.repeat(32);
  return {
    keyId, arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`, account: '111122223333', region: 'us-east-1',
    spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', state: 'Enabled', description: '',
    creationDate: 1_700_000_000, policy: '{}', rotationEnabled: false, onDemandRotations: 0, currentMaterialId: materialId,
    materials: [{ materialId, wrapped: Buffer.alloc(60, 7), createdAt: 1_700_000_000, state: 'CURRENT' }], tags: [], version: 1,
    ...overrides,
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ChangeFeed', () => {
  it('delivers other nodes\' committed changes, not its own, and catches up from the log when its listener dies', async () => {
    const [a, b] = stores as [PostgresStore, PostgresStore];
    const heard: StoreChange[] = [];
    const feed = await ChangeFeed.start({ url: a.url, nodeId: a.nodeId, pool: a.pool, onChange: (change) => heard.push(change), onGap: () => {}, log: () => {} });
    try {
      const mine = keyRecord();
      const theirs = keyRecord();
      await a.insertKey(mine);
      await b.insertKey(theirs);
      await b.insertAlias({ name: 'alias/heard', keyId: theirs.keyId, creationDate: 1, lastUpdatedDate: 1 });
      await until('two changes', () => heard.length >= 2);
      expect(heard.map((change) => `${change.kind}:${change.subject}`)).toEqual([`key:${theirs.keyId}`, 'alias:alias/heard']);
      expect(heard.every((change) => change.origin === applicationName('node-b'))).toBe(true);

      // Kill the listener's backend: the change made meanwhile still arrives (log poll, then re-LISTEN).
      const { rows } = await b.pool.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query = 'LISTEN kms_changes' AND application_name = $1`,
        [applicationName('node-a')]);
      expect(rows.map((row) => row.killed)).toEqual([true]);
      await b.updateKey({ ...theirs, state: 'Disabled', version: 2 }, 1);
      await until('the change made while the listener was down', () => heard.length >= 3);
      expect(`${heard[2]!.kind}:${heard[2]!.subject}`).toBe(`key:${theirs.keyId}`);
      await until('the listener to reconnect', () => feed.listening);
      await b.deleteAlias('alias/heard');
      await until('a change after reconnecting', () => heard.length >= 4);
      expect(heard).toHaveLength(4); // delivered once each, whichever path brought them
    } finally {
      await feed.close();
    }
  });
});

describe('scheduled work across nodes', () => {
  /** Stands in for the worker pool: rotation asks it for new wrapped material, slowly enough to overlap. */
  const slowPool = {
    async run() {
      await sleep(30);
      return { ok: true, wrapped: new Uint8Array(60) };
    },
    evict() {},
  } as unknown as CryptoPool;

  it('deletes and rotates each due key exactly once when three nodes run their passes at the same moment', async () => {
    const now = Date.now() / 1000;
    const deleting = keyRecord({ state: 'PendingDeletion', deletionDate: now - 60, pendingWindowInDays: 7 });
    const rotating = keyRecord({ rotationEnabled: true, rotationPeriodInDays: 90, nextRotationDate: now - 60 });
    await stores[0]!.insertKey(deleting);
    await stores[0]!.insertKey(rotating);
    const events: Array<ScheduledEvent & { node: string }> = [];
    const passes = stores.flatMap((store) => {
      const keyring = new Keyring(store, 'us-east-1', '111122223333');
      const lock = new PostgresWorkLock(store.pool);
      // Two passes per node, as two timer ticks would: none may redo another's work.
      return [0, 1].map(async (round) => {
        await sleep(round * 50);
        return lock.runExclusive(() => runDueWork(keyring, slowPool, now, (event) => { events.push({ ...event, node: store.nodeId }); }));
      });
    });
    const outcomes = await Promise.all(passes);
    expect(events.map((event) => `${event.eventName} ${event.keyArn}`).sort()).toEqual(
      [`DeleteKey ${deleting.arn}`, `RotateKey ${rotating.arn}`].sort());
    expect(await stores[1]!.getKey(deleting.keyId)).toBeUndefined();
    expect(outcomes.some((outcome) => !outcome.ran)).toBe(true); // passes did overlap and were turned away
    const rotated = await stores[2]!.getKey(rotating.keyId);
    expect(rotated!.materials).toHaveLength(2);
    expect(rotated!.nextRotationDate).toBeGreaterThan(now);
  });
});

describe('scheduled work while the store is unreachable', () => {
  it('logs one line with the cause when passes start failing and one when they run again, not one per pass', async () => {
    const store = stores[0]!;
    const working = new PostgresWorkLock(store.pool);
    // A store nothing answers for: connections refused.
    const unreachable = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/kms', connectionTimeoutMillis: 500 });
    unreachable.on('error', () => {});
    let failures = 0;
    const lock: WorkLock = {
      runExclusive(work) {
        return failures < 4 ? (failures++, new PostgresWorkLock(unreachable).runExclusive(work)) : working.runExclusive(work);
      },
    };
    const log: string[] = [];
    const stop = startScheduledWork(lock, new Keyring(store, 'us-east-1', '111122223333'), {} as CryptoPool, 20, () => {},
      (line) => log.push(line));
    try {
      await until('the passes to run again', () => log.length >= 2);
      await sleep(100); // more passes, all running
      expect(failures).toBe(4);
      expect(log).toEqual([
        'kms-engine: scheduled work (deletions, rotations) failed (ECONNREFUSED); retrying every 0.02 s',
        'kms-engine: scheduled work (deletions, rotations) runs again',
      ]);
    } finally {
      stop();
      await unreachable.end();
    }
  });
});
