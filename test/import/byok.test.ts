// Bring your own key through the real SDK against a real server: material wrapped by the openssl CLI imports
// and then is the key (symmetric ciphertext opens with the material itself, HMACs match node's, signatures
// verify with the SPKI openssl derives), and every documented error path answers with AWS's error.
import {
  CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand, DisableKeyCommand,
  EncryptCommand, GenerateMacCommand, GetParametersForImportCommand, GetPublicKeyCommand, ImportKeyMaterialCommand,
  ListKeyRotationsCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, SignCommand,
  type ImportKeyMaterialCommandInput, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import {
  constants, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, publicEncrypt, randomBytes, verify,
} from 'node:crypto';
import { ml_dsa44 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, IV_BYTES, OVERHEAD_BYTES } from '../../src/contract/ciphertext-blob.js';
import { outcome } from '../support/sdk-errors.js';
import { serverForFile } from '../support/file-server.js';
import { startServer, type TestServer } from '../support/server.js';
import { rewriteStoredKey } from '../support/stored-keys.js';
import { opensslKeyPair, wrapWithOpenssl, type WrappingAlgorithm } from './openssl-wrap.js';

const shared = serverForFile();

async function externalKey(spec: KeySpec = 'SYMMETRIC_DEFAULT', usage?: KeyUsageType): Promise<string> {
  const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: spec, KeyUsage: usage }));
  return KeyMetadata!.KeyId!;
}

const keyState = async (keyId: string) => (await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

async function parameters(keyId: string, algorithm: WrappingAlgorithm, spec: 'RSA_2048' | 'RSA_3072' | 'RSA_4096' = 'RSA_2048',
  client = shared.kms) {
  const out = await client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }));
  return { token: out.ImportToken!, publicKey: out.PublicKey!, validTo: out.ParametersValidTo! };
}

/** GetParametersForImport, wrap with openssl, ImportKeyMaterial: the whole BYOK round. */
type ImportOptions = Partial<Pick<ImportKeyMaterialCommandInput,
  'ExpirationModel' | 'ValidTo' | 'ImportType' | 'KeyMaterialDescription' | 'KeyMaterialId'>>;

async function importMaterial(keyId: string, material: Uint8Array, algorithm: WrappingAlgorithm,
  expiration: ImportOptions = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, spec: 'RSA_2048' | 'RSA_3072' | 'RSA_4096' = 'RSA_2048',
  client = shared.kms) {
  const { token, publicKey } = await parameters(keyId, algorithm, spec, client);
  return client.send(new ImportKeyMaterialCommand({
    KeyId: keyId, ImportToken: token, EncryptedKeyMaterial: wrapWithOpenssl(publicKey, algorithm, material), ...expiration,
  }));
}

const derivedMaterialId = (keyId: string, material: Uint8Array): string =>
  createHash('sha256').update('kms-engine/material-id/v1|').update(keyId).update('|').update(material).digest('hex');

/** Opens a symmetric ciphertext blob with the raw material: proof the engine encrypts with exactly that key. */
function openBlobLocally(blob: Uint8Array, material: Uint8Array): Buffer {
  const bytes = Buffer.from(blob);
  const decipher = createDecipheriv('aes-256-gcm', material, bytes.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES));
  decipher.setAAD(bytes.subarray(0, HEADER_BYTES));
  decipher.setAuthTag(bytes.subarray(HEADER_BYTES + IV_BYTES, OVERHEAD_BYTES));
  return Buffer.concat([decipher.update(bytes.subarray(OVERHEAD_BYTES)), decipher.final()]);
}

describe('symmetric key material, wrapped with RSAES_OAEP_SHA_256 by openssl', () => {
  const material = randomBytes(32);
  let keyId: string;
  let ciphertext: Uint8Array;

  it('starts PendingImport with no material, and cannot encrypt', async () => {
    keyId = await externalKey();
    const metadata = await keyState(keyId);
    expect(metadata).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'PendingImport', Enabled: false });
    expect(metadata.CurrentKeyMaterialId).toBeUndefined();
    expect(await outcome(shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toBe('KMSInvalidStateException');
  });

  it('GetParametersForImport returns an RSA SPKI wrapping key and a token valid for 24 hours', async () => {
    const before = Date.now();
    const { publicKey, token, validTo } = await parameters(keyId, 'RSAES_OAEP_SHA_256', 'RSA_3072');
    const wrappingKey = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
    expect(wrappingKey.asymmetricKeyType).toBe('rsa');
    expect(wrappingKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(token.length).toBeGreaterThan(0);
    const hours = (validTo.getTime() - before) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24.01);
  });

  it('imports, enables the key and names the material by its derived id', async () => {
    const out = await importMaterial(keyId, material, 'RSAES_OAEP_SHA_256');
    expect(out.KeyMaterialId).toBe(derivedMaterialId(keyId, material));
    const metadata = await keyState(keyId);
    expect(metadata).toMatchObject({
      KeyState: 'Enabled', Enabled: true, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', CurrentKeyMaterialId: out.KeyMaterialId,
    });
    expect(metadata.ValidTo).toBeUndefined();
  });

  it('encrypts with exactly the imported material, and decrypts', async () => {
    ciphertext = (await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('bring your own key') }))).CiphertextBlob!;
    expect(openBlobLocally(ciphertext, material).toString()).toBe('bring your own key');
    const { Plaintext } = await shared.kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
    expect(Buffer.from(Plaintext!).toString()).toBe('bring your own key');
  });

  it('accepts the same material again, and refuses different material (IncorrectKeyMaterialException)', async () => {
    const again = await importMaterial(keyId, material, 'RSA_AES_KEY_WRAP_SHA_256');
    expect(again.KeyMaterialId).toBe(derivedMaterialId(keyId, material));
    expect(await outcome(importMaterial(keyId, randomBytes(32), 'RSAES_OAEP_SHA_256'))).toBe('IncorrectKeyMaterialException');
  });

  it('DeleteImportedKeyMaterial returns the key to PendingImport; reimporting brings old ciphertexts back', async () => {
    const deleted = await shared.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(deleted.KeyMaterialId).toBe(derivedMaterialId(keyId, material));
    expect((await keyState(keyId)).KeyState).toBe('PendingImport');
    expect(await outcome(shared.kms.send(new DecryptCommand({ CiphertextBlob: ciphertext })))).toBe('KMSInvalidStateException');
    // Deleting again is a no-op on a key with no material.
    expect(await outcome(shared.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId })))).toBe('ok');
    // Different material is refused even while the key has none: it only ever takes back its own.
    expect(await outcome(importMaterial(keyId, randomBytes(32), 'RSAES_OAEP_SHA_1'))).toBe('IncorrectKeyMaterialException');
    await importMaterial(keyId, material, 'RSAES_OAEP_SHA_1');
    const { Plaintext } = await shared.kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
    expect(Buffer.from(Plaintext!).toString()).toBe('bring your own key');
  });

  it('keeps a Disabled key Disabled when material is imported again', async () => {
    await shared.kms.send(new DisableKeyCommand({ KeyId: keyId }));
    await importMaterial(keyId, material, 'RSAES_OAEP_SHA_256');
    expect((await keyState(keyId)).KeyState).toBe('Disabled');
  });
});

describe('rotating a symmetric key to new imported material', () => {
  const [first, second, third] = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const forever = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } as const;
  let keyId: string;
  let underFirst: Uint8Array;
  let underSecond: Uint8Array;
  const rotations = async (all = true) =>
    (await shared.kms.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: all ? 'ALL_KEY_MATERIAL' : 'ROTATIONS_ONLY' }))).Rotations!;
  const encryptAndOpenWith = async (material: Uint8Array) => {
    const blob = (await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('rotated byok') }))).CiphertextBlob!;
    expect(openBlobLocally(blob, material).toString()).toBe('rotated byok');
    return blob;
  };
  const decrypts = async (blob: Uint8Array) =>
    Buffer.from((await shared.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString() === 'rotated byok';

  it('lists its first material; on-demand rotation needs new material imported first', async () => {
    keyId = await externalKey();
    await importMaterial(keyId, first, 'RSAES_OAEP_SHA_256');
    underFirst = await encryptAndOpenWith(first);
    expect(await rotations()).toEqual([{
      KeyId: (await keyState(keyId)).Arn, KeyMaterialId: derivedMaterialId(keyId, first), ImportState: 'IMPORTED',
      KeyMaterialState: 'CURRENT', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }]);
    expect(await rotations(false)).toEqual([]);
    expect(await outcome(shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId })))).toBe('KMSInvalidStateException');
  });

  it('NEW_KEY_MATERIAL waits in PENDING_ROTATION, unused, with its own expiry and description', async () => {
    const validTo = new Date(Date.now() + 86_400_000);
    const out = await importMaterial(keyId, second, 'RSA_AES_KEY_WRAP_SHA_256',
      { ImportType: 'NEW_KEY_MATERIAL', KeyMaterialDescription: 'second material', ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo });
    expect(out.KeyMaterialId).toBe(derivedMaterialId(keyId, second));
    const pending = (await rotations()).find((r) => r.KeyMaterialId === out.KeyMaterialId)!;
    expect(pending).toMatchObject({ KeyMaterialState: 'PENDING_ROTATION', ImportState: 'IMPORTED', KeyMaterialDescription: 'second material',
      ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
    expect(Math.abs(pending.ValidTo!.getTime() - validTo.getTime())).toBeLessThan(1000);
    expect(pending.RotationDate).toBeUndefined();
    expect((await keyState(keyId)).CurrentKeyMaterialId).toBe(derivedMaterialId(keyId, first));
    await encryptAndOpenWith(first);
    // One pending material at a time; material the key has is EXISTING; NEW names no material id.
    expect(await outcome(importMaterial(keyId, third, 'RSAES_OAEP_SHA_256', { ...forever, ImportType: 'NEW_KEY_MATERIAL' }))).toBe('KMSInvalidStateException');
    expect(await outcome(importMaterial(keyId, first, 'RSAES_OAEP_SHA_256', { ...forever, ImportType: 'NEW_KEY_MATERIAL' }))).toBe('IncorrectKeyMaterialException');
    expect(await outcome(importMaterial(keyId, third, 'RSAES_OAEP_SHA_256',
      { ...forever, ImportType: 'NEW_KEY_MATERIAL', KeyMaterialId: derivedMaterialId(keyId, third) }))).toBe('ValidationException');
  });

  it('RotateKeyOnDemand makes it current; the old material still decrypts', async () => {
    expect((await shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))).KeyId).toBe((await keyState(keyId)).Arn);
    const metadata = await keyState(keyId);
    expect(metadata).toMatchObject({ CurrentKeyMaterialId: derivedMaterialId(keyId, second), ExpirationModel: 'KEY_MATERIAL_EXPIRES', KeyState: 'Enabled' });
    underSecond = await encryptAndOpenWith(second);
    expect(await decrypts(underFirst)).toBe(true);
    expect((await rotations()).map((r) => [r.KeyMaterialId, r.KeyMaterialState])).toEqual([
      [derivedMaterialId(keyId, first), 'NON_CURRENT'], [derivedMaterialId(keyId, second), 'CURRENT'],
    ]);
    const [rotation] = await rotations(false);
    expect(rotation).toMatchObject({ KeyMaterialId: derivedMaterialId(keyId, second), RotationType: 'ON_DEMAND' });
    expect(Math.abs(rotation!.RotationDate!.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('deleting any of its own material makes the key PendingImport until that material is back', async () => {
    const deleted = await shared.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: derivedMaterialId(keyId, first) }));
    expect(deleted.KeyMaterialId).toBe(derivedMaterialId(keyId, first));
    expect((await keyState(keyId)).KeyState).toBe('PendingImport');
    expect(await outcome(shared.kms.send(new DecryptCommand({ CiphertextBlob: underSecond })))).toBe('KMSInvalidStateException');
    expect((await rotations()).map((r) => [r.KeyMaterialState, r.ImportState])).toEqual([['NON_CURRENT', 'PENDING_IMPORT'], ['CURRENT', 'IMPORTED']]);
    expect(await outcome(importMaterial(keyId, third, 'RSAES_OAEP_SHA_256'))).toBe('IncorrectKeyMaterialException');
    await importMaterial(keyId, first, 'RSAES_OAEP_SHA_1', { ...forever, KeyMaterialId: derivedMaterialId(keyId, first) });
    expect((await keyState(keyId)).KeyState).toBe('Enabled');
    expect(await decrypts(underFirst)).toBe(true);
    expect(await decrypts(underSecond)).toBe(true);
  });

  it('material pending rotation is not yet the key\'s: deleting it removes it and leaves the key usable', async () => {
    await importMaterial(keyId, third, 'RSAES_OAEP_SHA_256', { ...forever, ImportType: 'NEW_KEY_MATERIAL' });
    await shared.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: derivedMaterialId(keyId, third) }));
    expect((await rotations()).map((r) => r.KeyMaterialId)).toEqual([derivedMaterialId(keyId, first), derivedMaterialId(keyId, second)]);
    expect((await keyState(keyId)).KeyState).toBe('Enabled');
    await encryptAndOpenWith(second);
  });

  it('HMAC and asymmetric keys take no new material after the first', async () => {
    const hmac = await externalKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    await importMaterial(hmac, randomBytes(32), 'RSAES_OAEP_SHA_256');
    expect(await outcome(importMaterial(hmac, randomBytes(32), 'RSAES_OAEP_SHA_256', { ...forever, ImportType: 'NEW_KEY_MATERIAL' })))
      .toBe('UnsupportedOperationException');
  });
});

describe('keys stored before materials carried their own expiry', () => {
  it('read as before: expiry shown, and material deleted then (no materials left) is taken back', async () => {
    const first = await startServer();
    let second: TestServer | undefined;
    try {
      const client = first.client();
      const { KeyMetadata } = await client.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
      const keyId = KeyMetadata!.KeyId!;
      const material = randomBytes(32);
      const validTo = new Date(Date.now() + 86_400_000);
      await importMaterial(keyId, material, 'RSAES_OAEP_SHA_256', { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo }, 'RSA_2048', client);
      const blob = (await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('kept') }))).CiphertextBlob!;
      await first.stop();

      // Rewrite the record as the engine stored it before: expiry on the key; then as it stood after a deletion.
      await rewriteStoredKey(first.dataDir, keyId, (record) => {
        const { expirationModel, validTo: materialValidTo, description: _, ...oldMaterial } = record.materials[0]!;
        return { ...record, materials: [oldMaterial], expirationModel, validTo: materialValidTo };
      });
      second = await startServer({ dataDir: first.dataDir });
      const again = second.client();
      const described = (await again.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(described.ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
      expect(Math.abs(described.ValidTo!.getTime() - validTo.getTime())).toBeLessThan(1000);
      await second.stop();

      await rewriteStoredKey(first.dataDir, keyId, (current) => {
        const deleted = { ...current, materials: [], state: 'PendingImport' as const };
        delete deleted.currentMaterialId;
        delete deleted.expirationModel;
        delete deleted.validTo;
        return deleted;
      });
      second = await startServer({ dataDir: first.dataDir });
      const third = second.client();
      expect((await third.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
      expect(await outcome(importMaterial(keyId, randomBytes(32), 'RSAES_OAEP_SHA_256', undefined, 'RSA_2048', third))).toBe('IncorrectKeyMaterialException');
      await importMaterial(keyId, material, 'RSAES_OAEP_SHA_256', undefined, 'RSA_2048', third);
      expect((await third.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({
        KeyState: 'Enabled', CurrentKeyMaterialId: derivedMaterialId(keyId, material),
      });
      expect(Buffer.from((await third.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('kept');
    } finally {
      await second?.remove();
      await first.remove();
    }
  });
});

describe('HMAC and asymmetric key material', () => {
  it('HMAC_256 raw bytes via RSAES_OAEP_SHA_1: GenerateMac equals node HMAC-SHA-256 with the same key', async () => {
    const keyId = await externalKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const material = randomBytes(32);
    await importMaterial(keyId, material, 'RSAES_OAEP_SHA_1');
    const message = Buffer.from('message authenticated with an imported key');
    const { Mac } = await shared.kms.send(new GenerateMacCommand({ KeyId: keyId, MacAlgorithm: 'HMAC_SHA_256', Message: message }));
    expect(Buffer.from(Mac!).equals(createHmac('sha256', material).update(message).digest())).toBe(true);
  });

  it('ECC_NIST_P256 PKCS#8 via RSA_AES_KEY_WRAP_SHA_256: signatures verify with the SPKI openssl derives', async () => {
    const keyId = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const { pkcs8, spki } = opensslKeyPair(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    await importMaterial(keyId, pkcs8, 'RSA_AES_KEY_WRAP_SHA_256');
    const { PublicKey } = await shared.kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(Buffer.from(PublicKey!).equals(spki)).toBe(true);
    const message = Buffer.from('signed by an imported EC key');
    const { Signature } = await shared.kms.send(new SignCommand({ KeyId: keyId, SigningAlgorithm: 'ECDSA_SHA_256', Message: message }));
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(verify('sha256', message, publicKey, Buffer.from(Signature!))).toBe(true);
  });

  it('RSA_2048 private key via RSA_AES_KEY_WRAP_SHA_1: PSS signatures verify with the SPKI openssl derives', async () => {
    const keyId = await externalKey('RSA_2048', 'SIGN_VERIFY');
    const { pkcs8, spki } = opensslKeyPair(['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
    await importMaterial(keyId, pkcs8, 'RSA_AES_KEY_WRAP_SHA_1');
    expect((await keyState(keyId)).KeyState).toBe('Enabled');
    const message = Buffer.from('signed by an imported RSA key');
    const { Signature } = await shared.kms.send(new SignCommand({ KeyId: keyId, SigningAlgorithm: 'RSASSA_PSS_SHA_256', Message: message }));
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(verify('sha256', message, { key: publicKey, padding: 6, saltLength: 32 }, Buffer.from(Signature!))).toBe(true);
  });

  it('EC material whose public point is another key\'s is IncorrectKeyMaterialException, not a key that cannot verify itself', async () => {
    // PKCS#8 may carry the public point beside the private scalar (openssl writes it last: 65 bytes on P-256).
    // Spliced from another key, it would be what GetPublicKey publishes while Sign uses the scalar.
    const keyId = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const genuine = opensslKeyPair(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const other = opensslKeyPair(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    expect(genuine.pkcs8.subarray(-65).equals(genuine.spki.subarray(-65))).toBe(true);
    const spliced = Buffer.concat([genuine.pkcs8.subarray(0, -65), other.spki.subarray(-65)]);
    expect(await outcome(importMaterial(keyId, spliced, 'RSA_AES_KEY_WRAP_SHA_256'))).toBe('IncorrectKeyMaterialException');
    expect((await keyState(keyId)).KeyState).toBe('PendingImport');
    await importMaterial(keyId, genuine.pkcs8, 'RSA_AES_KEY_WRAP_SHA_256');
    expect(Buffer.from((await shared.kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!).equals(genuine.spki)).toBe(true);
  });

  it('RSA material whose modulus is another key\'s is IncorrectKeyMaterialException, not a key that cannot decrypt for itself', async () => {
    const keyId = await externalKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const genuine = opensslKeyPair(['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
    const other = opensslKeyPair(['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
    const jwk = createPrivateKey({ key: genuine.pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
    const otherModulus = createPublicKey({ key: other.spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }).n;
    const spliced = createPrivateKey({ key: { ...jwk, n: otherModulus }, format: 'jwk' }).export({ format: 'der', type: 'pkcs8' });
    expect(await outcome(importMaterial(keyId, spliced, 'RSA_AES_KEY_WRAP_SHA_256'))).toBe('IncorrectKeyMaterialException');
    expect((await keyState(keyId)).KeyState).toBe('PendingImport');
    await importMaterial(keyId, genuine.pkcs8, 'RSA_AES_KEY_WRAP_SHA_256');
    const ciphertext = publicEncrypt({ key: createPublicKey({ key: genuine.spki, format: 'der', type: 'spki' }),
      padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('for the imported RSA key'));
    const { Plaintext } = await shared.kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ciphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(Buffer.from(Plaintext!).toString()).toBe('for the imported RSA key');
  });

  it('ML-DSA PKCS#8 carrying a public key not of its seed is IncorrectKeyMaterialException; carrying its own, it imports', async () => {
    // RFC 5958 OneAsymmetricKey (version 1) with the RFC 9881 seed and the optional [1] publicKey.
    const tlv = (tag: number, ...parts: Uint8Array[]) => {
      const value = Buffer.concat(parts);
      const length = value.length < 0x80 ? Buffer.from([value.length])
        : value.length < 0x100 ? Buffer.from([0x81, value.length]) : Buffer.from([0x82, value.length >> 8, value.length & 0xff]);
      return Buffer.concat([Buffer.from([tag]), length, value]);
    };
    const mlDsa44 = Buffer.from('0609608648016503040311', 'hex'); // OID 2.16.840.1.101.3.4.3.17
    const pkcs8 = (seed: Uint8Array, publicKey: Uint8Array) => tlv(0x30, Buffer.from('020101', 'hex'), tlv(0x30, mlDsa44),
      tlv(0x04, tlv(0x80, seed)), tlv(0x81, Buffer.from([0]), publicKey));
    const seed = randomBytes(32);
    const own = ml_dsa44.keygen(seed).publicKey;
    const another = ml_dsa44.keygen(randomBytes(32)).publicKey;
    const refused = await externalKey('ML_DSA_44', 'SIGN_VERIFY');
    expect(await outcome(importMaterial(refused, pkcs8(seed, another), 'RSA_AES_KEY_WRAP_SHA_256'))).toBe('IncorrectKeyMaterialException');
    expect((await keyState(refused)).KeyState).toBe('PendingImport');
    const imported = await externalKey('ML_DSA_44', 'SIGN_VERIFY');
    await importMaterial(imported, pkcs8(seed, own), 'RSA_AES_KEY_WRAP_SHA_256');
    const { PublicKey } = await shared.kms.send(new GetPublicKeyCommand({ KeyId: imported }));
    expect(Buffer.from(PublicKey!).subarray(-own.length).equals(Buffer.from(own))).toBe(true);
  });

  it('material of the wrong type or size is IncorrectKeyMaterialException', async () => {
    const ecKey = await externalKey('ECC_NIST_P384', 'SIGN_VERIFY');
    const p256 = opensslKeyPair(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']).pkcs8;
    expect(await outcome(importMaterial(ecKey, p256, 'RSA_AES_KEY_WRAP_SHA_256'))).toBe('IncorrectKeyMaterialException');
    const symmetric = await externalKey();
    expect(await outcome(importMaterial(symmetric, randomBytes(16), 'RSAES_OAEP_SHA_256'))).toBe('IncorrectKeyMaterialException');
    expect((await keyState(symmetric)).KeyState).toBe('PendingImport');
  });
});

describe('errors', () => {
  const noExpiry = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } as const;

  it('keys not of Origin EXTERNAL: UnsupportedOperationException for all three operations', async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    expect(await outcome(parameters(keyId, 'RSAES_OAEP_SHA_256'))).toBe('UnsupportedOperationException');
    expect(await outcome(shared.kms.send(new ImportKeyMaterialCommand({
      KeyId: keyId, ImportToken: randomBytes(200), EncryptedKeyMaterial: randomBytes(256), ...noExpiry,
    })))).toBe('UnsupportedOperationException');
    expect(await outcome(shared.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId })))).toBe('UnsupportedOperationException');
  });

  it('RSAES_PKCS1_V1_5 is refused; a key pending deletion is KMSInvalidStateException', async () => {
    const keyId = await externalKey();
    expect(await outcome(parameters(keyId, 'RSAES_PKCS1_V1_5' as WrappingAlgorithm))).toBe('ValidationException');
    await shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(await outcome(parameters(keyId, 'RSAES_OAEP_SHA_256'))).toBe('KMSInvalidStateException');
  });

  it('tokens: another key\'s, tampered, edited or expired ones are refused; bad wrapping is InvalidCiphertextException', async () => {
    const keyId = await externalKey();
    const otherKey = await externalKey();
    const material = randomBytes(32);
    const { token, publicKey } = await parameters(keyId, 'RSAES_OAEP_SHA_256');
    const encrypted = wrapWithOpenssl(publicKey, 'RSAES_OAEP_SHA_256', material);
    const attempt = (importToken: Uint8Array, encryptedMaterial: Uint8Array = encrypted, id = keyId) =>
      outcome(shared.kms.send(new ImportKeyMaterialCommand({ KeyId: id, ImportToken: importToken, EncryptedKeyMaterial: encryptedMaterial, ...noExpiry })));

    expect(await attempt(token, encrypted, otherKey)).toBe('InvalidImportTokenException');
    expect(await attempt(randomBytes(token.length))).toBe('InvalidImportTokenException');
    const tampered = Buffer.from(token);
    tampered[tampered.length - 1]! ^= 1;
    expect(await attempt(tampered)).toBe('InvalidImportTokenException');
    // The token's header: magic(4) | keyId(36) | spec(1) | algorithm(1) | validTo(8, float64). Pushing the
    // expiry forward breaks the seal; one in the past is an expired token.
    const extended = Buffer.from(token);
    extended.writeDoubleBE(extended.readDoubleBE(42) + 86_400, 42);
    expect(await attempt(extended)).toBe('InvalidImportTokenException');
    const expired = Buffer.from(token);
    expired.writeDoubleBE(Date.now() / 1000 - 60, 42);
    expect(await attempt(expired)).toBe('ExpiredImportTokenException');

    expect(await attempt(token, randomBytes(256))).toBe('InvalidCiphertextException');
    expect(await attempt(token, randomBytes(100))).toBe('InvalidCiphertextException');
    expect((await keyState(keyId)).KeyState).toBe('PendingImport');
    expect(await attempt(token)).toBe('ok');
  });

  it('ExpirationModel and ValidTo: required, forbidden, in the future, at most 365 days ahead', async () => {
    const keyId = await externalKey();
    const material = randomBytes(32);
    const day = 86_400_000;
    const expect4 = async (expiration: Parameters<typeof importMaterial>[3]) => outcome(importMaterial(keyId, material, 'RSAES_OAEP_SHA_256', expiration));
    expect(await expect4({})).toBe('ValidationException'); // default KEY_MATERIAL_EXPIRES needs ValidTo
    expect(await expect4({ ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ValidTo: new Date(Date.now() + day) })).toBe('ValidationException');
    expect(await expect4({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(Date.now() - day) })).toBe('ValidationException');
    expect(await expect4({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(Date.now() + 366 * day) })).toBe('ValidationException');
    const validTo = new Date(Date.now() + 30 * day);
    expect(await expect4({ ValidTo: validTo })).toBe('ok');
    const metadata = await keyState(keyId);
    expect(metadata.ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
    expect(Math.abs(metadata.ValidTo!.getTime() - validTo.getTime())).toBeLessThan(1000);
  });
});

describe('expiring material', () => {
  it('when ValidTo passes the material is deleted and the key goes to PendingImport, until reimported', async () => {
    const keyId = await externalKey();
    const material = randomBytes(32);
    const { token, publicKey } = await parameters(keyId, 'RSAES_OAEP_SHA_256');
    const encrypted = wrapWithOpenssl(publicKey, 'RSAES_OAEP_SHA_256', material);
    const validTo = Date.now() + 3_000; // set once the slow parts (key generation, openssl) are done
    await shared.kms.send(new ImportKeyMaterialCommand({
      KeyId: keyId, ImportToken: token, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(validTo),
    }));
    const ciphertext = (await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('short-lived') }))).CiphertextBlob!;
    await new Promise((resolve) => setTimeout(resolve, validTo - Date.now() + 500));
    expect(await outcome(shared.kms.send(new DecryptCommand({ CiphertextBlob: ciphertext })))).toBe('KMSInvalidStateException');
    const metadata = await keyState(keyId);
    expect(metadata.KeyState).toBe('PendingImport');
    expect(metadata.ValidTo).toBeUndefined();
    await importMaterial(keyId, material, 'RSAES_OAEP_SHA_256');
    const { Plaintext } = await shared.kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
    expect(Buffer.from(Plaintext!).toString()).toBe('short-lived');
  });
});
