// RetireGrant and RevokeGrant racing on one grant from many clients over KMS_FRONTENDS=2: the grant is removed
// once, so exactly one of the calls succeeds and the others answer NotFoundException (what a call a moment later
// sees), and each front end's audit log records the outcome its client saw.
import { CreateGrantCommand, CreateKeyCommand, ListGrantsCommand, RetireGrantCommand, RevokeGrantCommand, type KMSClient } from '@aws-sdk/client-kms';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { auditFiles, freshConnectionClient, outcome } from './support.js';

const ROUNDS = 8;
const GRANTS_A_ROUND = 8;

let server: TestServer;
let client: KMSClient;

beforeAll(async () => {
  server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_WORKERS: '2' } });
  client = freshConnectionClient(server);
});

afterAll(async () => {
  await server?.remove();
});

describe('RetireGrant and RevokeGrant racing on one grant', () => {
  it('remove it once: one call succeeds, the others answer NotFoundException, and the audit agrees', async () => {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    const root = `arn:aws:iam::${server.accountId}:root`;
    const outcomes: string[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const grants = await Promise.all(Array.from({ length: GRANTS_A_ROUND }, () => client.send(new CreateGrantCommand({
        KeyId: keyId, GranteePrincipal: root, RetiringPrincipal: root, Operations: ['Encrypt', 'Decrypt'],
      }))));
      outcomes.push(...await Promise.all(grants.map(({ GrantId, GrantToken }) => Promise.all([
        outcome(client.send(new RevokeGrantCommand({ KeyId: keyId, GrantId }))),
        outcome(client.send(new RetireGrantCommand({ GrantToken }))),
        outcome(client.send(new RetireGrantCommand({ KeyId: keyId, GrantId }))),
      ]))));
    }
    for (const calls of outcomes) {
      expect(calls.filter((result) => result === 'ok')).toHaveLength(1);
      expect(calls.filter((result) => result !== 'ok').every((result) => result === 'NotFoundException')).toBe(true);
    }
    expect((await client.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);

    await server.stop();
    const removals = [...auditFiles(server.dataDir).values()]
      .flatMap((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>))
      .filter((record) => record.eventName === 'RetireGrant' || record.eventName === 'RevokeGrant');
    expect(removals).toHaveLength(ROUNDS * GRANTS_A_ROUND * 3);
    expect(removals.filter((record) => record.errorCode === undefined)).toHaveLength(ROUNDS * GRANTS_A_ROUND);
  });
});
