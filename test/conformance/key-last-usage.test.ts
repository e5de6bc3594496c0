// GetKeyLastUsage through the AWS SDK against the real server: which calls count as a use (successful
// cryptographic operations, on every key they used), which do not (failures, dry runs, management calls), the
// request and audit event it names, the dates beside it, and that a use survives a restart.
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand,
  GetKeyLastUsageCommand, GetPublicKeyCommand, KMSClient, ReEncryptCommand, SignCommand, VerifyCommand, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { startServer, type TestServer } from '../support/server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'kms-last-usage-'));
let server: TestServer;
let kms: KMSClient;

beforeAll(async () => {
  server = await startServer({ dataDir });
  kms = server.client();
});
afterAll(async () => {
  await server?.remove();
  rmSync(dataDir, { recursive: true, force: true });
});

async function newKey(spec: KeySpec = 'SYMMETRIC_DEFAULT', usage: KeyUsageType = 'ENCRYPT_DECRYPT') {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage }));
  return KeyMetadata!;
}

const lastUsage = (keyId: string) => kms.send(new GetKeyLastUsageCommand({ KeyId: keyId }));

/** The audit record of a request, by its request id. */
function auditRecordOf(requestId: string): { eventID: string; eventName: string } {
  const lines = readFileSync(join(dataDir, 'audit.jsonl'), 'utf8').trim().split('\n');
  const record = lines.map((line) => JSON.parse(line) as { requestID: string; eventID: string; eventName: string })
    .find((r) => r.requestID === requestId);
  if (record === undefined) throw new Error(`no audit record for ${requestId}`);
  return record;
}

/** Asserts the key's last use is exactly this call: operation, request id, its audit event, its time. */
async function expectLastUse(keyId: string, operation: string, requestId: string, between: [number, number]) {
  const { KeyLastUsage } = await lastUsage(keyId);
  expect(KeyLastUsage).toMatchObject({ Operation: operation, KmsRequestId: requestId, CloudTrailEventId: auditRecordOf(requestId).eventID });
  const at = KeyLastUsage!.Timestamp!.getTime();
  expect(at).toBeGreaterThanOrEqual(between[0] - 1);
  expect(at).toBeLessThanOrEqual(between[1] + 1);
}

async function timed<T>(call: () => Promise<T>): Promise<{ result: T; between: [number, number] }> {
  const before = Date.now();
  const result = await call();
  return { result, between: [before, Date.now()] };
}

describe('GetKeyLastUsage', () => {
  it('answers for a key never used: no KeyLastUsage, tracking from the key\'s creation', async () => {
    const key = await newKey();
    const answer = await lastUsage(key.Arn!);
    expect(answer.KeyId).toBe(key.KeyId);
    expect(answer.KeyLastUsage).toBeUndefined();
    expect(answer.KeyCreationDate).toEqual(key.CreationDate);
    // The key is newer than the store's tracking, so tracking starts at its creation.
    expect(answer.TrackingStartDate).toEqual(key.CreationDate);
  });

  it('names the last successful cryptographic call, its request and its audit event', async () => {
    const key = await newKey();
    const encrypted = await timed(() => kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('data'), EncryptionContext: { a: 'b' } })));
    await expectLastUse(key.KeyId!, 'Encrypt', encrypted.result.$metadata.requestId!, encrypted.between);

    // Failures, dry runs and management calls are not uses.
    const { CiphertextBlob } = encrypted.result;
    expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { a: 'c' } })))).name).toBe('InvalidCiphertextException');
    expect((await failure(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x'), DryRun: true })))).name).toBe('DryRunOperationException');
    await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
    await expectLastUse(key.KeyId!, 'Encrypt', encrypted.result.$metadata.requestId!, encrypted.between);

    const decrypted = await timed(() => kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { a: 'b' } })));
    await expectLastUse(key.KeyId!, 'Decrypt', decrypted.result.$metadata.requestId!, decrypted.between);
  });

  it('records ReEncrypt on both of its keys', async () => {
    const source = await newKey();
    const destination = await newKey();
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: source.KeyId, Plaintext: Buffer.from('data') }));
    const moved = await timed(() => kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: destination.KeyId })));
    for (const key of [source, destination]) {
      await expectLastUse(key.KeyId!, 'ReEncrypt', moved.result.$metadata.requestId!, moved.between);
    }
  });

  it('counts a Verify only when the signature is valid', async () => {
    const key = await newKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const message = Buffer.from('message');
    const signed = await timed(() => kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })));
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
    const publicKey = createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' });
    expect(verifySignature('sha256', message, publicKey, Buffer.from(signed.result.Signature!))).toBe(true);
    await expectLastUse(key.KeyId!, 'Sign', signed.result.$metadata.requestId!, signed.between);

    const forged = Buffer.from(signed.result.Signature!);
    forged[forged.length - 1]! ^= 1;
    expect((await failure(kms.send(new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature: forged, SigningAlgorithm: 'ECDSA_SHA_256' })))).name)
      .toBe('KMSInvalidSignatureException');
    await expectLastUse(key.KeyId!, 'Sign', signed.result.$metadata.requestId!, signed.between);

    const verified = await timed(() => kms.send(new VerifyCommand({ KeyId: key.KeyId, Message: message, Signature: signed.result.Signature, SigningAlgorithm: 'ECDSA_SHA_256' })));
    await expectLastUse(key.KeyId!, 'Verify', verified.result.$metadata.requestId!, verified.between);
  });

  it('answers in any key state, takes no alias, and knows no unknown key', async () => {
    const key = await newKey();
    const encrypted = await timed(() => kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('data') })));
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    await expectLastUse(key.KeyId!, 'Encrypt', encrypted.result.$metadata.requestId!, encrypted.between);

    await kms.send(new CreateAliasCommand({ AliasName: 'alias/last-usage', TargetKeyId: key.KeyId }));
    expect(await failure(lastUsage('alias/last-usage'))).toMatchObject({ name: 'NotFoundException', status: 404 });
    expect(await failure(lastUsage('0b1d8e38-8a8c-4a2e-9d8e-2f6a4c1b9e70'))).toMatchObject({ name: 'NotFoundException', status: 404 });
    expect(await failure(lastUsage('not a key'))).toMatchObject({ name: 'NotFoundException', status: 404 });
  });

  it('keeps the last use across a restart, saved or not yet saved when the server stopped', async () => {
    const key = await newKey();
    const encrypted = await timed(() => kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('data') })));
    // Straight to the stop: the use is still waiting to be saved, and the shutdown saves it.
    expect(await server.stop()).toBe(0);
    server = await startServer({ dataDir });
    kms = server.client();
    await expectLastUse(key.KeyId!, 'Encrypt', encrypted.result.$metadata.requestId!, encrypted.between);
    expect((await lastUsage(key.KeyId!)).KeyCreationDate).toEqual(key.CreationDate);
  });

  it('keeps a use a crash kept from the store (SIGKILL before its save): the audit log\'s newest record names it', async () => {
    const key = await newKey();
    await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('saved at shutdown') }));
    await server.stop();
    server = await startServer({ dataDir });
    kms = server.client();
    const last = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('then the crash') }));
    // Killed at once: the use waits in memory for the next save (once a second), which never comes.
    await server.stop('SIGKILL');
    server = await startServer({ dataDir });
    kms = server.client();
    const record = auditRecordOf(last.$metadata.requestId!) as { eventID: string; eventTime?: string };
    const { KeyLastUsage } = await lastUsage(key.KeyId!);
    expect(KeyLastUsage).toMatchObject({ Operation: 'Encrypt', KmsRequestId: last.$metadata.requestId, CloudTrailEventId: record.eventID });
    // As the record says it (to the second), or to the millisecond had a save come before the kill.
    const loggedAt = Date.parse(record.eventTime!);
    expect(KeyLastUsage!.Timestamp!.getTime()).toBeGreaterThanOrEqual(loggedAt);
    expect(KeyLastUsage!.Timestamp!.getTime()).toBeLessThan(loggedAt + 1000);
  });
});
