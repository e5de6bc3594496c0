// The AWS Encryption SDK (@aws-crypto/client-node) as a data pipeline drives it, against a real server: a
// multi-keyring over several engine keys, both committing algorithm suites, the caching materials manager,
// streaming tens of MiB, and strict and discovery keyrings meeting keys the engine refuses. clients.test.ts
// has the plain keyring round trip and the discovery filters; this file checks what the engine saw (its audit
// records) and that every refusal the SDK reports is the engine's AWS error, word for word.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KMS } from '@aws-sdk/client-kms';
import {
  AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, getClient, getLocalCryptographicMaterialsCache, KmsKeyringNode,
  MultiKeyringNode, NodeCachingMaterialsManager, type KeyringNode,
} from '@aws-crypto/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../e2e-quotas/flood.js';
import { startServer, type TestServer } from '../support/server.js';

const { COMMIT_KEY, COMMIT_KEY_SIGNED } = {
  COMMIT_KEY: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
  COMMIT_KEY_SIGNED: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
};
const { encrypt, decrypt, encryptStream, decryptStream, decryptUnsignedMessageStream } =
  buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

let server: TestServer;
let kms: KMS;
let clientProvider: ReturnType<typeof getClient>;

beforeAll(async () => {
  server = await startServer();
  kms = new KMS({ region: server.region, endpoint: server.url, credentials: server.credentials, maxAttempts: 1 });
  // One attempt: a refusal must reach the SDK as the engine's answer, not after retries.
  clientProvider = getClient(KMS, { endpoint: server.url, credentials: server.credentials, maxAttempts: 1 });
});
afterAll(async () => {
  await server?.remove();
});

const newKey = async (input: Parameters<KMS['createKey']>[0] = {}): Promise<string> => (await kms.createKey(input)).KeyMetadata!.Arn!;
const strict = (generatorKeyId?: string, ...keyIds: string[]) => new KmsKeyringNode({ generatorKeyId, keyIds, clientProvider });
const discovery = () => new KmsKeyringNode({ discovery: true, clientProvider });
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** The engine's audit records of `operation` on `keyArn` since `from` (an index into the log). */
const calls = (operation: string, keyArn: string, from = 0) => auditRecords(server).slice(from)
  .filter((record) => record.eventName === operation && (record.resources as Array<{ ARN: string }> | undefined)?.[0]?.ARN === keyArn);
const auditLength = () => auditRecords(server).length;

/** Everything a stream pipeline writes, joined. */
async function through(input: Buffer, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([input]), transform, new Writable({
    write(chunk: Buffer, _encoding, done) { chunks.push(chunk); done(); },
  }));
  return Buffer.concat(chunks);
}

describe('a multi-keyring over three engine keys', () => {
  it('wraps the data key under the generator and both children; a keyring naming one child asks only that key', async () => {
    const [generator, first, second] = [await newKey(), await newKey(), await newKey()];
    const keyring = new MultiKeyringNode({ generator: strict(generator), children: [strict(undefined, first), strict(undefined, second)] });
    const plaintext = randomBytes(100_000);
    const context = { pipeline: 'ingest', shard: '7' };
    const { result, messageHeader } = await encrypt(keyring, plaintext, { encryptionContext: context });
    expect(messageHeader.encryptedDataKeys.map((edk) => [edk.providerId, edk.providerInfo]))
      .toEqual([generator, first, second].map((arn) => ['aws-kms', arn]));
    // The generator made the data key (GenerateDataKey), each child wrapped that same key (Encrypt).
    expect(calls('GenerateDataKey', generator)).toHaveLength(1);
    expect(calls('Encrypt', first)).toHaveLength(1);
    expect(calls('Encrypt', second)).toHaveLength(1);

    for (const only of [generator, first, second]) {
      const before = auditLength();
      const opened = await decrypt(strict(undefined, only), result);
      expect(same(opened.plaintext, plaintext)).toBe(true);
      expect(opened.messageHeader.encryptionContext).toMatchObject(context);
      // The engine was asked once, on that key, with the message's encryption context (the default suite is signed,
      // so it holds the verification key too).
      const asked = auditRecords(server).slice(before).filter((record) => record.eventName === 'Decrypt');
      expect(asked.map((record) => (record.resources as Array<{ ARN: string }>)[0]!.ARN)).toEqual([only]);
      expect((asked[0]!.requestParameters as { encryptionContext: object }).encryptionContext).toEqual(messageHeader.encryptionContext);
    }
  });

  it('a multi-keyring whose child the engine refuses encrypts nothing: the child\'s DisabledException is the SDK\'s error', async () => {
    const [generator, child] = [await newKey(), await newKey()];
    await kms.disableKey({ KeyId: child });
    const keyring = new MultiKeyringNode({ generator: strict(generator), children: [strict(undefined, child)] });
    await expect(encrypt(keyring, randomBytes(32))).rejects.toMatchObject({
      name: 'DisabledException', message: `${child} is disabled.`, $metadata: { httpStatusCode: 409 },
    });
  });
});

describe('committing algorithm suites', () => {
  for (const [name, suiteId, signed] of [['unsigned', COMMIT_KEY, false], ['ECDSA P-384 signed', COMMIT_KEY_SIGNED, true]] as const) {
    it(`${name}: round trip under two keys, each opening it alone`, async () => {
      const [generator, child] = [await newKey(), await newKey()];
      const plaintext = randomBytes(64 * 1024 + 17);
      const { result, messageHeader } = await encrypt(strict(generator, child), plaintext, { suiteId, encryptionContext: { run: name } });
      expect(messageHeader.suiteId).toBe(suiteId);
      // A signed suite puts its verification key into the encryption context, which the engine authenticates.
      expect(Object.keys(messageHeader.encryptionContext).sort())
        .toEqual(signed ? ['aws-crypto-public-key', 'run'] : ['run']);
      const sent = calls('GenerateDataKey', generator)[0]!.requestParameters as { encryptionContext: object; numberOfBytes: number };
      expect(sent).toMatchObject({ encryptionContext: messageHeader.encryptionContext, numberOfBytes: 32 });
      for (const only of [generator, child]) {
        const opened = await decrypt(strict(undefined, only), result);
        expect(same(opened.plaintext, plaintext)).toBe(true);
        expect(opened.messageHeader.suiteId).toBe(suiteId);
      }
    });
  }
});

describe('the caching materials manager', () => {
  it('maxMessagesEncrypted: seven messages under a limit of three ask the engine for three data keys, and decrypt', async () => {
    const generator = await newKey();
    const cmm = new NodeCachingMaterialsManager({
      backingMaterials: strict(generator), cache: getLocalCryptographicMaterialsCache(16), maxAge: 600_000, maxMessagesEncrypted: 3,
    });
    const plaintexts = Array.from({ length: 7 }, () => randomBytes(2048));
    const messages: Buffer[] = [];
    for (const plaintext of plaintexts) {
      messages.push((await encrypt(cmm, plaintext, { encryptionContext: { batch: 'b1' }, plaintextLength: plaintext.length })).result);
    }
    expect(calls('GenerateDataKey', generator)).toHaveLength(3);
    // Messages 1-3, 4-6 and 7 share their encrypted data key: the cached materials, as the engine wrapped them.
    const edks = await Promise.all(messages.map(async (message) =>
      Buffer.from((await decrypt(strict(generator), message)).messageHeader.encryptedDataKeys[0]!.encryptedDataKey).toString('hex')));
    expect(edks.map((edk) => edks.indexOf(edk))).toEqual([0, 0, 0, 3, 3, 3, 6]);
    // The caching manager decrypts too: one engine Decrypt per distinct data key.
    const decrypting = new NodeCachingMaterialsManager({
      backingMaterials: strict(generator), cache: getLocalCryptographicMaterialsCache(16), maxAge: 600_000,
    });
    const before = auditLength();
    for (const [index, message] of messages.entries()) {
      expect(same((await decrypt(decrypting, message)).plaintext, plaintexts[index]!)).toBe(true);
    }
    expect(calls('Decrypt', generator, before)).toHaveLength(3);
  });

  it('maxAge: materials older than it are not reused; the engine makes a new data key', async () => {
    const generator = await newKey();
    const cmm = new NodeCachingMaterialsManager({
      backingMaterials: strict(generator), cache: getLocalCryptographicMaterialsCache(16), maxAge: 50, maxMessagesEncrypted: 100,
    });
    const seal = async () => (await encrypt(cmm, Buffer.from('row'), { plaintextLength: 3 })).messageHeader.encryptedDataKeys[0]!.encryptedDataKey;
    const first = await seal();
    // Past maxAge (a wait, not a measurement): the entry has expired whatever the machine's speed.
    await new Promise((resolve) => setTimeout(resolve, 120));
    const second = await seal();
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    expect(calls('GenerateDataKey', generator)).toHaveLength(2);
  });
});

describe('streaming a large payload', () => {
  it('encryptStream then decryptUnsignedMessageStream: 32 MiB through a keyring naming only the child key', async () => {
    const [generator, child] = [await newKey(), await newKey()];
    const payload = randomBytes(32 * 1024 * 1024);
    const sealed = await through(payload, encryptStream(strict(generator, child), {
      suiteId: COMMIT_KEY, encryptionContext: { object: 'big.parquet' }, frameLength: 64 * 1024,
    }));
    expect(sealed.length).toBeGreaterThan(payload.length);
    const opened = await through(sealed, decryptUnsignedMessageStream(strict(undefined, child)));
    expect(createHash('sha256').update(opened).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    // One data key for the whole stream: one GenerateDataKey, one Encrypt, one Decrypt.
    expect([calls('GenerateDataKey', generator), calls('Encrypt', child), calls('Decrypt', child)].map((each) => each.length)).toEqual([1, 1, 1]);
  });

  it('a signed stream opens with decryptStream (and is refused by decryptUnsignedMessageStream before any engine call)', async () => {
    const generator = await newKey();
    const payload = randomBytes(8 * 1024 * 1024);
    const sealed = await through(payload, encryptStream(strict(generator), { suiteId: COMMIT_KEY_SIGNED }));
    const opened = await through(sealed, decryptStream(strict(generator)));
    expect(opened.equals(payload)).toBe(true);
    const before = auditLength();
    await expect(through(sealed, decryptUnsignedMessageStream(strict(generator)))).rejects.toThrow(/un-signed/);
    expect(calls('Decrypt', generator, before)).toHaveLength(0);
  });
});

describe('keys the engine refuses: the SDK reports the engine\'s AWS error', () => {
  // What the engine answers for each refused key, as AWS KMS words it.
  interface Refused { arn: string; sealed: Buffer; error: string; encryptError: { name: string; message: string; status: number } }
  const refused: Record<string, Refused> = {};

  beforeAll(async () => {
    const seal = async (arn: string) => (await encrypt(strict(arn), randomBytes(512), { suiteId: COMMIT_KEY })).result;
    const disabled = await newKey();
    const pending = await newKey();
    const denied = await newKey();
    const sealed = await Promise.all([disabled, pending, denied].map(seal));
    await kms.disableKey({ KeyId: disabled });
    await kms.scheduleKeyDeletion({ KeyId: pending, PendingWindowInDays: 7 });
    const root = `arn:aws:iam::${server.accountId}:root`;
    await kms.putKeyPolicy({
      KeyId: denied, PolicyName: 'default', Policy: JSON.stringify({
        Version: '2012-10-17', Statement: [
          { Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Deny', Principal: { AWS: root }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' },
        ],
      }),
    });
    const notAuthorized = (action: string) =>
      `User: ${root} is not authorized to perform: kms:${action} on resource: ${denied} with an explicit deny in a resource-based policy`;
    refused.disabled = {
      arn: disabled, sealed: sealed[0]!, error: `DisabledException: ${disabled} is disabled.`,
      encryptError: { name: 'DisabledException', message: `${disabled} is disabled.`, status: 409 },
    };
    refused['pending deletion'] = {
      arn: pending, sealed: sealed[1]!, error: `KMSInvalidStateException: ${pending} is pending deletion.`,
      encryptError: { name: 'KMSInvalidStateException', message: `${pending} is pending deletion.`, status: 409 },
    };
    refused['denied by its policy'] = {
      arn: denied, sealed: sealed[2]!, error: `AccessDeniedException: ${notAuthorized('Decrypt')}`,
      encryptError: { name: 'AccessDeniedException', message: notAuthorized('GenerateDataKey'), status: 400 },
    };
  });

  for (const state of ['disabled', 'pending deletion', 'denied by its policy']) {
    it(`a key ${state}: strict and discovery keyrings fail with its error; encrypting with it fails with it too`, async () => {
      const { arn, sealed, error, encryptError } = refused[state]!;
      for (const keyring of [strict(undefined, arn), discovery()] as KeyringNode[]) {
        const failure = await decrypt(keyring, sealed).then(() => undefined, (e: Error) => e);
        expect(failure?.message).toContain('Unable to decrypt data key and one or more KMS CMKs had an error.');
        expect(failure?.message).toContain(`\n ${error}\n`);
      }
      const encrypting = await encrypt(strict(arn), randomBytes(16)).then(() => undefined, (e: { name: string; message: string; $metadata: { httpStatusCode: number } }) => e);
      expect({ name: encrypting?.name, message: encrypting?.message, status: encrypting?.$metadata.httpStatusCode }).toEqual(encryptError);
    });
  }

  it('a key pending import (EXTERNAL, no material yet) refuses GenerateDataKey with KMSInvalidStateException', async () => {
    const external = await newKey({ Origin: 'EXTERNAL' });
    await expect(encrypt(strict(external), randomBytes(16))).rejects.toMatchObject({
      name: 'KMSInvalidStateException', message: `${external} is pending import.`, $metadata: { httpStatusCode: 409 },
    });
  });

  it('a discovery keyring skips a data key the engine refuses and opens the message with the next one', async () => {
    const [first, second] = [await newKey(), await newKey()];
    const plaintext = randomBytes(4096);
    const { result } = await encrypt(strict(first, second), plaintext, { suiteId: COMMIT_KEY });
    await kms.disableKey({ KeyId: first });
    const before = auditLength();
    expect(same((await decrypt(discovery(), result)).plaintext, plaintext)).toBe(true);
    const asked = auditRecords(server).slice(before).filter((record) => record.eventName === 'Decrypt');
    expect(asked.map((record) => [(record.resources as Array<{ ARN: string }>)[0]!.ARN, record.errorCode ?? 'ok']))
      .toEqual([[first, 'DisabledException'], [second, 'ok']]);
  });
});
