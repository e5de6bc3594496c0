// UpdateAlias racing DeleteAlias on one alias over KMS_FRONTENDS=2: once the alias is gone from the store, no front
// end may still resolve it (an UpdateAlias that lost the race must neither write it back nor cache it), and an
// UpdateAlias that found it deleted answers NotFoundException.
import {
  CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, DescribeKeyCommand, EncryptCommand, ListAliasesCommand,
  UpdateAliasCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { freshConnectionClient, outcome } from './support.js';

const ROUNDS = 20;
const UPDATES_A_ROUND = 7;
const USES_AFTER = 6;

let server: TestServer;
let client: KMSClient;

beforeAll(async () => {
  server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_WORKERS: '2' } });
  client = freshConnectionClient(server);
});

afterAll(async () => {
  await server?.remove();
});

describe('UpdateAlias racing DeleteAlias', () => {
  it('leaves a deleted alias deleted on every front end', async () => {
    const [first, second] = await Promise.all([0, 1].map(async () =>
      (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!));
    for (let round = 0; round < ROUNDS; round++) {
      const AliasName = `alias/moved-and-deleted-${round}`;
      await client.send(new CreateAliasCommand({ AliasName, TargetKeyId: first }));
      const [deleted, ...updates] = await Promise.all([
        outcome(client.send(new DeleteAliasCommand({ AliasName }))),
        ...Array.from({ length: UPDATES_A_ROUND }, (_, i) =>
          outcome(client.send(new UpdateAliasCommand({ AliasName, TargetKeyId: i % 2 === 0 ? second : first })))),
      ]);
      expect(deleted).toBe('ok');
      expect(updates.filter((result) => result !== 'ok' && result !== 'NotFoundException')).toEqual([]);
      const listed = (await client.send(new ListAliasesCommand({ Limit: 100 }))).Aliases!.some((alias) => alias.AliasName === AliasName);
      expect(listed).toBe(false);
      const uses = await Promise.all(Array.from({ length: USES_AFTER }, (_, i) => outcome(i % 2 === 0
        ? client.send(new EncryptCommand({ KeyId: AliasName, Plaintext: Buffer.from('after the delete') }))
        : client.send(new DescribeKeyCommand({ KeyId: AliasName })))));
      expect(uses).toEqual(Array(USES_AFTER).fill('NotFoundException'));
    }
  });
});
