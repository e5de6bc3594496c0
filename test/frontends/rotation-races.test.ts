// RotateKeyOnDemand racing on one key over KMS_FRONTENDS=2: 25 succeed (the on-demand limit), the rest answer
// LimitExceededException, and ListKeyRotations lists every acknowledged rotation once, in the order applied, with
// RotationDates in that order, the last one current.
import { CreateKeyCommand, DescribeKeyCommand, ListKeyRotationsCommand, RotateKeyOnDemandCommand, type KMSClient, type RotationsListEntry } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { freshConnectionClient, outcome } from './support.js';

const KEYS = 4;
const CALLS_A_KEY = 32;
const ON_DEMAND_LIMIT = 25;

let server: TestServer;
let client: KMSClient;

beforeAll(async () => {
  server = await startServer({ env: { KMS_FRONTENDS: '2', KMS_WORKERS: '2' } });
  client = freshConnectionClient(server);
});

afterAll(async () => {
  await server?.remove();
});

async function listRotations(KeyId: string): Promise<RotationsListEntry[]> {
  const rotations: RotationsListEntry[] = [];
  let Marker: string | undefined;
  do {
    const page = await client.send(new ListKeyRotationsCommand({ KeyId, Limit: 7, Marker }));
    rotations.push(...page.Rotations!);
    Marker = page.NextMarker;
  } while (Marker !== undefined);
  return rotations;
}

describe('RotateKeyOnDemand racing on one key', () => {
  it('keeps the limit and lists the rotations in order, dated in that order', async () => {
    const keyIds = await Promise.all(Array.from({ length: KEYS }, async () =>
      (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!));
    const outcomes = await Promise.all(keyIds.map((KeyId) => Promise.all(Array.from({ length: CALLS_A_KEY },
      () => outcome(client.send(new RotateKeyOnDemandCommand({ KeyId })))))));
    for (const [index, KeyId] of keyIds.entries()) {
      expect(outcomes[index]!.filter((result) => result === 'ok')).toHaveLength(ON_DEMAND_LIMIT);
      expect(outcomes[index]!.filter((result) => result !== 'ok').every((result) => result === 'LimitExceededException')).toBe(true);
      const rotations = await listRotations(KeyId);
      expect(rotations).toHaveLength(ON_DEMAND_LIMIT);
      expect(new Set(rotations.map((rotation) => rotation.KeyMaterialId)).size).toBe(ON_DEMAND_LIMIT);
      const dates = rotations.map((rotation) => rotation.RotationDate!.getTime());
      expect(dates).toEqual([...dates].sort((a, b) => a - b));
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId }));
      expect(rotations.at(-1)!.KeyMaterialId).toBe(KeyMetadata!.CurrentKeyMaterialId);
    }
  });
});
