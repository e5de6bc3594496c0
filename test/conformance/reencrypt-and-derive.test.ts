// ReEncrypt, DeriveSharedSecret, GenerateDataKeyPair(WithoutPlaintext) and GenerateRandom against a real server,
// for what the other conformance files leave open: ReEncrypt's key material ids across a rotation, its
// refusals of the source and destination keys in AWS's words, DryRun with IGNORE_CIPHERTEXT; ECDH secrets
// whose leading byte is zero and an imported key-agreement key, both checked with node:crypto; the wrapping
// key data key pairs need; GenerateRandom's bounds. symmetric.test.ts and rsa.test.ts cover the round trips,
// access/policies.test.ts and access/grants.test.ts ReEncrypt's two authorizations.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, DescribeKeyCommand, DisableKeyCommand,
  EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateRandomCommand, GetPublicKeyCommand, ReEncryptCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand,
  type CreateKeyCommandInput, type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPrivateKey } from '../conformance-keys/helpers.js';
import { failure } from '../support/sdk-errors.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let kms: KMSClient;

beforeAll(async () => {
  server = await startServer();
  kms = server.client();
});
afterAll(async () => {
  await server?.remove();
});

const newKey = async (input: CreateKeyCommandInput = {}): Promise<string> =>
  (await kms.send(new CreateKeyCommand(input))).KeyMetadata!.Arn!;
const currentMaterial = async (arn: string): Promise<string> =>
  (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.CurrentKeyMaterialId!;
const usageRefusal = (arn: string, usage: string, operation: string) =>
  ({ name: 'InvalidKeyUsageException', status: 400, message: `${arn} key usage is ${usage} which is not valid for ${operation}.` });

describe('ReEncrypt', () => {
  it('names both keys by ARN, the material the ciphertext was made with and the destination\'s current one', async () => {
    const source = await newKey();
    const destination = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/re-encrypt-destination', TargetKeyId: destination }));
    const made = await kms.send(new EncryptCommand({ KeyId: source, Plaintext: Buffer.from('moved'), EncryptionContext: { from: 'a' } }));
    const oldMaterial = await currentMaterial(source);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: source }));
    expect(await currentMaterial(source)).not.toBe(oldMaterial);

    const moved = await kms.send(new ReEncryptCommand({
      CiphertextBlob: made.CiphertextBlob, SourceKeyId: source, SourceEncryptionContext: { from: 'a' },
      DestinationKeyId: 'alias/re-encrypt-destination', DestinationEncryptionContext: { to: 'b' },
    }));
    expect(moved).toMatchObject({
      SourceKeyId: source, KeyId: destination, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      SourceKeyMaterialId: oldMaterial, DestinationKeyMaterialId: await currentMaterial(destination),
    });
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { to: 'b' } }));
    expect(opened).toMatchObject({ KeyId: destination, KeyMaterialId: moved.DestinationKeyMaterialId });
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('moved');
    // The new ciphertext is bound to the destination context, not the source one.
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { from: 'a' } }))))
      .toMatchObject({ name: 'InvalidCiphertextException', status: 400 });

    // Onto the same key: the current material, under which the old ciphertext now decrypts.
    const again = await kms.send(new ReEncryptCommand({ CiphertextBlob: made.CiphertextBlob, SourceEncryptionContext: { from: 'a' }, DestinationKeyId: source }));
    expect(again).toMatchObject({ SourceKeyId: source, KeyId: source, SourceKeyMaterialId: oldMaterial, DestinationKeyMaterialId: await currentMaterial(source) });
  });

  it('a SourceKeyId other than the ciphertext\'s key is IncorrectKeyException; a source or destination of another usage names it', async () => {
    const source = await newKey();
    const other = await newKey();
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: source, Plaintext: Buffer.from('x') }));
    expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, SourceKeyId: other, DestinationKeyId: other })))).toEqual({
      name: 'IncorrectKeyException', status: 400, message: 'The key ID in the request does not identify a KMS key that can perform this operation.',
    });
    const signing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const mac = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const agreement = await newKey({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'KEY_AGREEMENT' });
    for (const [arn, usage] of [[signing, 'SIGN_VERIFY'], [mac, 'GENERATE_VERIFY_MAC'], [agreement, 'KEY_AGREEMENT']] as const) {
      expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: arn })))).toEqual(usageRefusal(arn, usage, 'ReEncrypt'));
    }
    expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, SourceKeyId: signing, DestinationKeyId: other }))))
      .toEqual(usageRefusal(signing, 'SIGN_VERIFY', 'ReEncrypt'));
  });

  it('a destination that is disabled, pending deletion or pending import is refused in its state\'s words', async () => {
    const source = await newKey();
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: source, Plaintext: Buffer.from('x') }));
    const disabled = await newKey();
    await kms.send(new DisableKeyCommand({ KeyId: disabled }));
    const deleting = await newKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: deleting, PendingWindowInDays: 7 }));
    const importing = await newKey({ Origin: 'EXTERNAL' });
    expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: disabled }))))
      .toEqual({ name: 'DisabledException', status: 409, message: `${disabled} is disabled.` });
    expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: deleting }))))
      .toEqual({ name: 'KMSInvalidStateException', status: 409, message: `${deleting} is pending deletion.` });
    expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: importing }))))
      .toEqual({ name: 'KMSInvalidStateException', status: 409, message: `${importing} is pending import.` });
    // A dry run checks the destination too.
    expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: disabled, DryRun: true }))))
      .toMatchObject({ name: 'DisabledException', status: 409 });
  });

  it('an RSA source needs SourceKeyId and its algorithm, and takes no encryption context', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const destination = await newKey();
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    // RSA ciphertext names no key: without SourceKeyId there is nothing to open it with.
    expect(await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: destination }))))
      .toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    expect(await failure(kms.send(new ReEncryptCommand({
      CiphertextBlob, SourceKeyId: rsa, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', DestinationKeyId: destination,
    })))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    expect(await failure(kms.send(new ReEncryptCommand({
      CiphertextBlob, SourceKeyId: rsa, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', SourceEncryptionContext: { a: '1' }, DestinationKeyId: destination,
    })))).toMatchObject({ name: 'ValidationException', status: 400 });
    const moved = await kms.send(new ReEncryptCommand({ CiphertextBlob, SourceKeyId: rsa, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: destination }));
    // The RSA side has no key material id; the symmetric side has.
    expect(moved.SourceKeyMaterialId).toBeUndefined();
    expect(moved.DestinationKeyMaterialId).toBe(await currentMaterial(destination));
  });

  it('DryRun with IGNORE_CIPHERTEXT needs SourceKeyId, and says so by that name', async () => {
    const source = await newKey();
    const destination = await newKey();
    expect(await failure(kms.send(new ReEncryptCommand({ DestinationKeyId: destination, DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })))).toEqual({
      name: 'ValidationException', status: 400, message: 'A SourceKeyId is required with DryRunModifiers IGNORE_CIPHERTEXT.',
    });
    expect(await failure(kms.send(new ReEncryptCommand({
      SourceKeyId: source, DestinationKeyId: destination, DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'],
    })))).toMatchObject({ name: 'DryRunOperationException', status: 412 });
    // Decrypt's member is KeyId.
    expect(await failure(kms.send(new DecryptCommand({ DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })))).toEqual({
      name: 'ValidationException', status: 400, message: 'A KeyId is required with DryRunModifiers IGNORE_CIPHERTEXT.',
    });
  });
});

describe('DeriveSharedSecret', () => {
  const CURVES = { ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1' } as const;
  const SECRET_BYTES = { ECC_NIST_P256: 32, ECC_NIST_P384: 48, ECC_NIST_P521: 66 } as const;

  const kmsPublicKey = async (arn: string): Promise<KeyObject> =>
    createPublicKey({ key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: arn }))).PublicKey!), format: 'der', type: 'spki' });
  const derive = (arn: string, peer: KeyObject) => kms.send(new DeriveSharedSecretCommand({
    KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.export({ format: 'der', type: 'spki' }),
  }));

  it.each(Object.keys(CURVES) as (keyof typeof CURVES)[])('%s: a secret whose x coordinate starts with a zero byte keeps its full length', async (spec) => {
    const arn = await newKey({ KeySpec: spec, KeyUsage: 'KEY_AGREEMENT' });
    const kmsPublic = await kmsPublicKey(arn);
    // Peers are drawn locally until node:crypto's ECDH secret starts with 0x00 (about 1 in 256; 1 in 2 on P-521).
    let peer = generateKeyPairSync('ec', { namedCurve: CURVES[spec] });
    let expected = diffieHellman({ privateKey: peer.privateKey, publicKey: kmsPublic });
    while (expected[0] !== 0) {
      peer = generateKeyPairSync('ec', { namedCurve: CURVES[spec] });
      expected = diffieHellman({ privateKey: peer.privateKey, publicKey: kmsPublic });
    }
    const out = await derive(arn, peer.publicKey);
    expect(out.SharedSecret!.length).toBe(SECRET_BYTES[spec]);
    expect(Buffer.from(out.SharedSecret!).equals(expected)).toBe(true);
  });

  it('an imported key-agreement key answers KeyOrigin EXTERNAL and the secret its private key gives node:crypto', async () => {
    const arn = await newKey({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'KEY_AGREEMENT', Origin: 'EXTERNAL' });
    const mine = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    await importPrivateKey(kms, arn, mine.privateKey.export({ format: 'der', type: 'pkcs8' }));
    expect((await kmsPublicKey(arn)).export({ format: 'der', type: 'spki' })).toEqual(mine.publicKey.export({ format: 'der', type: 'spki' }));
    const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const out = await derive(arn, peer.publicKey);
    expect(out).toMatchObject({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'EXTERNAL' });
    const expected = diffieHellman({ privateKey: mine.privateKey, publicKey: peer.publicKey });
    expect(Buffer.from(out.SharedSecret!).equals(expected)).toBe(true);
    expect(diffieHellman({ privateKey: peer.privateKey, publicKey: mine.publicKey }).equals(expected)).toBe(true);
  });

  it('refusals: keys of another usage name it; a dry run checks the peer key; ECDH is the only algorithm; 8192 bytes at most', async () => {
    const arn = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    const signing = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const symmetric = await newKey();
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    expect(await failure(derive(signing, peer))).toEqual(usageRefusal(signing, 'SIGN_VERIFY', 'DeriveSharedSecret'));
    expect(await failure(derive(symmetric, peer))).toEqual(usageRefusal(symmetric, 'ENCRYPT_DECRYPT', 'DeriveSharedSecret'));
    expect(await failure(kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.export({ format: 'der', type: 'spki' }), DryRun: true }))))
      .toMatchObject({ name: 'DryRunOperationException', status: 412 });
    expect(await failure(kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: Buffer.from('not a key'), DryRun: true }))))
      .toMatchObject({ name: 'ValidationException', status: 400 });
    expect(await failure(kms.send(new DeriveSharedSecretCommand({
      KeyId: arn, KeyAgreementAlgorithm: 'ECDHE' as 'ECDH', PublicKey: peer.export({ format: 'der', type: 'spki' }),
    })))).toEqual({ name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [ECDH]" });
    expect(await failure(kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: Buffer.alloc(8193, 0x30) })))).toEqual({
      name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'publicKey' failed to satisfy constraint: Member must have length less than or equal to 8192",
    });
  });
});

describe('GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext', () => {
  it('the wrapping key must be a symmetric encryption key: an asymmetric one is refused naming its KeySpec, AWS\'s words', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const refusal = (operation: string) =>
      ({ name: 'InvalidKeyUsageException', status: 400, message: `${rsa} key KeySpec is RSA_2048 which is not valid for ${operation}.` });
    expect(await failure(kms.send(new GenerateDataKeyPairCommand({ KeyId: rsa, KeyPairSpec: 'ECC_NIST_P256' })))).toEqual(refusal('GenerateDataKeyPair'));
    expect(await failure(kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: rsa, KeyPairSpec: 'ECC_NIST_P256' }))))
      .toEqual(refusal('GenerateDataKeyPairWithoutPlaintext'));
    expect(await failure(kms.send(new GenerateDataKeyCommand({ KeyId: rsa, KeySpec: 'AES_256' })))).toEqual(refusal('GenerateDataKey'));
    // Checked before a dry run would succeed.
    expect(await failure(kms.send(new GenerateDataKeyPairCommand({ KeyId: rsa, KeyPairSpec: 'ECC_NIST_P256', DryRun: true })))).toEqual(refusal('GenerateDataKeyPair'));
  });

  it('a key of another usage is refused naming its usage', async () => {
    const mac = await newKey({ KeySpec: 'HMAC_384', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const agreement = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    expect(await failure(kms.send(new GenerateDataKeyPairCommand({ KeyId: mac, KeyPairSpec: 'RSA_2048' }))))
      .toEqual(usageRefusal(mac, 'GENERATE_VERIFY_MAC', 'GenerateDataKeyPair'));
    expect(await failure(kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: agreement, KeyPairSpec: 'ECC_NIST_P256' }))))
      .toEqual(usageRefusal(agreement, 'KEY_AGREEMENT', 'GenerateDataKeyPairWithoutPlaintext'));
  });

  it('the private key blob belongs to the wrapping key and its material: Decrypt names both, another KeyId is IncorrectKeyException', async () => {
    const wrapping = await newKey();
    const other = await newKey();
    const pair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: wrapping, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: { pair: '1' } }));
    expect(pair).toMatchObject({ KeyId: wrapping, KeyPairSpec: 'ECC_NIST_P256', KeyMaterialId: await currentMaterial(wrapping) });
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext: { pair: '1' } }));
    expect(opened).toMatchObject({ KeyId: wrapping, KeyMaterialId: pair.KeyMaterialId });
    const privateKey = createPrivateKey({ key: Buffer.from(opened.Plaintext!), format: 'der', type: 'pkcs8' });
    expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(pair.PublicKey!));
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, KeyId: other, EncryptionContext: { pair: '1' } }))))
      .toMatchObject({ name: 'IncorrectKeyException', status: 400 });
    expect(await failure(kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: wrapping, KeyPairSpec: 'RSA_2048', DryRun: true }))))
      .toMatchObject({ name: 'DryRunOperationException', status: 412 });
  });
});

describe('GenerateRandom', () => {
  it('takes 1 to 1024 bytes; outside that range the model\'s constraint is quoted', async () => {
    for (const bytes of [1, 1024]) {
      expect((await kms.send(new GenerateRandomCommand({ NumberOfBytes: bytes }))).Plaintext!.length).toBe(bytes);
    }
    expect(await failure(kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })))).toEqual({ name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1" });
    expect(await failure(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })))).toEqual({ name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024" });
  });
});
