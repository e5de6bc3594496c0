// Key states through the real server (kms-api.md section 5.3): every cryptographic operation of every key usage
// in Disabled, PendingDeletion and PendingImport answers AWS's exception and message; the read and management
// operations each state still allows work; CancelKeyDeletion finds the state the key's material leaves it in;
// DescribeKey of a key pending deletion shows what AWS shows.
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand,
  DeleteImportedKeyMaterialCommand, DeriveSharedSecretCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand, GenerateMacCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand,
  GetParametersForImportCommand, GetPublicKeyCommand, ImportKeyMaterialCommand, ListResourceTagsCommand,
  ReEncryptCommand, ScheduleKeyDeletionCommand, SignCommand, TagResourceCommand, UpdateKeyDescriptionCommand,
  VerifyCommand, VerifyMacCommand,
  type CreateKeyCommandInput, type KMSClient, type KeyMetadata,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { failure } from './helpers.js';

let server: TestServer;
let kms: KMSClient;
/** An Enabled symmetric key, for the other side of ReEncrypt. */
let usable: KeyMetadata;

beforeAll(async () => {
  server = await startServer();
  kms = server.client();
  usable = await create({});
});
afterAll(async () => {
  await server?.remove();
});

const create = async (input: CreateKeyCommandInput): Promise<KeyMetadata> => (await kms.send(new CreateKeyCommand(input))).KeyMetadata!;
const describeKey = async (keyId: string): Promise<KeyMetadata> => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
const bytes = (text: string) => Buffer.from(text);

/** Raw symmetric (or HMAC) material imported as a BYOK user does: RSAES_OAEP_SHA_256 under the wrapping key. */
async function importMaterial(keyId: string, material: Buffer): Promise<void> {
  const parameters = await kms.send(new GetParametersForImportCommand({
    KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048',
  }));
  const wrapped = publicEncrypt({
    key: createPublicKey({ key: Buffer.from(parameters.PublicKey!), format: 'der', type: 'spki' }),
    padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256',
  }, material);
  await kms.send(new ImportKeyMaterialCommand({
    KeyId: keyId, ImportToken: parameters.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  }));
}

/** One key of each usage, plus what each can only make while usable: a ciphertext, a signature, a MAC. */
interface KeySet {
  symmetric: KeyMetadata; rsa: KeyMetadata; signing: KeyMetadata; hmac: KeyMetadata; agreement: KeyMetadata;
  ciphertext: Uint8Array; rsaCiphertext: Uint8Array; signature: Uint8Array; mac: Uint8Array;
}

async function keySet(origin?: 'EXTERNAL'): Promise<KeySet> {
  const [symmetric, rsa, signing, hmac, agreement] = await Promise.all([
    create({ Origin: origin }),
    create({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT', Origin: origin }),
    create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Origin: origin }),
    create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: origin }),
    create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT', Origin: origin }),
  ]);
  if (origin === 'EXTERNAL') {
    // Never imported: nothing was ever made with these keys, so anything stands in for their outputs.
    return { symmetric, rsa, signing, hmac, agreement, ciphertext: randomBytes(100), rsaCiphertext: randomBytes(256), signature: randomBytes(72), mac: randomBytes(32) };
  }
  const [ciphertext, rsaCiphertext, signature, mac] = await Promise.all([
    kms.send(new EncryptCommand({ KeyId: symmetric.KeyId, Plaintext: bytes('x') })).then((out) => out.CiphertextBlob!),
    kms.send(new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: bytes('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).then((out) => out.CiphertextBlob!),
    kms.send(new SignCommand({ KeyId: signing.KeyId, Message: bytes('m'), SigningAlgorithm: 'ECDSA_SHA_256' })).then((out) => out.Signature!),
    kms.send(new GenerateMacCommand({ KeyId: hmac.KeyId, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_256' })).then((out) => out.Mac!),
  ]);
  return { symmetric, rsa, signing, hmac, agreement, ciphertext, rsaCiphertext, signature, mac };
}

/** Every operation the state table groups as cryptographic (and CreateGrant), with the key it names. */
function cryptographicCalls(set: KeySet): Array<[string, KeyMetadata, () => Promise<unknown>]> {
  const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
  const { symmetric, rsa, signing, hmac, agreement } = set;
  return [
    ['Encrypt', symmetric, () => kms.send(new EncryptCommand({ KeyId: symmetric.KeyId, Plaintext: bytes('x') }))],
    ['Encrypt (RSA)', rsa, () => kms.send(new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: bytes('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))],
    ['Decrypt (RSA)', rsa, () => kms.send(new DecryptCommand({ CiphertextBlob: set.rsaCiphertext, KeyId: rsa.KeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))],
    ['ReEncrypt from the key', symmetric, () => kms.send(new ReEncryptCommand({ CiphertextBlob: set.ciphertext, SourceKeyId: symmetric.KeyId, DestinationKeyId: usable.KeyId }))],
    ['GenerateDataKey', symmetric, () => kms.send(new GenerateDataKeyCommand({ KeyId: symmetric.KeyId, KeySpec: 'AES_256' }))],
    ['GenerateDataKeyWithoutPlaintext', symmetric, () => kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: symmetric.KeyId, NumberOfBytes: 16 }))],
    ['GenerateDataKeyPair', symmetric, () => kms.send(new GenerateDataKeyPairCommand({ KeyId: symmetric.KeyId, KeyPairSpec: 'ECC_NIST_P256' }))],
    ['GenerateDataKeyPairWithoutPlaintext', symmetric, () => kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: symmetric.KeyId, KeyPairSpec: 'ECC_NIST_P256' }))],
    ['Sign', signing, () => kms.send(new SignCommand({ KeyId: signing.KeyId, Message: bytes('m'), SigningAlgorithm: 'ECDSA_SHA_256' }))],
    ['Verify', signing, () => kms.send(new VerifyCommand({ KeyId: signing.KeyId, Message: bytes('m'), SigningAlgorithm: 'ECDSA_SHA_256', Signature: set.signature }))],
    ['GetPublicKey', signing, () => kms.send(new GetPublicKeyCommand({ KeyId: signing.KeyId }))],
    ['GenerateMac', hmac, () => kms.send(new GenerateMacCommand({ KeyId: hmac.KeyId, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_256' }))],
    ['VerifyMac', hmac, () => kms.send(new VerifyMacCommand({ KeyId: hmac.KeyId, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_256', Mac: set.mac }))],
    ['DeriveSharedSecret', agreement, () => kms.send(new DeriveSharedSecretCommand({ KeyId: agreement.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer }))],
    ['CreateGrant', symmetric, () => kms.send(new CreateGrantCommand({
      KeyId: symmetric.KeyId, GranteePrincipal: `arn:aws:iam::${server.accountId}:root`, Operations: ['Encrypt'],
    }))],
  ];
}

/** The read and management calls every state allows (kms-api.md section 5.3), on the set's symmetric key. */
const readCalls = (keyId: string): Array<[string, () => Promise<unknown>]> => [
  ['DescribeKey', () => kms.send(new DescribeKeyCommand({ KeyId: keyId }))],
  ['GetKeyPolicy', () => kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))],
  ['ListResourceTags', () => kms.send(new ListResourceTagsCommand({ KeyId: keyId }))],
];

describe('cryptographic operations by key state', () => {
  let usableCiphertext: Uint8Array;
  beforeAll(async () => {
    usableCiphertext = (await kms.send(new EncryptCommand({ KeyId: usable.KeyId, Plaintext: bytes('x') }))).CiphertextBlob!;
  });

  const cases = [
    { state: 'Disabled', error: 'DisabledException', says: 'is disabled.' },
    { state: 'PendingDeletion', error: 'KMSInvalidStateException', says: 'is pending deletion.' },
    { state: 'PendingImport', error: 'KMSInvalidStateException', says: 'is pending import.' },
  ] as const;

  it.each(cases)('$state: $error "<key ARN> $says" from every one, 409; reads still work', async ({ state, error, says }) => {
    const set = await keySet(state === 'PendingImport' ? 'EXTERNAL' : undefined);
    for (const key of [set.symmetric, set.rsa, set.signing, set.hmac, set.agreement]) {
      if (state === 'Disabled') await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
      if (state === 'PendingDeletion') await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      expect(await describeKey(key.KeyId!)).toMatchObject({ KeyState: state, Enabled: false });
    }
    for (const [name, key, call] of cryptographicCalls(set)) {
      expect(await failure(call()), `${state} ${name}`).toEqual({ name: error, status: 409, message: `${key.Arn} ${says}` });
    }
    if (state !== 'PendingImport') {
      // A symmetric ciphertext names its key: Decrypt and ReEncrypt without KeyId meet the key's state too.
      expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: set.ciphertext }))))
        .toEqual({ name: error, status: 409, message: `${set.symmetric.Arn} ${says}` });
      expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob: usableCiphertext, DestinationKeyId: set.symmetric.KeyId }))))
        .toEqual({ name: error, status: 409, message: `${set.symmetric.Arn} ${says}` });
    }
    for (const [name, call] of readCalls(set.symmetric.KeyId!)) await expect(call(), `${state} ${name}`).resolves.toBeDefined();
  });

});

describe('management operations by key state', () => {
  it('pending deletion: tags, description and aliases are refused; rotation status and policy still answer', async () => {
    const key = await create({});
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    const pending = { name: 'KMSInvalidStateException', status: 409, message: `${key.Arn} is pending deletion.` };
    expect(await failure(kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })))).toEqual(pending);
    expect(await failure(kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: 'd' })))).toEqual(pending);
    expect(await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/states-pending', TargetKeyId: key.KeyId })))).toEqual(pending);
    expect(await failure(kms.send(new DisableKeyCommand({ KeyId: key.KeyId })))).toEqual(pending);
    expect(await failure(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId })))).toEqual(pending);
    expect(await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).toMatchObject({ KeyRotationEnabled: false });
  });

  it('pending import: tags, description and aliases work; EnableKey and DisableKey are KMSInvalidStateException', async () => {
    const key = await create({ Origin: 'EXTERNAL' });
    await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] }));
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: 'd' }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/states-import', TargetKeyId: key.KeyId }));
    const pending = { name: 'KMSInvalidStateException', status: 409, message: `${key.Arn} is pending import.` };
    expect(await failure(kms.send(new EnableKeyCommand({ KeyId: key.KeyId })))).toEqual(pending);
    expect(await failure(kms.send(new DisableKeyCommand({ KeyId: key.KeyId })))).toEqual(pending);
  });
});

describe('ScheduleKeyDeletion and CancelKeyDeletion', () => {
  it('DescribeKey of a key pending deletion shows its DeletionDate, and no PendingDeletionWindowInDays (PendingReplicaDeletion only)', async () => {
    const key = await create({});
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 9 }));
    expect(scheduled).toMatchObject({ KeyId: key.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 9 });
    const described = await describeKey(key.KeyId!);
    expect(described).toMatchObject({ KeyState: 'PendingDeletion', Enabled: false, DeletionDate: scheduled.DeletionDate });
    expect(described.PendingDeletionWindowInDays).toBeUndefined();
  });

  it('GetKeyRotationStatus of a key pending deletion is false; CancelKeyDeletion brings the rotation status back', async () => {
    const key = await create({});
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 180 }));
    const before = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    expect(before).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    const pending = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    expect(pending).toMatchObject({ KeyRotationEnabled: false, KeyId: key.Arn });
    expect(pending.NextRotationDate).toBeUndefined();
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
    expect(await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId })))
      .toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180, NextRotationDate: before.NextRotationDate });
  });

  it('an EXTERNAL key whose material was deleted, before or during the window, goes back to PendingImport, not Disabled', async () => {
    for (const spec of ['SYMMETRIC_DEFAULT', 'HMAC_256'] as const) {
      for (const deleteDuringWindow of [false, true]) {
        const label = `${spec}, material deleted ${deleteDuringWindow ? 'during' : 'before'} the window`;
        const key = await create(spec === 'HMAC_256' ? { Origin: 'EXTERNAL', KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' } : { Origin: 'EXTERNAL' });
        await importMaterial(key.KeyId!, randomBytes(32));
        if (!deleteDuringWindow) await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId }));
        await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
        if (deleteDuringWindow) await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId }));
        expect((await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }))).KeyId, label).toBe(key.Arn);
        expect(await describeKey(key.KeyId!), label).toMatchObject({ KeyState: 'PendingImport', Enabled: false });
        // Not a Disabled key that EnableKey could turn on with nothing to use.
        expect(await failure(kms.send(new EnableKeyCommand({ KeyId: key.KeyId }))), label)
          .toEqual({ name: 'KMSInvalidStateException', status: 409, message: `${key.Arn} is pending import.` });
      }
    }
    expect(server.output()).not.toContain('internal error');
  });

  it('an EXTERNAL key with its material goes back to Disabled, and EnableKey makes it usable', async () => {
    const key = await create({ Origin: 'EXTERNAL' });
    await importMaterial(key.KeyId!, randomBytes(32));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
    expect(await describeKey(key.KeyId!)).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    await expect(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: bytes('x') }))).resolves.toMatchObject({ KeyId: key.Arn });
  });
});
