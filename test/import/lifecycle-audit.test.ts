// Imported key material end to end with the wrapping done here by node:crypto (byok.test.ts does it with the
// openssl CLI): every wrapping algorithm x wrapping key spec the service model lists, DescribeKey's ValidTo and
// ExpirationModel for a key with several materials (the earliest expiry of the material it keeps, as the model
// defines KeyMetadata.ValidTo), and material that expires while the key is in use: the key goes PendingImport
// with AWS's message, the expiry is in the audit log, and reimporting the same material brings it all back.
// Expiry is brought forward by editing the stored record between two runs of the server, never by sleeping.
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetParametersForImportCommand, ImportKeyMaterialCommand,
  ListKeyRotationsCommand, RotateKeyOnDemandCommand, type ImportKeyMaterialCommandInput, type KMSClient,
} from '@aws-sdk/client-kms';
import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';
import { startServer, type TestServer } from '../support/server.js';
import { rewriteStoredKey } from '../support/stored-keys.js';
import type { WrappingAlgorithm } from './openssl-wrap.js';

const shared = serverForFile();
type WrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
const DAY_MS = 86_400_000;
const forever = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } as const;
const expiresIn = (days: number) => ({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(Date.now() + days * DAY_MS) }) as const;

/** EncryptedKeyMaterial as a BYOK user makes it with node:crypto: RSA-OAEP, or RSA-OAEP(AES key) || AES-KWP (RFC 5649). */
function wrapWithNode(publicKeyDer: Uint8Array, algorithm: WrappingAlgorithm, material: Uint8Array): Buffer {
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  const oaep = (plaintext: Uint8Array) => publicEncrypt({
    key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256',
  }, plaintext);
  if (algorithm.startsWith('RSAES_OAEP_')) return oaep(material);
  const aesKey = randomBytes(32);
  const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
  return Buffer.concat([oaep(aesKey), kwp.update(material), kwp.final()]);
}

type ImportOptions = Partial<Pick<ImportKeyMaterialCommandInput,
  'ExpirationModel' | 'ValidTo' | 'ImportType' | 'KeyMaterialDescription' | 'KeyMaterialId'>>;

async function importMaterial(kms: KMSClient, keyId: string, material: Uint8Array, options: ImportOptions = forever,
  algorithm: WrappingAlgorithm = 'RSAES_OAEP_SHA_256', spec: WrappingKeySpec = 'RSA_2048') {
  const parameters = await kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }));
  return kms.send(new ImportKeyMaterialCommand({
    KeyId: keyId, ImportToken: parameters.ImportToken, EncryptedKeyMaterial: wrapWithNode(parameters.PublicKey!, algorithm, material), ...options,
  }));
}

const externalKey = async (kms: KMSClient) => (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!;
const metadataOf = async (kms: KMSClient, keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
const seconds = (date: Date | undefined) => (date === undefined ? undefined : Math.round(date.getTime() / 1000));

describe('wrapping with node:crypto', () => {
  it('every wrapping algorithm with every RSA wrapping key spec imports the same material; SM2 is refused outside China', async () => {
    const key = await externalKey(shared.kms);
    const material = randomBytes(32);
    const ids = new Set<string>();
    for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'] as const) {
      for (const spec of ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const) {
        ids.add((await importMaterial(shared.kms, key.KeyId!, material, forever, algorithm, spec)).KeyMaterialId!);
      }
    }
    expect([...ids]).toEqual([(await metadataOf(shared.kms, key.KeyId!)).CurrentKeyMaterialId]);
    for (const [algorithm, spec] of [['SM2PKE', 'SM2'], ['SM2PKE', 'RSA_2048'], ['RSAES_OAEP_SHA_256', 'SM2']] as const) {
      expect(await failure(shared.kms.send(new GetParametersForImportCommand({ KeyId: key.KeyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }))))
        .toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
    }
  });
});

describe('material wrapped otherwise than the import parameters say', () => {
  it('is InvalidCiphertextException with one message whatever part of the unwrap fails, and the key stays PendingImport', async () => {
    const key = await externalKey(shared.kms);
    const material = randomBytes(32);
    const attempts: [WrappingAlgorithm, WrappingAlgorithm][] = [
      ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'], // OAEP with the other hash
      ['RSA_AES_KEY_WRAP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1'], // the AES key's OAEP with the other hash
      ['RSA_AES_KEY_WRAP_SHA_256', 'RSAES_OAEP_SHA_256'], // no key wrap after the RSA part
      ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'], // longer than the wrapping key
    ];
    for (const [announced, used] of attempts) {
      const parameters = await shared.kms.send(new GetParametersForImportCommand({ KeyId: key.KeyId, WrappingAlgorithm: announced, WrappingKeySpec: 'RSA_2048' }));
      const refused = await failure(shared.kms.send(new ImportKeyMaterialCommand({
        KeyId: key.KeyId, ImportToken: parameters.ImportToken, EncryptedKeyMaterial: wrapWithNode(parameters.PublicKey!, used, material), ...forever,
      })));
      expect(refused, `${announced} announced, ${used} used`).toEqual({
        name: 'InvalidCiphertextException', status: 400, message: 'The encrypted key material could not be decrypted with the wrapping key.',
      });
    }
    expect((await metadataOf(shared.kms, key.KeyId!)).KeyState).toBe('PendingImport');
  });
});

describe('DescribeKey of a symmetric key with several imported materials', () => {
  it('ValidTo is the earliest expiry of the material the key keeps (older material too), never of material pending rotation', async () => {
    const key = await externalKey(shared.kms);
    const [first, second, third] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const firstExpiry = expiresIn(20);
    await importMaterial(shared.kms, key.KeyId!, first, firstExpiry);
    await importMaterial(shared.kms, key.KeyId!, second, { ...forever, ImportType: 'NEW_KEY_MATERIAL' });
    await shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));

    // The current material never expires, but the older one does: the key becomes unusable then.
    let metadata = await metadataOf(shared.kms, key.KeyId!);
    expect(metadata.ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
    expect(seconds(metadata.ValidTo)).toBe(seconds(firstExpiry.ValidTo));

    // Material waiting for the next rotation is not yet the key's: its sooner expiry does not show.
    await importMaterial(shared.kms, key.KeyId!, third, { ...expiresIn(5), ImportType: 'NEW_KEY_MATERIAL' });
    metadata = await metadataOf(shared.kms, key.KeyId!);
    expect(seconds(metadata.ValidTo)).toBe(seconds(firstExpiry.ValidTo));

    // Reimporting the older material without expiry leaves nothing of the key's that expires.
    await importMaterial(shared.kms, key.KeyId!, first, forever, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_4096');
    metadata = await metadataOf(shared.kms, key.KeyId!);
    expect(metadata.ExpirationModel).toBe('KEY_MATERIAL_DOES_NOT_EXPIRE');
    expect(metadata.ValidTo).toBeUndefined();
  });
});

describe('material that expires', () => {
  it('older material expiring makes the key PendingImport with AWS\'s message, is audited, and comes back when reimported', async () => {
    const first = await startServer();
    let second: TestServer | undefined;
    try {
      const kms = first.client();
      const key = await externalKey(kms);
      const [older, current] = [randomBytes(32), randomBytes(32)];
      await importMaterial(kms, key.KeyId!, older, expiresIn(30), 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_3072');
      const underOlder = (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('older') }))).CiphertextBlob!;
      await importMaterial(kms, key.KeyId!, current, { ...forever, ImportType: 'NEW_KEY_MATERIAL' });
      await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
      const underCurrent = (await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('current') }))).CiphertextBlob!;
      const olderId = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations![0]!.KeyMaterialId!;
      await first.stop();

      // Thirty days on, as far as the older material is concerned: its ValidTo (and the key's) moved into the past.
      const past = Date.now() / 1000 - 60;
      await rewriteStoredKey(first.dataDir, key.KeyId!, (record) => ({
        ...record, validTo: past, materials: record.materials.map((m) => (m.materialId === olderId ? { ...m, validTo: past } : m)),
      }));

      second = await startServer({ dataDir: first.dataDir });
      const again = second.client();
      const pending = { name: 'KMSInvalidStateException', status: 409, message: `${key.Arn} is pending import.` };
      expect(await failure(again.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })))).toEqual(pending);
      expect(await failure(again.send(new DecryptCommand({ CiphertextBlob: underCurrent })))).toEqual(pending);
      const metadata = await metadataOf(again, key.KeyId!);
      expect(metadata).toMatchObject({ KeyState: 'PendingImport', Enabled: false, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      expect(metadata.ValidTo).toBeUndefined();
      const rotations = (await again.send(new ListKeyRotationsCommand({ KeyId: key.KeyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!;
      expect(rotations.map((r) => [r.KeyMaterialState, r.ImportState])).toEqual([['NON_CURRENT', 'PENDING_IMPORT'], ['CURRENT', 'IMPORTED']]);

      // KMS deleting expired material is a service event in the audit log, written when the deletion happens.
      const expiries = readFileSync(join(first.dataDir, 'audit.jsonl'), 'utf8').split('\n').filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { eventName: string; eventType: string; resources?: { ARN: string }[] })
        .filter((record) => record.eventName === 'DeleteExpiredKeyMaterial');
      expect(expiries).toHaveLength(1);
      expect(expiries[0]).toMatchObject({ eventType: 'AwsServiceEvent', resources: [{ ARN: key.Arn }] });

      await importMaterial(again, key.KeyId!, older, { ...forever, KeyMaterialId: olderId });
      expect((await metadataOf(again, key.KeyId!)).KeyState).toBe('Enabled');
      for (const [blob, text] of [[underOlder, 'older'], [underCurrent, 'current']] as const) {
        expect(Buffer.from((await again.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(text);
      }
    } finally {
      await second?.remove();
      await first.remove();
    }
  });
});
