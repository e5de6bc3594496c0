// aws:ResourceAccount, as IAM sets it on every call on a resource: the account owning the key or the alias. The
// data-perimeter guardrail of an identity policy (deny calls on resources outside the caller's accounts) must let
// calls on this account's keys and aliases through, through the real AWS SDK against one real server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { ACCOUNT, credentialsOf, identityPolicy, userArn } from './support.js';

let dir: string;
let server: TestServer;
let guarded: KMSClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kms-resource-account-'));
  const identities = join(dir, 'identities.json');
  const policy = identityPolicy(
    { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
    { Effect: 'Deny', Action: 'kms:*', Resource: '*', Condition: { StringNotEquals: { 'aws:ResourceAccount': ACCOUNT } } },
  );
  writeFileSync(identities, JSON.stringify({ identities: [{ ...credentialsOf('guarded'), arn: userArn('guarded'), policies: [policy] }] }));
  server = await startServer({ env: { KMS_IDENTITIES: identities, KMS_ACCOUNT_ID: ACCOUNT } });
  guarded = server.client({ credentials: credentialsOf('guarded') });
});

afterAll(async () => {
  await server?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('aws:ResourceAccount', () => {
  it('is the account of the key and of the alias: a guardrail on it lets calls on this account\'s resources through', async () => {
    const { KeyMetadata } = await server.client().send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    await guarded.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('inside the perimeter') }));
    const AliasName = `alias/perimeter-${keyId.slice(0, 8)}`;
    await guarded.send(new CreateAliasCommand({ AliasName, TargetKeyId: keyId }));
    await guarded.send(new DeleteAliasCommand({ AliasName }));
  });
});
