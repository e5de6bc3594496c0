// The key-spec table of kms-api.md section 5 and the AWS model, spec by spec and algorithm by algorithm, through a
// real server and @aws-sdk/client-kms, with the answers checked by OpenSSL (node:crypto and the `openssl` CLI)
// rather than by the engine. What the other files here already prove (each signing algorithm over each message
// type, the OAEP limits, RSA and ECC data key pairs, ECDH against OpenSSL) is not repeated: this file covers the
// algorithm lists in AWS's order for every spec x usage, CreateKey's refusals and every algorithm a key spec lacks
// (with AWS's messages), the DIGEST and EXTERNAL_MU lengths, the 4096-byte RAW limit at its edge for each signing
// family, a signature checked under the key's other algorithms, ECDH with compressed, hybrid (refused), off-curve
// and KMS peer keys, and ML-KEM data key pairs of the sizes no other file generates.
import { execFileSync } from 'node:child_process';
import { createHash, createECDH, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand, GenerateMacCommand, GetPublicKeyCommand, SignCommand, VerifyCommand,
  VerifyMacCommand,
  type KMSClient, type KeyMetadata, type KeySpec, type KeyUsageType, type MacAlgorithmSpec, type MessageType,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { ALL_USAGES, SPEC_USAGES, externalMu, failure, signingKey, verifyIndependently, type SigningKey } from './helpers.js';

const RSA_SIGNING = ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512'];
const OAEP = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];

/**
 * Every spec x usage kms-api.md section 5 lists, with the one algorithm list DescribeKey and GetPublicKey give, in
 * the order AWS gives it (written out here, not read from the engine).
 */
const MATRIX: { spec: KeySpec; usage: KeyUsageType; field: string; algorithms: string[] }[] = [
  { spec: 'RSA_2048', usage: 'ENCRYPT_DECRYPT', field: 'EncryptionAlgorithms', algorithms: OAEP },
  { spec: 'RSA_3072', usage: 'ENCRYPT_DECRYPT', field: 'EncryptionAlgorithms', algorithms: OAEP },
  { spec: 'RSA_4096', usage: 'ENCRYPT_DECRYPT', field: 'EncryptionAlgorithms', algorithms: OAEP },
  { spec: 'RSA_2048', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: RSA_SIGNING },
  { spec: 'RSA_3072', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: RSA_SIGNING },
  { spec: 'RSA_4096', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: RSA_SIGNING },
  { spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ECDSA_SHA_256'] },
  { spec: 'ECC_NIST_P384', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ECDSA_SHA_384'] },
  { spec: 'ECC_NIST_P521', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ECDSA_SHA_512'] },
  { spec: 'ECC_SECG_P256K1', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ECDSA_SHA_256'] },
  { spec: 'ECC_NIST_EDWARDS25519', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'] },
  { spec: 'ML_DSA_44', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ML_DSA_SHAKE_256'] },
  { spec: 'ML_DSA_65', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ML_DSA_SHAKE_256'] },
  { spec: 'ML_DSA_87', usage: 'SIGN_VERIFY', field: 'SigningAlgorithms', algorithms: ['ML_DSA_SHAKE_256'] },
  { spec: 'ECC_NIST_P256', usage: 'KEY_AGREEMENT', field: 'KeyAgreementAlgorithms', algorithms: ['ECDH'] },
  { spec: 'ECC_NIST_P384', usage: 'KEY_AGREEMENT', field: 'KeyAgreementAlgorithms', algorithms: ['ECDH'] },
  { spec: 'ECC_NIST_P521', usage: 'KEY_AGREEMENT', field: 'KeyAgreementAlgorithms', algorithms: ['ECDH'] },
  { spec: 'HMAC_224', usage: 'GENERATE_VERIFY_MAC', field: 'MacAlgorithms', algorithms: ['HMAC_SHA_224'] },
  { spec: 'HMAC_256', usage: 'GENERATE_VERIFY_MAC', field: 'MacAlgorithms', algorithms: ['HMAC_SHA_256'] },
  { spec: 'HMAC_384', usage: 'GENERATE_VERIFY_MAC', field: 'MacAlgorithms', algorithms: ['HMAC_SHA_384'] },
  { spec: 'HMAC_512', usage: 'GENERATE_VERIFY_MAC', field: 'MacAlgorithms', algorithms: ['HMAC_SHA_512'] },
];
const ALGORITHM_FIELDS = ['EncryptionAlgorithms', 'SigningAlgorithms', 'MacAlgorithms', 'KeyAgreementAlgorithms'] as const;
/** The model's SigningAlgorithmSpec and MacAlgorithmSpec enums, whole. */
const ALL_SIGNING = [...RSA_SIGNING, 'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256',
  'ED25519_SHA_512', 'ED25519_PH_SHA_512'];
const ALL_MAC = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'];
/** DIGEST lengths (kms-api.md section 5.1), written out. */
const DIGEST_BYTES: Record<string, number> = {
  RSASSA_PKCS1_V1_5_SHA_256: 32, RSASSA_PKCS1_V1_5_SHA_384: 48, RSASSA_PKCS1_V1_5_SHA_512: 64,
  RSASSA_PSS_SHA_256: 32, RSASSA_PSS_SHA_384: 48, RSASSA_PSS_SHA_512: 64,
  ECDSA_SHA_256: 32, ECDSA_SHA_384: 48, ECDSA_SHA_512: 64, ED25519_PH_SHA_512: 64,
};
/** OpenSSL's names for the curves. */
const EC_CURVE_NAMES: Record<string, string> = {
  ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1', ECC_SECG_P256K1: 'secp256k1',
};
const TOO_LONG = "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096";

let server: TestServer;
let kms: KMSClient;
/** `${spec} ${usage}` -> CreateKey's KeyMetadata */
const created = new Map<string, KeyMetadata>();
const arnOf = (spec: string, usage: KeyUsageType): string => created.get(`${spec} ${usage}`)!.Arn!;
const signingKeys = new Map<string, SigningKey>();

beforeAll(async () => {
  server = await startServer();
  kms = server.client();
  await Promise.all(MATRIX.map(async ({ spec, usage }) => {
    created.set(`${spec} ${usage}`, (await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage }))).KeyMetadata!);
  }));
  for (const { spec, usage } of MATRIX.filter((row) => row.usage === 'SIGN_VERIFY')) {
    signingKeys.set(spec, await signingKey(kms, arnOf(spec, usage)));
  }
}, 180_000);
afterAll(async () => {
  await server?.remove();
});

/** What `openssl pkey -pubin -inform DER` says of an SPKI: its text form, or the failure. */
function opensslReadsSpki(spki: Uint8Array): string {
  return execFileSync('openssl', ['pkey', '-pubin', '-inform', 'DER', '-noout', '-text'], { input: spki, encoding: 'utf8' });
}

describe('CreateKey and GetPublicKey for every spec and usage', () => {
  it.each(MATRIX)('$spec $usage: $field exactly as AWS lists them, in its order, and no other list', async ({ spec, usage, field, algorithms }) => {
    const metadata = created.get(`${spec} ${usage}`)!;
    expect(metadata).toMatchObject({ KeySpec: spec, CustomerMasterKeySpec: spec, KeyUsage: usage, KeyState: 'Enabled' });
    for (const name of ALGORITHM_FIELDS) expect(metadata[name], `${spec} ${usage} ${name}`).toEqual(name === field ? algorithms : undefined);
    if (usage === 'GENERATE_VERIFY_MAC') {
      expect(await failure(kms.send(new GetPublicKeyCommand({ KeyId: metadata.Arn })))).toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
      return;
    }
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: metadata.Arn }));
    expect(pub).toMatchObject({ KeyId: metadata.Arn, KeySpec: spec, CustomerMasterKeySpec: spec, KeyUsage: usage });
    for (const name of ALGORITHM_FIELDS) expect(pub[name as keyof typeof pub], `GetPublicKey ${name}`).toEqual(name === field ? algorithms : undefined);
    // OpenSSL 3.0 has no ML-DSA: signatures.test.ts checks those SPKIs' OIDs and sizes instead.
    if (spec.startsWith('ML_DSA_')) return;
    const text = opensslReadsSpki(pub.PublicKey!);
    if (spec.startsWith('RSA_')) expect(text).toContain(`Public-Key: (${spec.slice(4)} bit)`);
    else if (spec === 'ECC_NIST_EDWARDS25519') expect(text).toContain('ED25519 Public-Key');
    else expect(text).toContain(`ASN1 OID: ${EC_CURVE_NAMES[spec]}`);
  });
});


describe('CreateKey refusals', () => {
  it.each(Object.keys(SPEC_USAGES))('%s: every usage it does not take is a ValidationException in AWS\'s words', async (spec) => {
    for (const usage of ALL_USAGES.filter((u) => !SPEC_USAGES[spec]!.includes(u))) {
      expect(await failure(kms.send(new CreateKeyCommand({ KeySpec: spec as KeySpec, KeyUsage: usage }))), usage).toEqual({
        name: 'ValidationException', status: 400, message: `KeyUsage ${usage} is not compatible with KeySpec ${spec}`,
      });
    }
  });

  it('a spec other than SYMMETRIC_DEFAULT without KeyUsage is a ValidationException in AWS\'s words, by KeySpec or CustomerMasterKeySpec', async () => {
    for (const spec of Object.keys(SPEC_USAGES).filter((s) => s !== 'SYMMETRIC_DEFAULT')) {
      const expected = { name: 'ValidationException', status: 400, message: 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.' };
      expect(await failure(kms.send(new CreateKeyCommand({ KeySpec: spec as KeySpec }))), spec).toEqual(expected);
      // The deprecated CustomerMasterKeySpec's enum stops before ML-DSA, Ed25519 and ML-KEM.
      if (/^(RSA|HMAC)_|^ECC_(NIST_P|SECG)/.test(spec)) {
        expect(await failure(kms.send(new CreateKeyCommand({ CustomerMasterKeySpec: spec as 'RSA_2048' }))), spec).toEqual(expected);
      }
    }
  });
});

describe('an algorithm the key spec lacks', () => {
  const signingRows = MATRIX.filter((row) => row.usage === 'SIGN_VERIFY');

  it.each(signingRows)('$spec: Sign and Verify with each other signing algorithm are InvalidKeyUsageException in AWS\'s words', async ({ spec, algorithms }) => {
    const arn = arnOf(spec, 'SIGN_VERIFY');
    for (const algorithm of ALL_SIGNING.filter((a) => !algorithms.includes(a)) as SigningAlgorithmSpec[]) {
      const expected = { name: 'InvalidKeyUsageException', status: 400, message: `Algorithm ${algorithm} is incompatible with key spec ${spec}.` };
      expect(await failure(kms.send(new SignCommand({ KeyId: arn, SigningAlgorithm: algorithm, Message: Buffer.from('m') }))), algorithm).toEqual(expected);
      expect(await failure(kms.send(new VerifyCommand({ KeyId: arn, SigningAlgorithm: algorithm, Message: Buffer.from('m'), Signature: randomBytes(64) }))), algorithm)
        .toEqual(expected);
    }
  });

  it.each(MATRIX.filter((row) => row.usage === 'GENERATE_VERIFY_MAC'))('$spec: GenerateMac and VerifyMac with each other MAC algorithm, likewise', async ({ spec, algorithms }) => {
    const arn = arnOf(spec, 'GENERATE_VERIFY_MAC');
    for (const algorithm of ALL_MAC.filter((a) => !algorithms.includes(a)) as MacAlgorithmSpec[]) {
      const expected = { name: 'InvalidKeyUsageException', status: 400, message: `Algorithm ${algorithm} is incompatible with key spec ${spec}.` };
      expect(await failure(kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: Buffer.from('m') }))), algorithm).toEqual(expected);
      expect(await failure(kms.send(new VerifyMacCommand({ KeyId: arn, MacAlgorithm: algorithm, Message: Buffer.from('m'), Mac: randomBytes(32) }))), algorithm)
        .toEqual(expected);
    }
  });

  it('a key of another usage names its usage and the operation, whatever the algorithm', async () => {
    const cases = [
      ['RSA_2048', 'ENCRYPT_DECRYPT', 'Sign'], ['ECC_NIST_P256', 'KEY_AGREEMENT', 'Verify'], ['HMAC_256', 'GENERATE_VERIFY_MAC', 'Sign'],
    ] as const;
    for (const [spec, usage, operation] of cases) {
      const arn = arnOf(spec, usage);
      const input = { KeyId: arn, SigningAlgorithm: 'ECDSA_SHA_256' as const, Message: Buffer.from('m') };
      const send = operation === 'Sign' ? kms.send(new SignCommand(input)) : kms.send(new VerifyCommand({ ...input, Signature: randomBytes(64) }));
      expect(await failure(send)).toEqual({
        name: 'InvalidKeyUsageException', status: 400, message: `${arn} key usage is ${usage} which is not valid for ${operation}.`,
      });
    }
  });
});

describe('DIGEST and EXTERNAL_MU lengths', () => {
  const digestCases = Object.entries(DIGEST_BYTES).map(([algorithm, bytes]) => ({
    algorithm: algorithm as SigningAlgorithmSpec, bytes,
    spec: algorithm.startsWith('RSASSA_') ? 'RSA_2048' : algorithm.startsWith('ED25519') ? 'ECC_NIST_EDWARDS25519'
      : { ECDSA_SHA_256: 'ECC_NIST_P256', ECDSA_SHA_384: 'ECC_NIST_P384', ECDSA_SHA_512: 'ECC_NIST_P521' }[algorithm]!,
  }));

  it.each(digestCases)('$algorithm: a $bytes-byte digest signs and verifies (checked by node:crypto); one byte more or less is refused', async ({ algorithm, bytes, spec }) => {
    const key = signingKeys.get(spec)!;
    const message = randomBytes(300);
    const digest = createHash(`sha${algorithm.slice(-3)}`).update(message).digest();
    expect(digest).toHaveLength(bytes);
    const { Signature } = await kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: algorithm, MessageType: 'DIGEST', Message: digest }));
    expect(verifyIndependently(key, algorithm, message, Buffer.from(Signature!))).toBe(true);
    for (const length of [bytes - 1, bytes + 1]) {
      const expected = { name: 'ValidationException', status: 400, message: `Digest is invalid length for algorithm ${algorithm}.` };
      expect(await failure(kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: algorithm, MessageType: 'DIGEST', Message: randomBytes(length) }))))
        .toEqual(expected);
      expect(await failure(kms.send(new VerifyCommand({
        KeyId: key.arn, SigningAlgorithm: algorithm, MessageType: 'DIGEST', Message: randomBytes(length), Signature,
      })))).toEqual(expected);
    }
  });

  it('ML-DSA EXTERNAL_MU takes exactly 64 bytes', async () => {
    for (const spec of ['ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87']) {
      for (const length of [32, 63, 65, 128]) {
        expect(await failure(kms.send(new SignCommand({
          KeyId: arnOf(spec, 'SIGN_VERIFY'), SigningAlgorithm: 'ML_DSA_SHAKE_256', MessageType: 'EXTERNAL_MU', Message: randomBytes(length),
        }))), `${spec} ${length}`).toMatchObject({ name: 'ValidationException', status: 400 });
      }
    }
  });
});

describe('the 4096-byte Message limit', () => {
  // One spec per signing family: the limit is the model's, before any family's code.
  const families = [
    ['RSA_2048', 'RSASSA_PSS_SHA_256'], ['ECC_SECG_P256K1', 'ECDSA_SHA_256'], ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512'],
    ['ML_DSA_44', 'ML_DSA_SHAKE_256'],
  ] as const;

  it.each(families)('%s %s: a 4096-byte RAW message signs and checks independently; 4097 bytes and 0 bytes are ValidationException', async (spec, algorithm) => {
    const key = signingKeys.get(spec)!;
    const message = randomBytes(4096);
    const { Signature } = await kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: algorithm, Message: message }));
    expect(verifyIndependently(key, algorithm, message, Buffer.from(Signature!))).toBe(true);
    expect(await kms.send(new VerifyCommand({ KeyId: key.arn, SigningAlgorithm: algorithm, Message: message, Signature })))
      .toMatchObject({ SignatureValid: true });
    const tooLong = randomBytes(4097);
    expect(await failure(kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: algorithm, Message: tooLong }))))
      .toEqual({ name: 'ValidationException', status: 400, message: TOO_LONG });
    expect(await failure(kms.send(new VerifyCommand({ KeyId: key.arn, SigningAlgorithm: algorithm, Message: tooLong, Signature }))))
      .toEqual({ name: 'ValidationException', status: 400, message: TOO_LONG });
    expect(await failure(kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: algorithm, Message: new Uint8Array(0) }))))
      .toMatchObject({ name: 'ValidationException', status: 400 });
  });

  it('GenerateMac and VerifyMac: 4096 bytes work, 4097 are ValidationException', async () => {
    const arn = arnOf('HMAC_224', 'GENERATE_VERIFY_MAC');
    const { Mac } = await kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: 'HMAC_SHA_224', Message: randomBytes(4096) }));
    expect(Mac).toHaveLength(28);
    expect(await failure(kms.send(new GenerateMacCommand({ KeyId: arn, MacAlgorithm: 'HMAC_SHA_224', Message: randomBytes(4097) }))))
      .toEqual({ name: 'ValidationException', status: 400, message: TOO_LONG });
    expect(await failure(kms.send(new VerifyMacCommand({ KeyId: arn, MacAlgorithm: 'HMAC_SHA_224', Message: randomBytes(4097), Mac }))))
      .toEqual({ name: 'ValidationException', status: 400, message: TOO_LONG });
  });
});

describe('a signature under the key\'s other algorithms', () => {
  it('RSA: a signature of one algorithm is KMSInvalidSignatureException under each of the other five', async () => {
    const key = signingKeys.get('RSA_2048')!;
    const message = randomBytes(100);
    for (const signedWith of RSA_SIGNING as SigningAlgorithmSpec[]) {
      const { Signature } = await kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: signedWith, Message: message }));
      for (const other of RSA_SIGNING.filter((a) => a !== signedWith) as SigningAlgorithmSpec[]) {
        expect(verifyIndependently(key, other, message, Buffer.from(Signature!)), `${signedWith} as ${other}`).toBe(false);
        expect(await failure(kms.send(new VerifyCommand({ KeyId: key.arn, SigningAlgorithm: other, Message: message, Signature }))), `${signedWith} as ${other}`)
          .toMatchObject({ name: 'KMSInvalidSignatureException', status: 400 });
      }
    }
  });

  it('Ed25519: pure and pre-hashed signatures do not stand in for each other', async () => {
    const key = signingKeys.get('ECC_NIST_EDWARDS25519')!;
    const message = randomBytes(64);
    const digest = createHash('sha512').update(message).digest();
    const pure = await kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: 'ED25519_SHA_512', Message: message }));
    const prehashed = await kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: 'ED25519_PH_SHA_512', MessageType: 'DIGEST', Message: digest }));
    expect(verifyIndependently(key, 'ED25519_PH_SHA_512', message, Buffer.from(pure.Signature!))).toBe(false);
    expect(verifyIndependently(key, 'ED25519_SHA_512', message, Buffer.from(prehashed.Signature!))).toBe(false);
    expect(await failure(kms.send(new VerifyCommand({
      KeyId: key.arn, SigningAlgorithm: 'ED25519_PH_SHA_512', MessageType: 'DIGEST', Message: digest, Signature: pure.Signature,
    })))).toMatchObject({ name: 'KMSInvalidSignatureException' });
    expect(await failure(kms.send(new VerifyCommand({
      KeyId: key.arn, SigningAlgorithm: 'ED25519_SHA_512', Message: message, Signature: prehashed.Signature,
    })))).toMatchObject({ name: 'KMSInvalidSignatureException' });
    // Ed25519ph over the 64-byte message itself (a RAW-style reading of DIGEST) is not what KMS signs either.
    expect(verifyIndependently(key, 'ED25519_PH_SHA_512', digest, Buffer.from(prehashed.Signature!))).toBe(false);
  });

  it('ML-DSA: a RAW signature verifies as EXTERNAL_MU of the same message and the other way round (one pure ML-DSA)', async () => {
    for (const spec of ['ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87']) {
      const key = signingKeys.get(spec)!;
      const message = randomBytes(200);
      const mu = externalMu(key.mlDsaPublic!, message);
      const raw = await kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: 'ML_DSA_SHAKE_256', Message: message }));
      const viaMu = await kms.send(new SignCommand({ KeyId: key.arn, SigningAlgorithm: 'ML_DSA_SHAKE_256', MessageType: 'EXTERNAL_MU', Message: mu }));
      expect(verifyIndependently(key, 'ML_DSA_SHAKE_256', message, Buffer.from(viaMu.Signature!))).toBe(true);
      expect(await kms.send(new VerifyCommand({
        KeyId: key.arn, SigningAlgorithm: 'ML_DSA_SHAKE_256', MessageType: 'EXTERNAL_MU', Message: mu, Signature: raw.Signature,
      }))).toMatchObject({ SignatureValid: true });
      expect(await kms.send(new VerifyCommand({ KeyId: key.arn, SigningAlgorithm: 'ML_DSA_SHAKE_256', Message: message, Signature: viaMu.Signature })))
        .toMatchObject({ SignatureValid: true });
      // mu of the message under another key's public key is another mu.
      const otherMu = externalMu(signingKeys.get(spec === 'ML_DSA_44' ? 'ML_DSA_65' : 'ML_DSA_44')!.mlDsaPublic!, message);
      expect(await failure(kms.send(new VerifyCommand({
        KeyId: key.arn, SigningAlgorithm: 'ML_DSA_SHAKE_256', MessageType: 'EXTERNAL_MU', Message: otherMu, Signature: raw.Signature,
      })))).toMatchObject({ name: 'KMSInvalidSignatureException' });
    }
  });

  it('the message types each algorithm refuses are ValidationException for Verify as for Sign', async () => {
    const cases: [string, SigningAlgorithmSpec, MessageType, number][] = [
      ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', 'DIGEST', 64], ['ECC_NIST_EDWARDS25519', 'ED25519_PH_SHA_512', 'RAW', 64],
      ['ML_DSA_87', 'ML_DSA_SHAKE_256', 'DIGEST', 64], ['ECC_NIST_P521', 'ECDSA_SHA_512', 'EXTERNAL_MU', 64],
      ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_512', 'EXTERNAL_MU', 64],
    ];
    for (const [spec, algorithm, messageType, length] of cases) {
      expect(await failure(kms.send(new VerifyCommand({
        KeyId: arnOf(spec, 'SIGN_VERIFY'), SigningAlgorithm: algorithm, MessageType: messageType, Message: randomBytes(length), Signature: randomBytes(64),
      }))), `${algorithm} ${messageType}`).toMatchObject({ name: 'ValidationException', status: 400 });
    }
  });
});

describe('DeriveSharedSecret peers', () => {
  const CURVES = { ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1' } as const;
  const FIELD_BYTES = { ECC_NIST_P256: 32, ECC_NIST_P384: 48, ECC_NIST_P521: 66 } as const;
  const kmsPublicKey = async (arn: string) =>
    createPublicKey({ key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: arn }))).PublicKey!), format: 'der', type: 'spki' });
  const derive = (arn: string, peer: Uint8Array) => kms.send(new DeriveSharedSecretCommand({ KeyId: arn, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer }));

  it.each(Object.entries(CURVES))('%s: a peer SPKI with a compressed point gives node:crypto\'s ECDH secret', async (spec, curve) => {
    const arn = arnOf(spec, 'KEY_AGREEMENT');
    const peer = generateKeyPairSync('ec', { namedCurve: curve });
    const ecdh = createECDH(curve);
    ecdh.setPrivateKey(Buffer.from(peer.privateKey.export({ format: 'jwk' }).d!, 'base64url'));
    const spki = compressedSpki(peer.publicKey.export({ format: 'der', type: 'spki' }), ecdh.getPublicKey(null, 'compressed'));
    expect(createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' })).toEqual(peer.publicKey.export({ format: 'jwk' }));
    const out = await derive(arn, spki);
    expect(Buffer.from(out.SharedSecret!).equals(diffieHellman({ privateKey: peer.privateKey, publicKey: await kmsPublicKey(arn) }))).toBe(true);
  });

  it.each(Object.entries(CURVES))('%s: a peer point in the hybrid form (0x06/0x07), which RFC 5480 says to reject, is ValidationException', async (spec, curve) => {
    const arn = arnOf(spec, 'KEY_AGREEMENT');
    const spki = generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'der', type: 'spki' });
    // The point ends the SPKI: 0x04, x, y. The hybrid form keeps x and y and puts y's parity in the first octet.
    const formAt = spki.length - (2 * FIELD_BYTES[spec as keyof typeof CURVES] + 1);
    expect(spki[formAt]).toBe(0x04);
    const hybrid = Buffer.from(spki);
    hybrid[formAt] = 0x06 | (spki[spki.length - 1]! & 1);
    // OpenSSL alone decodes it as the same key, so only the engine's own check refuses it.
    expect(createPublicKey({ key: hybrid, format: 'der', type: 'spki' }).export({ format: 'jwk' }))
      .toEqual(createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }));
    expect(await failure(derive(arn, hybrid))).toEqual({
      name: 'ValidationException', status: 400, message: 'The public key\'s EC point must be uncompressed (0x04) or compressed (0x02, 0x03).',
    });
    expect((await derive(arn, spki)).SharedSecret).toHaveLength(FIELD_BYTES[spec as keyof typeof CURVES]);
  });

  it('two KMS keys on one curve derive the same secret from each other\'s public keys', async () => {
    const first = arnOf('ECC_NIST_P384', 'KEY_AGREEMENT');
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'KEY_AGREEMENT' }));
    const second = KeyMetadata!.Arn!;
    const spkiOf = async (arn: string) => (await kms.send(new GetPublicKeyCommand({ KeyId: arn }))).PublicKey!;
    const one = await derive(first, await spkiOf(second));
    const other = await derive(second, await spkiOf(first));
    expect(one.SharedSecret).toHaveLength(48);
    expect(Buffer.from(one.SharedSecret!).equals(Buffer.from(other.SharedSecret!))).toBe(true);
  });

  it('a point off the curve, or a key of another type, is a ValidationException, never a server error', async () => {
    const arn = arnOf('ECC_NIST_P256', 'KEY_AGREEMENT');
    const spki = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' }));
    spki[spki.length - 1]! ^= 0x01; // y no longer matches x
    expect(() => createPublicKey({ key: spki, format: 'der', type: 'spki' })).toThrow();
    expect(await failure(derive(arn, spki))).toMatchObject({ name: 'ValidationException', status: 400 });
    for (const other of [
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey, generateKeyPairSync('ed25519').publicKey,
      generateKeyPairSync('x25519').publicKey, generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
    ]) {
      expect(await failure(derive(arn, other.export({ format: 'der', type: 'spki' }))), other.asymmetricKeyType)
        .toMatchObject({ name: 'ValidationException', status: 400 });
    }
    expect(server.output()).not.toContain('internal error');
  });
});

describe('ML-KEM data key pairs (rsa.test.ts covers the other KeyPairSpecs, ml-kem.test.ts ML_KEM_1024)', () => {
  // OpenSSL 3.0 has no ML-KEM: @noble expands the seed and encapsulates.
  const SETS = {
    ML_KEM_512: { impl: ml_kem512, oid: '0609608648016503040401', publicBytes: 800 },
    ML_KEM_768: { impl: ml_kem768, oid: '0609608648016503040402', publicBytes: 1184 },
  } as const;

  it.each(Object.keys(SETS) as (keyof typeof SETS)[])('%s: seed-only PKCS#8 that expands to the SPKI\'s key, under a blob Decrypt opens; WithoutPlaintext alike', async (spec) => {
    const { impl, oid, publicBytes } = SETS[spec];
    const wrapping = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const context = { pair: spec };
    const pair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: wrapping, KeyPairSpec: spec, EncryptionContext: context }));
    const without = await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: wrapping, KeyPairSpec: spec, EncryptionContext: context }));
    for (const [out, pkcs8] of [
      [pair, Buffer.from(pair.PrivateKeyPlaintext!)],
      [without, Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: without.PrivateKeyCiphertextBlob, EncryptionContext: context }))).Plaintext!)],
    ] as const) {
      expect(out).toMatchObject({ KeyId: wrapping, KeyPairSpec: spec });
      // Version 0, the parameter set's OID, OCTET STRING { [0] 64-byte seed } (the IETF ML-KEM key draft's seed form).
      expect(pkcs8.subarray(0, 22).toString('hex')).toBe(`3054020100300b${oid}04428040`);
      expect(pkcs8).toHaveLength(86);
      const spki = Buffer.from(out.PublicKey!);
      expect(spki.toString('hex')).toContain(`300b${oid}`);
      const { publicKey, secretKey } = impl.keygen(pkcs8.subarray(22));
      expect(publicKey).toHaveLength(publicBytes);
      expect(spki.subarray(spki.length - publicBytes).equals(Buffer.from(publicKey))).toBe(true);
      const { cipherText, sharedSecret } = impl.encapsulate(spki.subarray(spki.length - publicBytes));
      expect(Buffer.from(impl.decapsulate(cipherText, secretKey)).equals(Buffer.from(sharedSecret))).toBe(true);
    }
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext: context }));
    expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(pair.PrivateKeyPlaintext!))).toBe(true);
    expect(Buffer.from(without.PublicKey!).equals(Buffer.from(pair.PublicKey!))).toBe(false);
  });
});

/** The same SPKI with its BIT STRING holding the compressed point (SEC 1 section 2.3.3). */
function compressedSpki(uncompressedSpki: Buffer, point: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier, BIT STRING }: the AlgorithmIdentifier is the first element, kept as is.
  const outerHeader = uncompressedSpki[1]! & 0x80 ? 2 + (uncompressedSpki[1]! & 0x7f) : 2;
  const algorithmLength = 2 + uncompressedSpki[outerHeader + 1]!;
  const algorithm = uncompressedSpki.subarray(outerHeader, outerHeader + algorithmLength);
  const bitString = Buffer.concat([Buffer.from([0x03, point.length + 1, 0x00]), point]);
  const body = Buffer.concat([algorithm, bitString]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
