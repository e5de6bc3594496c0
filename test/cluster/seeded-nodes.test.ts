// Every node of a cluster started at once with the same KMS_SEED_FILE (one environment for all, as in README's
// Compose file): each applies the file to the one PostgreSQL store, racing the others for the same fixed key ids
// and alias names (two hundred keys, so that their runs overlap). All of them start, and the store holds each key
// and alias once, as the file says.
import { DecryptCommand, DescribeKeyCommand, EncryptCommand, ListAliasesCommand } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';
import { CLUSTER_CREDENTIALS } from './helpers.js';

const NODES = 3;
const work = mkdtempSync(join(tmpdir(), 'kms-seeded-cluster-'));
const KEYS = Array.from({ length: 200 }, (_, i) => `b4d2f7c1-6e3a-4f9b-8c82-1d5e3f7a${String(i).padStart(4, "0")}`);

let postgres: TestPostgres;
let nodes: TestServer[];

beforeAll(async () => {
  postgres = await startPostgres();
  const seedFile = join(work, 'seed.json');
  writeFileSync(seedFile, JSON.stringify({
    keys: KEYS.map((keyId, i) => ({
      keyId, aliases: [`alias/seeded/${i}`], tags: [{ TagKey: 'seeded', TagValue: String(i) }], description: `seeded ${i}`,
      // Half with fixed material (the same key on every node), half with material each node would make itself.
      ...(i % 2 === 0 ? { material: randomBytes(32).toString('base64') } : {}),
    })),
  }));
  // The root key exists before the nodes start, as README asks.
  const rootKeyFile = join(work, 'root.key');
  writeFileSync(rootKeyFile, randomBytes(32), { mode: 0o600 });
  const env = {
    KMS_STORE: postgres.url, KMS_ROOT_KEY_FILE: rootKeyFile, KMS_SEED_FILE: seedFile, KMS_WORKERS: '1',
    KMS_ACCESS_KEY_ID: CLUSTER_CREDENTIALS.accessKeyId, KMS_SECRET_ACCESS_KEY: CLUSTER_CREDENTIALS.secretAccessKey,
  };
  const started = await Promise.allSettled(Array.from({ length: NODES }, (_, i) => startServer({ env: { ...env, KMS_NODE_ID: `seeded-${i}` } })));
  nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failures = started.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
  expect(failures).toEqual([]);
});

afterAll(async () => {
  await Promise.all((nodes ?? []).map((node) => node.remove()));
  await postgres?.remove();
  rmSync(work, { recursive: true, force: true });
});

describe('nodes started together with one KMS_SEED_FILE', () => {
  it('all start, and serve each seeded key and alias once, the same on every node', async () => {
    const clients = nodes.map((node) => node.client());
    for (const [i, keyId] of KEYS.entries()) {
      const described = await Promise.all(clients.map(async (client) => (await client.send(new DescribeKeyCommand({ KeyId: `alias/seeded/${i}` }))).KeyMetadata!));
      expect(described.map((key) => [key.KeyId, key.Description, key.CurrentKeyMaterialId])).toEqual(
        clients.map(() => [keyId, `seeded ${i}`, described[0]!.CurrentKeyMaterialId]));
      const { CiphertextBlob } = await clients[i % NODES]!.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('seeded') }));
      const { Plaintext } = await clients[(i + 1) % NODES]!.send(new DecryptCommand({ CiphertextBlob }));
      expect(Buffer.from(Plaintext!).toString()).toBe('seeded');
    }
    const targets: string[] = [];
    for (let marker: string | undefined; ;) {
      const page = await clients[0]!.send(new ListAliasesCommand({ Limit: 100, Marker: marker }));
      targets.push(...page.Aliases!.filter((alias) => alias.AliasName!.startsWith('alias/seeded/')).map((alias) => alias.TargetKeyId!));
      if (!page.Truncated) break;
      marker = page.NextMarker;
    }
    expect(targets.sort()).toEqual([...KEYS].sort());
  });
});
