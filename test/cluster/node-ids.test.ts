// Nodes hear each other's changes whatever KMS_NODE_ID they were given: two nodes started with the same id (a
// templated configuration, a cloned data directory with its node-id file) are still two nodes to the change
// feed, which tells a node's own changes by its process, not by its id.
import { CreateKeyCommand, DisableKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { outcome, sleep, startCluster, type TestCluster } from './helpers.js';

let postgres: TestPostgres;
let cluster: TestCluster;

beforeAll(async () => {
  postgres = await startPostgres();
  cluster = await startCluster({ nodes: 1, storeUrl: postgres.url });
});

afterAll(async () => {
  await cluster?.remove();
  await postgres?.remove();
});

const plaintext = Buffer.from('which node is which');

/** Waits (up to 10 s; a change arrives within a second) for `client`'s Encrypt under `keyId` to be refused. */
async function refusedOn(client: KMSClient, keyId: string): Promise<string> {
  let result = 'ok';
  for (let waited = 0; waited <= 10_000 && result === 'ok'; waited += 100) {
    result = await outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })));
    if (result === 'ok') await sleep(100);
  }
  return result;
}

describe('nodes whose KMS_NODE_ID is not unique', () => {
  it('hear each other\'s changes when started with the same id', async () => {
    const [first, second] = await Promise.all([cluster.addNode({ KMS_NODE_ID: 'kms-twin' }), cluster.addNode({ KMS_NODE_ID: 'kms-twin' })]);
    const [a, b] = [first.client(), second.client()];
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(await outcome(b.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))).toBe('ok'); // b caches it

    await a.send(new DisableKeyCommand({ KeyId: keyId }));
    expect(await refusedOn(b, keyId)).toBe('DisabledException');
  });
});
