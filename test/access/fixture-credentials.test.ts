// Test fixtures rarely use AWS-shaped access keys: a root key id of one character and a KMS_IDENTITIES user
// `bob` with the secret `pw` must start the server and sign requests like any other credentials.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

const ACCOUNT = '111122223333';
const dir = mkdtempSync(join(tmpdir(), 'kms-fixture-credentials-'));
let server: TestServer;

beforeAll(async () => {
  const identities = join(dir, 'identities.json');
  writeFileSync(identities, JSON.stringify({ identities: [{ accessKeyId: 'bob', secretAccessKey: 'pw', arn: `arn:aws:iam::${ACCOUNT}:user/bob`,
    policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }] }] }));
  server = await startServer({ env: { KMS_ACCESS_KEY_ID: 'k', KMS_SECRET_ACCESS_KEY: 's', KMS_IDENTITIES: identities } });
});
afterAll(async () => {
  await server?.remove();
  rmSync(dir, { recursive: true, force: true });
});

async function roundTrip(client: KMSClient): Promise<string> {
  const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
  const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('fixture') }));
  const { Plaintext } = await client.send(new DecryptCommand({ CiphertextBlob }));
  return Buffer.from(Plaintext!).toString();
}

describe('short fixture credentials', () => {
  it('a one-character root key id and secret sign requests', async () => {
    expect(await roundTrip(server.client({ credentials: { accessKeyId: 'k', secretAccessKey: 's' } }))).toBe('fixture');
  });
  it('a KMS_IDENTITIES user with key id bob and secret pw signs requests', async () => {
    expect(await roundTrip(server.client({ credentials: { accessKeyId: 'bob', secretAccessKey: 'pw' } }))).toBe('fixture');
  });
});
