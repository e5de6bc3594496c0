// Multi-Region keys as an AWS Encryption SDK user meets them against a real server: the MRK-aware keyrings
// (strict, strict multi, discovery, discovery multi) encrypt and decrypt with a primary's mrk- ARN. The engine
// serves one Region. A message whose data key names the same mrk- key in another Region (as one made by a replica
// there would) opens here through the MRK-aware discovery keyrings, which ask the local Region's key; a strict
// keyring configured with the other Region's ARN asks for that ARN, which names no key in this Region.
import { KMS } from '@aws-sdk/client-kms';
import {
  AwsKmsMrkAwareSymmetricDiscoveryKeyringNode, AwsKmsMrkAwareSymmetricKeyringNode, buildAwsKmsMrkAwareDiscoveryMultiKeyringNode,
  buildAwsKmsMrkAwareStrictMultiKeyringNode, buildClient, CommitmentPolicy, getClient,
} from '@aws-crypto/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const OTHER_REGION = 'eu-west-1';

let server: TestServer;
let kms: KMS;
let clientProvider: ReturnType<typeof getClient>;

beforeAll(async () => {
  server = await startServer();
  kms = new KMS({ region: server.region, endpoint: server.url, credentials: server.credentials, maxAttempts: 1 });
  clientProvider = getClient(KMS, { endpoint: server.url, credentials: server.credentials, maxAttempts: 1 });
});
afterAll(async () => {
  kms?.destroy();
  await server?.remove();
});

const newMrk = async (): Promise<string> => (await kms.createKey({ MultiRegion: true })).KeyMetadata!.Arn!;
const inRegion = (arn: string, region: string): string => arn.replace(`:${server.region}:`, `:${region}:`);
const plaintext = Buffer.from('protected by a multi-Region key');
const context = { purpose: 'mrk-esdk' };

/**
 * A client for the engine that answers GenerateDataKey as the key's replica in `region` would: the engine does
 * the work, and the ARN it returns (which the SDK writes into the message) names the other Region.
 */
function replicaIn(region: string): KMS {
  const client = new KMS({ region, endpoint: server.url, credentials: server.credentials, maxAttempts: 1 });
  Object.assign(client, {
    async generateDataKey(input: Parameters<KMS['generateDataKey']>[0]) {
      const answer = await kms.generateDataKey({ ...input, KeyId: input.KeyId!.replace(`:${region}:`, `:${server.region}:`) });
      return { ...answer, KeyId: inRegion(answer.KeyId!, region) };
    },
  });
  return client;
}

describe('ESDK MRK-aware keyrings over multi-Region keys', () => {
  it('a strict MRK multi-keyring encrypts under two mrk- ARNs; it and a strict keyring for either key decrypt', async () => {
    const [generator, child] = [await newMrk(), await newMrk()];
    const keyring = buildAwsKmsMrkAwareStrictMultiKeyringNode({ generatorKeyId: generator, keyIds: [child], clientProvider });
    const { result, messageHeader } = await encrypt(keyring, plaintext, { encryptionContext: context });
    expect(messageHeader.encryptedDataKeys.map((edk) => edk.providerInfo)).toEqual([generator, child]);

    const opened = await decrypt(keyring, result);
    expect(Buffer.from(opened.plaintext)).toEqual(plaintext);
    expect(opened.messageHeader.encryptionContext).toMatchObject(context);
    const childOnly = new AwsKmsMrkAwareSymmetricKeyringNode({ keyId: child, client: kms });
    expect(Buffer.from((await decrypt(childOnly, result)).plaintext)).toEqual(plaintext);
  });

  it('MRK-aware discovery opens a message naming the key in this Region', async () => {
    const mrk = await newMrk();
    const { result } = await encrypt(new AwsKmsMrkAwareSymmetricKeyringNode({ keyId: mrk, client: kms }), plaintext);
    const discovery = new AwsKmsMrkAwareSymmetricDiscoveryKeyringNode({
      client: kms, discoveryFilter: { accountIDs: [server.accountId], partition: 'aws' },
    });
    expect(Buffer.from((await decrypt(discovery, result)).plaintext)).toEqual(plaintext);
    const multi = buildAwsKmsMrkAwareDiscoveryMultiKeyringNode({ regions: [server.region], clientProvider });
    expect(Buffer.from((await decrypt(multi, result)).plaintext)).toEqual(plaintext);
  });

  it('a message naming the key in another Region: discovery asks the local mrk- key; a strict keyring for the other ARN finds none', async () => {
    const mrk = await newMrk();
    const foreignArn = inRegion(mrk, OTHER_REGION);
    const { result, messageHeader } = await encrypt(
      new AwsKmsMrkAwareSymmetricKeyringNode({ keyId: foreignArn, client: replicaIn(OTHER_REGION) }), plaintext, { encryptionContext: context });
    expect(messageHeader.encryptedDataKeys.map((edk) => edk.providerInfo)).toEqual([foreignArn]);

    const discovery = new AwsKmsMrkAwareSymmetricDiscoveryKeyringNode({ client: kms });
    expect(Buffer.from((await decrypt(discovery, result)).plaintext)).toEqual(plaintext);
    // A strict keyring for the local ARN matches the other Region's ARN (same mrk- id) and asks the local key.
    const local = new AwsKmsMrkAwareSymmetricKeyringNode({ keyId: mrk, client: kms });
    expect(Buffer.from((await decrypt(local, result)).plaintext)).toEqual(plaintext);

    // Configured with the other Region's ARN, the keyring asks this Region for it: no such key here.
    const elsewhere = new AwsKmsMrkAwareSymmetricKeyringNode({ keyId: foreignArn, client: kms });
    const refusal = await decrypt(elsewhere, result).then(() => undefined, (error: Error) => error);
    expect(String(refusal)).toContain(`NotFoundException: Key '${foreignArn}' does not exist`);
    await expect(kms.decrypt({ KeyId: foreignArn, CiphertextBlob: messageHeader.encryptedDataKeys[0]!.encryptedDataKey }))
      .rejects.toMatchObject({ name: 'NotFoundException' });
  });
});
