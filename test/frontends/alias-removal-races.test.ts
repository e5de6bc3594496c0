// DeleteAlias racing on one alias from many clients over KMS_FRONTENDS=2: the alias is removed once, so exactly one
// call succeeds and the others answer NotFoundException (what a call a moment later sees), as each front end's
// audit log records.
import { CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, ListAliasesCommand, type KMSClient } from '@aws-sdk/client-kms';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { auditFiles, freshConnectionClient, outcome } from './support.js';

const ROUNDS = 10;
const CALLS_A_ROUND = 8;

let server: TestServer;
let client: KMSClient;

beforeAll(async () => {
  server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_WORKERS: '2' } });
  client = freshConnectionClient(server);
});

afterAll(async () => {
  await server?.remove();
});

describe('DeleteAlias racing on one alias', () => {
  it('removes it once: one call succeeds, the others answer NotFoundException, and the audit agrees', async () => {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
    const outcomes: string[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const AliasName = `alias/raced-${round}`;
      await client.send(new CreateAliasCommand({ AliasName, TargetKeyId: KeyMetadata!.KeyId! }));
      outcomes.push(await Promise.all(Array.from({ length: CALLS_A_ROUND },
        () => outcome(client.send(new DeleteAliasCommand({ AliasName }))))));
    }
    for (const calls of outcomes) {
      expect(calls.filter((result) => result === 'ok')).toHaveLength(1);
      expect(calls.filter((result) => result !== 'ok').every((result) => result === 'NotFoundException')).toBe(true);
    }
    expect((await client.send(new ListAliasesCommand({ KeyId: KeyMetadata!.KeyId! }))).Aliases).toEqual([]);

    await server.stop();
    const deletes = [...auditFiles(server.dataDir).values()]
      .flatMap((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>))
      .filter((record) => record.eventName === 'DeleteAlias');
    expect(deletes).toHaveLength(ROUNDS * CALLS_A_ROUND);
    expect(deletes.filter((record) => record.errorCode === undefined)).toHaveLength(ROUNDS);
  });
});
