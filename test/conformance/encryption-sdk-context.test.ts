// The AWS Encryption SDK's encryption context against the engine, as a client-side encryption pipeline relies on
// it: the engine binds the message's context (the caller's pairs and the SDK's aws-crypto-public-key) into the
// data key's wrapping, so a message whose stored context was altered is refused by the engine's Decrypt with
// InvalidCiphertextException before the SDK opens anything, including an NFC/NFD change of one character; and the
// caching materials manager asks the engine for a data key per context, never reusing one across contexts.
// A real server; the engine's audit records show what each call carried.
import { KMS } from '@aws-sdk/client-kms';
import {
  buildClient, CommitmentPolicy, getClient, getLocalCryptographicMaterialsCache, KmsKeyringNode, NodeCachingMaterialsManager,
} from '@aws-crypto/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../e2e-quotas/flood.js';
import { startServer, type TestServer } from '../support/server.js';

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

let server: TestServer;
let kms: KMS;
let clientProvider: ReturnType<typeof getClient>;

beforeAll(async () => {
  server = await startServer();
  kms = new KMS({ region: server.region, endpoint: server.url, credentials: server.credentials, maxAttempts: 1 });
  clientProvider = getClient(KMS, { endpoint: server.url, credentials: server.credentials, maxAttempts: 1 });
});
afterAll(async () => {
  await server?.remove();
});

const newKeyring = async (): Promise<{ arn: string; keyring: KmsKeyringNode }> => {
  const arn = (await kms.createKey({})).KeyMetadata!.Arn!;
  return { arn, keyring: new KmsKeyringNode({ generatorKeyId: arn, clientProvider }) };
};

/** The encryption contexts of the engine's audit records of `operation` on `keyArn`, in order. */
const contextsSent = (operation: string, keyArn: string): unknown[] => auditRecords(server)
  .filter((record) => record.eventName === operation && (record.resources as Array<{ ARN: string }> | undefined)?.[0]?.ARN === keyArn)
  .map((record) => (record.requestParameters as { encryptionContext?: unknown }).encryptionContext);

/** `message` with the first occurrence of `from` replaced by `to`, which must be as long (the header keeps its framing). */
function replacedInHeader(message: Buffer, from: string, to: string): Buffer {
  const [fromBytes, toBytes] = [Buffer.from(from), Buffer.from(to)];
  expect(toBytes.length).toBe(fromBytes.length);
  const at = message.indexOf(fromBytes);
  expect(at).toBeGreaterThan(0);
  const altered = Buffer.from(message);
  toBytes.copy(altered, at);
  return altered;
}

/** The error an SDK decrypt fails with, as text (the SDK's message carries the engine's AWS error). */
async function decryptFailure(keyring: KmsKeyringNode, message: Buffer): Promise<string> {
  try {
    await decrypt(keyring, message);
  } catch (error) {
    return String((error as Error).message);
  }
  throw new Error('expected decrypt to fail');
}

describe('the Encryption SDK message context is bound by the engine', () => {
  it('round trips, and the engine saw exactly the message context on GenerateDataKey and Decrypt', async () => {
    const { arn, keyring } = await newKeyring();
    const context = { tenant: 'green', 'café': 'crème' };
    const { result } = await encrypt(keyring, Buffer.from('attack at dawn'), { encryptionContext: context });
    const opened = await decrypt(keyring, result);
    expect(opened.plaintext.toString()).toBe('attack at dawn');
    // The signing suite adds its public key to the context: the engine binds that pair too.
    const messageContext = { ...opened.messageHeader.encryptionContext };
    expect(messageContext).toEqual({ ...context, 'aws-crypto-public-key': expect.any(String) });
    expect(contextsSent('GenerateDataKey', arn)).toEqual([messageContext]);
    expect(contextsSent('Decrypt', arn)).toEqual([messageContext]);
  });

  it('a message whose stored context was altered is refused by the engine (case, one byte, NFC to another accent)', async () => {
    const { arn, keyring } = await newKeyring();
    const { result } = await encrypt(keyring, Buffer.from('attack at dawn'), { encryptionContext: { tenant: 'green', 'café': 'crème' } });
    const before = contextsSent('Decrypt', arn).length;
    // 'é' is U+00E9 (C3 A9 in UTF-8); 'è' U+00E8 (C3 A8) is as long, so the header still parses.
    for (const [from, to] of [['green', 'Green'], ['green', 'greem'], ['café', 'cafè']] as const) {
      expect(await decryptFailure(keyring, replacedInHeader(result, from, to)))
        .toContain('InvalidCiphertextException: The ciphertext is invalid, or the encryption context does not match.');
    }
    // Each refusal was the engine's: three Decrypt calls reached it, carrying the altered contexts.
    const altered = contextsSent('Decrypt', arn).slice(before) as Array<Record<string, string>>;
    expect(altered.map((context) => [context.tenant, context['café'] ?? context['cafè']])).toEqual([
      ['Green', 'crème'], ['greem', 'crème'], ['green', 'crème'],
    ]);
    expect(altered[2]).toHaveProperty('cafè');
  });

  it('the caching materials manager asks the engine for a data key per context and decrypts each message', async () => {
    const { arn, keyring } = await newKeyring();
    const cmm = new NodeCachingMaterialsManager({
      backingMaterials: keyring, cache: getLocalCryptographicMaterialsCache(16), maxAge: 600_000, maxMessagesEncrypted: 10,
    });
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    const contexts = [{ tenant: 'a' }, { tenant: 'b' }, { tenant: 'a' }, { tenant: nfc }, { tenant: nfd }, { tenant: 'b' }];
    const messages: Buffer[] = [];
    for (const context of contexts) {
      messages.push((await encrypt(cmm, Buffer.from('x'), { encryptionContext: context, plaintextLength: 1 })).result);
    }
    // Four distinct contexts (NFC and NFD are two), four data keys; repeats reuse the cached one of their context.
    expect((contextsSent('GenerateDataKey', arn) as Array<{ tenant: string }>).map((context) => context.tenant))
      .toEqual(['a', 'b', nfc, nfd]);
    for (const [index, message] of messages.entries()) {
      const opened = await decrypt(keyring, message);
      expect(opened.messageHeader.encryptionContext.tenant).toBe(contexts[index]!.tenant);
    }
  });
});
