// RSA keys of every size and data key pairs of every spec, end to end. RSA_3072/4096 generation is slow, so each
// size is generated once by CreateKey and once by GenerateDataKeyPair, and the data key pair's private key is
// imported (BYOK) as that size's key of the other usage: the engine's PKCS#8 is then proven on both sides.
import {
  constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes, sign as nodeSign, verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand, GetPublicKeyCommand, ReEncryptCommand,
  type DataKeyPairSpec, type EncryptionAlgorithmSpec, type GenerateDataKeyPairCommandOutput, type KMSClient, type KeySpec,
  type KeyUsageType,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import {
  SIGNING_ALGORITHMS, checkSignatureCase, failure, importPrivateKey, signatureCases, signingKey, sorted,
} from './helpers.js';

const PAIR_SPECS: DataKeyPairSpec[] = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521',
  'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519'];
const CONTEXT = { purpose: 'data-key-pair', tenant: 'ünïcode' };
const OAEP = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
/** k - 2 hLen - 2 (kms-api.md section 5.1), written out. */
const MAX_PLAINTEXT: Record<string, Record<(typeof OAEP)[number], number>> = {
  RSA_2048: { RSAES_OAEP_SHA_1: 214, RSAES_OAEP_SHA_256: 190 },
  RSA_3072: { RSAES_OAEP_SHA_1: 342, RSAES_OAEP_SHA_256: 318 },
  RSA_4096: { RSAES_OAEP_SHA_1: 470, RSAES_OAEP_SHA_256: 446 },
};

let server: TestServer;
let kms: KMSClient;
let symmetricArn: string;
const pairs = new Map<DataKeyPairSpec, GenerateDataKeyPairCommandOutput>();
/** `${spec} ${usage}` -> key ARN */
const rsaKeys = new Map<string, string>();
/** Private keys the test knows (the imported ones), by key ARN. */
const knownPrivateKeys = new Map<string, KeyObject>();

async function createKey(spec: KeySpec, usage: KeyUsageType, origin?: 'EXTERNAL'): Promise<string> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage, Origin: origin }));
  return KeyMetadata!.Arn!;
}

beforeAll(async () => {
  server = await startServer();
  kms = server.client();
  symmetricArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  const generated = await Promise.all([
    ...PAIR_SPECS.map(async (spec) => {
      pairs.set(spec, await kms.send(new GenerateDataKeyPairCommand({ KeyId: symmetricArn, KeyPairSpec: spec, EncryptionContext: CONTEXT })));
    }),
    createKey('RSA_2048', 'ENCRYPT_DECRYPT').then((arn) => rsaKeys.set('RSA_2048 ENCRYPT_DECRYPT', arn)),
    createKey('RSA_3072', 'ENCRYPT_DECRYPT').then((arn) => rsaKeys.set('RSA_3072 ENCRYPT_DECRYPT', arn)),
    createKey('RSA_4096', 'SIGN_VERIFY').then((arn) => rsaKeys.set('RSA_4096 SIGN_VERIFY', arn)),
  ]);
  expect(generated).toHaveLength(PAIR_SPECS.length + 3);
  for (const [spec, usage] of [['RSA_3072', 'SIGN_VERIFY'], ['RSA_4096', 'ENCRYPT_DECRYPT']] as const) {
    const arn = await createKey(spec, usage, 'EXTERNAL');
    const pkcs8 = pairs.get(spec)!.PrivateKeyPlaintext!;
    await importPrivateKey(kms, arn, pkcs8);
    rsaKeys.set(`${spec} ${usage}`, arn);
    knownPrivateKeys.set(arn, createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }));
  }
}, 180_000);
afterAll(async () => {
  await server?.remove();
});

const der = (bytes: Uint8Array | undefined) => Buffer.from(bytes!);

/** What node:crypto says a pair spec's key is. */
function expectKeyType(key: KeyObject, spec: DataKeyPairSpec): void {
  if (spec.startsWith('RSA_')) {
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(Number(spec.slice(4)));
  } else if (spec === 'ECC_NIST_EDWARDS25519') {
    expect(key.asymmetricKeyType).toBe('ed25519');
  } else {
    const curves: Record<string, string> = { ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1', ECC_SECG_P256K1: 'secp256k1' };
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe(curves[spec]);
  }
}

/** The private key signs, the public key verifies: the two halves belong together. */
function expectMatchingPair(privateKey: KeyObject, spki: Buffer): void {
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const hash = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const message = randomBytes(32);
  expect(nodeVerify(hash, message, publicKey, nodeSign(hash, message, privateKey))).toBe(true);
  expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(spki)).toBe(true);
}

/** `openssl pkey` reads the PKCS#8 DER and derives the same SPKI. */
function opensslPublicOf(pkcs8: Buffer): Buffer {
  return execFileSync('openssl', ['pkey', '-inform', 'DER', '-pubout', '-outform', 'DER'], { input: pkcs8 });
}

describe('GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext', () => {
  it.each(PAIR_SPECS)('%s: PKCS#8 and SPKI that match; the ciphertext blob decrypts to the PKCS#8 under its context', async (spec) => {
    const out = pairs.get(spec)!;
    expect(out).toMatchObject({ KeyId: symmetricArn, KeyPairSpec: spec });
    expect(out.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    const pkcs8 = der(out.PrivateKeyPlaintext);
    const spki = der(out.PublicKey);
    const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    expectKeyType(privateKey, spec);
    expectMatchingPair(privateKey, spki);
    expect(opensslPublicOf(pkcs8).equals(spki)).toBe(true);

    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: CONTEXT }));
    expect(der(decrypted.Plaintext).equals(pkcs8)).toBe(true);
    expect(decrypted).toMatchObject({ KeyId: symmetricArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob }))))
      .toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: { ...CONTEXT, tenant: 'other' } }))))
      .toMatchObject({ name: 'InvalidCiphertextException' });

    const without = await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: symmetricArn, KeyPairSpec: spec, EncryptionContext: CONTEXT }));
    expect(without).toMatchObject({ KeyId: symmetricArn, KeyPairSpec: spec });
    expect((without as { PrivateKeyPlaintext?: unknown }).PrivateKeyPlaintext).toBeUndefined();
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: without.PrivateKeyCiphertextBlob, EncryptionContext: CONTEXT }));
    const privateWithout = createPrivateKey({ key: der(opened.Plaintext), format: 'der', type: 'pkcs8' });
    expectKeyType(privateWithout, spec);
    expectMatchingPair(privateWithout, der(without.PublicKey));
    expect(der(without.PublicKey).equals(spki)).toBe(false);
  });

  it('needs a symmetric encryption key to wrap the pair', async () => {
    const signing = rsaKeys.get('RSA_4096 SIGN_VERIFY')!;
    expect(await failure(kms.send(new GenerateDataKeyPairCommand({ KeyId: signing, KeyPairSpec: 'ECC_NIST_P256' }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
    expect(await failure(kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: rsaKeys.get('RSA_2048 ENCRYPT_DECRYPT')!, KeyPairSpec: 'ECC_NIST_P256' }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
  });

  it('refuses KeyPairSpec SM2 as CreateKey refuses KeySpec SM2: AWS offers it only in China Regions', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    for (const send of [
      () => kms.send(new GenerateDataKeyPairCommand({ KeyId: KeyMetadata!.KeyId!, KeyPairSpec: 'SM2' })),
      () => kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: KeyMetadata!.KeyId!, KeyPairSpec: 'SM2' })),
    ]) {
      expect(await failure(send())).toMatchObject({ name: 'UnsupportedOperationException', status: 400,
        message: 'KeyPairSpec SM2 is not supported in this region.' });
    }
  });
});

describe('RSA keys of every size', () => {
  it('DescribeKey and GetPublicKey list exactly the algorithms of the key usage; imported keys keep the pair public key', async () => {
    for (const [name, arn] of rsaKeys) {
      const [spec, usage] = name.split(' ') as [string, string];
      const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: arn }));
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId: arn }));
      for (const answer of [KeyMetadata!, pub]) {
        expect(answer).toMatchObject({ KeySpec: spec, CustomerMasterKeySpec: spec, KeyUsage: usage });
        if (usage === 'SIGN_VERIFY') {
          expect(sorted(answer.SigningAlgorithms)).toEqual(sorted(SIGNING_ALGORITHMS[spec]));
          expect(answer.EncryptionAlgorithms).toBeUndefined();
        } else {
          expect(sorted(answer.EncryptionAlgorithms)).toEqual([...OAEP]);
          expect(answer.SigningAlgorithms).toBeUndefined();
        }
        expect(answer.KeyAgreementAlgorithms).toBeUndefined();
      }
      expect(KeyMetadata!.MacAlgorithms).toBeUndefined();
      const publicKey = createPublicKey({ key: der(pub.PublicKey), format: 'der', type: 'spki' });
      expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(Number(spec.slice(4)));
      if (knownPrivateKeys.has(arn)) {
        expect(KeyMetadata).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'Enabled' });
        expect(der(pub.PublicKey).equals(der(pairs.get(spec as DataKeyPairSpec)!.PublicKey))).toBe(true);
      }
    }
  });

  for (const spec of ['RSA_3072', 'RSA_4096']) {
    it(`${spec}: every signing algorithm and message type, checked independently`, async () => {
      const key = await signingKey(kms, rsaKeys.get(`${spec} SIGN_VERIFY`)!);
      for (const signatureCase of signatureCases(SIGNING_ALGORITHMS[spec]!)) await checkSignatureCase(kms, key, signatureCase);
    });
  }
});

describe('RSA Encrypt, Decrypt and ReEncrypt', () => {
  const encryptionKeys = ['RSA_2048', 'RSA_3072', 'RSA_4096'].map((spec) => ({ spec }));
  const arnOf = (spec: string) => rsaKeys.get(`${spec} ENCRYPT_DECRYPT`)!;
  const encrypt = (spec: string, algorithm: EncryptionAlgorithmSpec, plaintext: Buffer) =>
    kms.send(new EncryptCommand({ KeyId: arnOf(spec), EncryptionAlgorithm: algorithm, Plaintext: plaintext }));
  const decrypt = (spec: string, algorithm: EncryptionAlgorithmSpec, ciphertext: Uint8Array) =>
    kms.send(new DecryptCommand({ KeyId: arnOf(spec), EncryptionAlgorithm: algorithm, CiphertextBlob: ciphertext }));

  it.each(encryptionKeys)('$spec: the OAEP plaintext limit per algorithm, and ciphertext made offline decrypts', async ({ spec }) => {
    const spki = der((await kms.send(new GetPublicKeyCommand({ KeyId: arnOf(spec) }))).PublicKey);
    for (const algorithm of OAEP) {
      const max = MAX_PLAINTEXT[spec]![algorithm];
      const plaintext = randomBytes(max);
      const encrypted = await encrypt(spec, algorithm, plaintext);
      expect(encrypted).toMatchObject({ KeyId: arnOf(spec), EncryptionAlgorithm: algorithm });
      expect(encrypted.CiphertextBlob!.length).toBe(Number(spec.slice(4)) / 8);
      const decrypted = await decrypt(spec, algorithm, encrypted.CiphertextBlob!);
      expect(der(decrypted.Plaintext).equals(plaintext)).toBe(true);
      expect(decrypted).toMatchObject({ KeyId: arnOf(spec), EncryptionAlgorithm: algorithm });
      expect(decrypted.KeyMaterialId).toBeUndefined();

      const tooLong = await failure(encrypt(spec, algorithm, randomBytes(max + 1)));
      expect(tooLong).toEqual({
        name: 'ValidationException', status: 400, message: `Algorithm ${algorithm} and key spec ${spec} cannot encrypt data larger than ${max} bytes.`,
      });

      const oaepHash = algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
      const offline = publicEncrypt({ key: createPublicKey({ key: spki, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, plaintext);
      expect(der((await decrypt(spec, algorithm, offline)).Plaintext).equals(plaintext)).toBe(true);
      // The other OAEP hash, or a damaged ciphertext, does not open.
      const otherAlgorithm = algorithm === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
      expect(await failure(decrypt(spec, otherAlgorithm, offline))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
      offline[offline.length - 1]! ^= 1;
      expect(await failure(decrypt(spec, algorithm, offline))).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });

      const knownPrivate = knownPrivateKeys.get(arnOf(spec));
      if (knownPrivate !== undefined) {
        // The imported key: what the server encrypts, node:crypto opens with the data key pair's private key.
        expect(privateDecrypt({ key: knownPrivate, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, encrypted.CiphertextBlob!).equals(plaintext)).toBe(true);
      }
    }
  });

  it('asymmetric encryption rules: the key\'s own algorithm (the default, SYMMETRIC_DEFAULT, is not), no encryption context, KeyId required to decrypt', async () => {
    const arn = arnOf('RSA_2048');
    expect(await failure(kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400, message: 'Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.' });
    expect(await failure(kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
    expect(await failure(kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256', EncryptionContext: { a: 'b' } }))))
      .toMatchObject({ name: 'ValidationException' });
    expect(await failure(kms.send(new EncryptCommand({ KeyId: symmetricArn, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))))
      .toMatchObject({ name: 'InvalidKeyUsageException' });
    expect(await failure(kms.send(new EncryptCommand({ KeyId: rsaKeys.get('RSA_4096 SIGN_VERIFY')!, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))))
      .toMatchObject({ name: 'InvalidKeyUsageException' });
    const { CiphertextBlob } = await encrypt('RSA_2048', 'RSAES_OAEP_SHA_256', Buffer.from('x'));
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob })))).toMatchObject({ name: 'InvalidCiphertextException' });
    expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob, KeyId: arn })))).toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
  });

  it('ReEncrypt symmetric -> RSA, RSA -> symmetric and RSA -> RSA', async () => {
    const plaintext = randomBytes(100);
    const symmetric = await kms.send(new EncryptCommand({ KeyId: symmetricArn, Plaintext: plaintext, EncryptionContext: { a: '1' } }));
    const toRsa = await kms.send(new ReEncryptCommand({
      CiphertextBlob: symmetric.CiphertextBlob, SourceEncryptionContext: { a: '1' },
      DestinationKeyId: arnOf('RSA_3072'), DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    }));
    expect(toRsa).toMatchObject({
      SourceKeyId: symmetricArn, KeyId: arnOf('RSA_3072'), SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(toRsa.CiphertextBlob!.length).toBe(384);
    expect(der((await decrypt('RSA_3072', 'RSAES_OAEP_SHA_1', toRsa.CiphertextBlob!)).Plaintext).equals(plaintext)).toBe(true);

    const toRsa4096 = await kms.send(new ReEncryptCommand({
      CiphertextBlob: toRsa.CiphertextBlob, SourceKeyId: arnOf('RSA_3072'), SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      DestinationKeyId: arnOf('RSA_4096'), DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    }));
    expect(privateDecrypt({ key: knownPrivateKeys.get(arnOf('RSA_4096'))!, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      toRsa4096.CiphertextBlob!).equals(plaintext)).toBe(true);

    const back = await kms.send(new ReEncryptCommand({
      CiphertextBlob: toRsa4096.CiphertextBlob, SourceKeyId: arnOf('RSA_4096'), SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      DestinationKeyId: symmetricArn, DestinationEncryptionContext: { b: '2' },
    }));
    expect(back).toMatchObject({
      SourceKeyId: arnOf('RSA_4096'), KeyId: symmetricArn, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    expect(back.DestinationKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: back.CiphertextBlob, EncryptionContext: { b: '2' } }));
    expect(der(opened.Plaintext).equals(plaintext)).toBe(true);

    // A symmetric plaintext longer than the destination's OAEP limit cannot move to RSA.
    const long = await kms.send(new EncryptCommand({ KeyId: symmetricArn, Plaintext: randomBytes(191) }));
    expect(await failure(kms.send(new ReEncryptCommand({
      CiphertextBlob: long.CiphertextBlob, DestinationKeyId: arnOf('RSA_2048'), DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    })))).toEqual({
      name: 'ValidationException', status: 400, message: 'Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.',
    });
    // RSA source without its algorithm: the default, SYMMETRIC_DEFAULT, is not one an RSA key supports.
    expect(await failure(kms.send(new ReEncryptCommand({
      CiphertextBlob: toRsa.CiphertextBlob, SourceKeyId: arnOf('RSA_3072'), DestinationKeyId: symmetricArn,
    })))).toMatchObject({ name: 'InvalidKeyUsageException' });
  });
});
