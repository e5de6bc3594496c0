// KMS_FRONTENDS=2 on a PostgreSQL store: the same guarantees as on SQLite (a change answered by one front end
// holds on the other at once; concurrent writers to one key all succeed), with each front end a node of its own
// on the change feed (`<node id>.<n>`) and its own audit chain.
import {
  CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, EncryptCommand, ListAliasesCommand,
  TagResourceCommand, UpdateKeyDescriptionCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';
import {
  answeredBy, auditFiles, auditLineCounts, chainNodes, createAliasFlood, freshConnectionClient, outcome, sleep, verifyAudit,
} from './support.js';

const plaintext = Buffer.from('front ends on PostgreSQL');
let postgres: TestPostgres;
let server: TestServer;
let client: KMSClient;

beforeAll(async () => {
  postgres = await startPostgres();
  server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_STORE: postgres.url, KMS_NODE_ID: 'pg-node' } });
  client = freshConnectionClient(server);
});

afterAll(async () => {
  await server?.remove();
  await postgres?.remove();
});

describe('KMS_FRONTENDS=2 on PostgreSQL', () => {
  it('refuses Encrypt on the other front end right after DisableKey, every time', async () => {
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const warmed = await Promise.all(Array.from({ length: 6 }, async () =>
      (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))).$metadata.requestId!));
    expect(new Set((await answeredBy(server.dataDir, warmed)).values())).toEqual(new Set([1, 2]));
    for (let i = 0; i < 20; i++) {
      await client.send(new DisableKeyCommand({ KeyId: keyId }));
      expect(await outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('DisabledException');
      await client.send(new EnableKeyCommand({ KeyId: keyId }));
      expect(await outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('ok');
    }
  });

  it('fails no call when both front ends change one key at once', async () => {
    const before = auditLineCounts(server.dataDir);
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => outcome(i % 2 === 0
      ? client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: `t${i % 20}`, TagValue: String(i) }] }))
      : client.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: String(i) })))));
    expect(results.filter((result) => result !== 'ok')).toEqual([]);
    await sleep(300);
    const after = auditLineCounts(server.dataDir);
    for (const index of [1, 2]) expect(after.get(index) ?? 0).toBeGreaterThan(before.get(index) ?? 0);
  });

  it('holds a key to 50 aliases when both front ends create aliases on it at once', async () => {
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const outcomes = await createAliasFlood(server, keyId);
    expect(outcomes.filter((result) => result === 'ok')).toHaveLength(50);
    expect(outcomes.filter((result) => result !== 'ok')).toEqual(Array(10).fill('LimitExceededException'));
    expect((await client.send(new ListAliasesCommand({ KeyId: keyId, Limit: 100 }))).Aliases).toHaveLength(50);
  });

  it('writes one verifying audit chain per front end, named <node id>.<n>', async () => {
    expect(await server.stop()).toBe(0);
    const files = auditFiles(server.dataDir);
    expect([...files.keys()].sort()).toEqual([1, 2]);
    for (const [index, path] of files) {
      expect(verifyAudit(path).status).toBe(0);
      expect(chainNodes(path)).toEqual(new Set([`pg-node.${index}`]));
    }
  });
});

describe('KMS_FRONTENDS=4 on PostgreSQL with KMS_STORE_POOL_SIZE=8', () => {
  const FRONT_ENDS = 4;
  let pooled: TestServer;

  beforeAll(async () => {
    pooled = await startServer({ env: { KMS_FRONTENDS: String(FRONT_ENDS), KMS_WORKERS: String(FRONT_ENDS), KMS_STORE: postgres.url,
      KMS_NODE_ID: 'pooled', KMS_STORE_POOL_SIZE: '8', KMS_ROOT_KEY_FILE: join(server.dataDir, 'root.key') } }); // the store's root key
  });

  afterAll(async () => {
    await pooled?.remove();
  });

  it('opens no more PostgreSQL connections than its share per front end (at least 3) plus one listener each', async () => {
    const flooding = freshConnectionClient(pooled);
    // Every front end busy with store writes at once: each opens what its pool allows.
    const outcomes = await Promise.all(Array.from({ length: 160 }, () => outcome(flooding.send(new CreateKeyCommand({})))));
    expect(outcomes.filter((result) => result !== 'ok')).toEqual([]);
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM pg_stat_activity WHERE application_name LIKE 'kms-engine:pooled.%'`);
      expect(rows[0]!.n).toBeGreaterThanOrEqual(FRONT_ENDS); // the listeners at least: the right connections are counted
      expect(rows[0]!.n).toBeLessThanOrEqual(FRONT_ENDS * (3 + 1));
    } finally {
      await admin.end();
    }
  });
});
