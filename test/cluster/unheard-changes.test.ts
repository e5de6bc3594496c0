// What a caller holds from one node works on another node that has not yet heard of the change behind it.
// Nodes hear each other's writes within a second (nodes.test.ts); meanwhile a node serves from its cache, the
// eventual consistency AWS KMS documents. But a ciphertext made under a key's new material (RotateKeyOnDemand)
// and a grant token from CreateGrant are proof of a change the node can read from the store at once, and AWS
// KMS honours them at once: a grant token exists precisely so a new grant can be used before it is consistent.
// And a write is judged on the key as stored: a refusal by the state the node cached is confirmed first.
//
// The change feed normally delivers within milliseconds, so to test the window deterministically the test
// switches the store's change trigger off around the write: that write is then never announced, exactly as
// if the other node had not heard of it yet.
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand, DescribeKeyCommand,
  EnableKeyCommand, EncryptCommand, ReEncryptCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, UpdateAliasCommand,
  UpdateKeyDescriptionCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { APP_ARN, APP_CREDENTIALS, outcome, startCluster, type TestCluster } from './helpers.js';

let postgres: TestPostgres;
let cluster: TestCluster;
let a: KMSClient;
let b: KMSClient;
let appOnB: KMSClient;

beforeAll(async () => {
  postgres = await startPostgres();
  cluster = await startCluster({ nodes: 2, storeUrl: postgres.url });
  [a, b] = cluster.nodes.map((node) => node.client()) as [KMSClient, KMSClient];
  appOnB = cluster.nodes[1]!.client({ credentials: APP_CREDENTIALS });
});

afterAll(async () => {
  await cluster?.remove();
  await postgres?.remove();
});

const plaintext = Buffer.from('made on node A, used on node B');

/** Runs `write` with the change trigger of `table` off: its changes reach no other node's cache. */
async function unannounced<T>(table: 'kms_keys' | 'kms_grants' | 'kms_aliases', write: () => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    await admin.query(`ALTER TABLE ${table} DISABLE TRIGGER ${table}_changed`);
    try {
      return await write();
    } finally {
      await admin.query(`ALTER TABLE ${table} ENABLE TRIGGER ${table}_changed`);
    }
  } finally {
    await admin.end();
  }
}

describe('a node that has not heard of another node\'s change yet', () => {
  it('decrypts and re-encrypts a ciphertext made under material rotated in on another node', async () => {
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const before = (await b.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))).CiphertextBlob!; // B caches the key
    const after = await unannounced('kms_keys', async () => {
      await a.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
      return (await a.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))).CiphertextBlob!;
    });
    const materialOf = (blob: Uint8Array) => Buffer.from(blob.subarray(17, 49)).toString('hex'); // version | key id | material id
    expect(materialOf(after)).not.toBe(materialOf(before));

    expect(Buffer.from((await b.send(new DecryptCommand({ CiphertextBlob: after }))).Plaintext!)).toEqual(plaintext);
    expect(Buffer.from((await b.send(new DecryptCommand({ CiphertextBlob: after, KeyId: keyId }))).Plaintext!)).toEqual(plaintext);
    const { CiphertextBlob: reEncrypted } = await b.send(new ReEncryptCommand({ CiphertextBlob: after, DestinationKeyId: keyId }));
    expect(Buffer.from((await a.send(new DecryptCommand({ CiphertextBlob: reEncrypted }))).Plaintext!)).toEqual(plaintext);
    // The old material still opens too.
    expect(Buffer.from((await b.send(new DecryptCommand({ CiphertextBlob: before }))).Plaintext!)).toEqual(plaintext);
  });

  it('lets a grantee use a grant created on another node at once with its grant token, and not without it', async () => {
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const encrypt = (grantTokens?: string[]) =>
      outcome(appOnB.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, GrantTokens: grantTokens })));
    expect(await encrypt()).toBe('AccessDeniedException'); // B caches the key's (empty) grant list
    const { GrantToken } = await unannounced('kms_grants', () =>
      a.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: APP_ARN, Operations: ['Encrypt'] })));

    expect(await encrypt()).toBe('AccessDeniedException'); // eventual consistency, as in AWS KMS
    expect(await encrypt([GrantToken!])).toBe('ok');
    expect(await encrypt()).toBe('ok'); // B now holds the grant list it read for the token
  });

  it('judges a write on the key as stored, not as cached: CancelKeyDeletion after ScheduleKeyDeletion elsewhere, then EnableKey', async () => {
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await b.send(new DescribeKeyCommand({ KeyId: keyId })); // B caches it Enabled
    await unannounced('kms_keys', () => a.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })));
    // As B cached it, the key is not pending deletion; as stored, it is.
    await b.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect((await a.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Disabled');

    await b.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })); // B caches it PendingDeletion
    await unannounced('kms_keys', () => a.send(new CancelKeyDeletionCommand({ KeyId: keyId })));
    // As B cached it, a key pending deletion cannot be enabled; as stored, it is Disabled.
    await b.send(new EnableKeyCommand({ KeyId: keyId }));
    expect((await a.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Enabled');
  });

  it('creates a grant or an alias and updates the description of a key whose deletion another node cancelled', async () => {
    const writes: Array<[string, (keyId: string) => Promise<unknown>]> = [
      ['CreateGrant', (keyId) => b.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: APP_ARN, Operations: ['Encrypt'] }))],
      ['CreateAlias', (keyId) => b.send(new CreateAliasCommand({ AliasName: `alias/back-${keyId}`, TargetKeyId: keyId }))],
      ['UpdateKeyDescription', (keyId) => b.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'kept after all' }))],
    ];
    const outcomes: string[] = [];
    for (const [, write] of writes) {
      const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      await b.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })); // B caches it PendingDeletion
      await unannounced('kms_keys', async () => {
        await a.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
        await a.send(new EnableKeyCommand({ KeyId: keyId }));
      });
      outcomes.push(await outcome(write(keyId)));
    }
    expect(outcomes).toEqual(writes.map(() => 'ok'));
  });

  it('updates or deletes an alias another node created after this one had found the name missing', async () => {
    const first = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const second = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const outcomes: string[] = [];
    for (const [name, write] of [
      ['alias/unheard-update', (alias: string) => b.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: second }))],
      ['alias/unheard-delete', (alias: string) => b.send(new DeleteAliasCommand({ AliasName: alias }))],
    ] as const) {
      expect(await outcome(b.send(new DescribeKeyCommand({ KeyId: name })))).toBe('NotFoundException'); // B caches it missing
      await unannounced('kms_aliases', () => a.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: first })));
      outcomes.push(await outcome(write(name)));
    }
    expect(outcomes).toEqual(['ok', 'ok']);
    expect((await a.send(new DescribeKeyCommand({ KeyId: 'alias/unheard-update' }))).KeyMetadata!.KeyId).toBe(second);
    expect(await outcome(a.send(new DescribeKeyCommand({ KeyId: 'alias/unheard-delete' })))).toBe('NotFoundException');
  });
});
