// Sign and Verify end to end for every signing key spec but the large RSA ones (rsa.test.ts): each (spec,
// algorithm, message type) signed through the real server and checked with node:crypto, the openssl CLI and
// @noble against the SPKI from GetPublicKey; Verify through the server; the message-type and digest rules.
import { randomBytes, createHash } from 'node:crypto';
import { CreateKeyCommand, SignCommand, VerifyCommand, type KMSClient, type KeySpec } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import {
  SIGNING_ALGORITHMS, checkSignatureCase, failure, opensslOids, signatureCases, signingKey, verifyIndependently, type SigningKey,
} from './helpers.js';

const SPECS = ['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519',
  'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87'] as const;

let server: TestServer;
let kms: KMSClient;
const keys = new Map<string, SigningKey>();
let encryptionKeyArn: string;

beforeAll(async () => {
  server = await startServer();
  kms = server.client();
  await Promise.all(SPECS.map(async (spec) => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: spec as KeySpec, KeyUsage: 'SIGN_VERIFY' }));
    keys.set(spec, await signingKey(kms, KeyMetadata!.Arn!));
  }));
  encryptionKeyArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
});
afterAll(async () => {
  await server?.remove();
});

const key = (spec: string): SigningKey => keys.get(spec)!;

describe.each(SPECS)('%s', (spec) => {
  it.each(signatureCases(SIGNING_ALGORITHMS[spec]!))('$algorithm over $messageType', async (signatureCase) => {
    await checkSignatureCase(kms, key(spec), signatureCase);
  });
});

describe('signature encodings', () => {
  it('ML-DSA public keys carry the FIPS 204 OIDs and FIPS 204 key sizes', () => {
    const expected = { ML_DSA_44: ['2.16.840.1.101.3.4.3.17', 1312], ML_DSA_65: ['2.16.840.1.101.3.4.3.18', 1952], ML_DSA_87: ['2.16.840.1.101.3.4.3.19', 2592] } as const;
    for (const [spec, [oid, bytes]] of Object.entries(expected)) {
      expect(opensslOids(key(spec).spki)).toEqual([oid]);
      expect(key(spec).mlDsaPublic!.length).toBe(bytes);
    }
  });

  it('ML-DSA signatures have the FIPS 204 sizes; Ed25519 64 bytes; RSA the modulus size', async () => {
    const sizes = { ML_DSA_44: 2420, ML_DSA_65: 3309, ML_DSA_87: 4627, ECC_NIST_EDWARDS25519: 64, RSA_2048: 256 } as const;
    for (const [spec, bytes] of Object.entries(sizes)) {
      const algorithm = SIGNING_ALGORITHMS[spec]![0] as 'ML_DSA_SHAKE_256';
      const { Signature } = await kms.send(new SignCommand({ KeyId: key(spec).arn, Message: Buffer.from('size'), SigningAlgorithm: algorithm }));
      expect(Signature!.length, spec).toBe(bytes);
    }
  });

  it('ECDSA s is not normalized, as in KMS: Sign gives high-S signatures, and Verify takes (r, n-s) as well as (r, s)', async () => {
    // secp256k1 signers (Ethereum's EIP-2) must bring s into the low half themselves with KMS, which neither
    // normalizes nor refuses either half: an engine that did would hide that step from its users' tests.
    const ORDER = {
      ECC_SECG_P256K1: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
      ECC_NIST_P256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    } as const;
    const integer = (value: bigint): Buffer => {
      const bytes = Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
      const minimal = bytes.subarray(bytes.findIndex((byte) => byte !== 0));
      return Buffer.concat([Buffer.from([0x02, minimal.length + (minimal[0]! & 0x80 ? 1 : 0)]), minimal[0]! & 0x80 ? Buffer.from([0]) : Buffer.alloc(0), minimal]);
    };
    const derSignature = (r: bigint, s: bigint): Buffer => {
      const body = Buffer.concat([integer(r), integer(s)]);
      return Buffer.concat([Buffer.from([0x30, body.length]), body]);
    };
    const parse = (signature: Buffer): { r: bigint; s: bigint } => {
      const rLength = signature[3]!;
      const s = signature.subarray(4 + rLength + 2);
      return { r: BigInt(`0x${signature.subarray(4, 4 + rLength).toString('hex')}`), s: BigInt(`0x${s.toString('hex')}`) };
    };
    for (const [spec, n] of Object.entries(ORDER)) {
      for (const messageType of ['RAW', 'DIGEST'] as const) {
        const halves = new Set<string>();
        for (let i = 0; i < 64 && halves.size < 2; i++) {
          const message = randomBytes(32);
          const sent = messageType === 'RAW' ? message : createHash('sha256').update(message).digest();
          const signed = Buffer.from((await kms.send(new SignCommand({
            KeyId: key(spec).arn, SigningAlgorithm: 'ECDSA_SHA_256', MessageType: messageType, Message: sent,
          }))).Signature!);
          const { r, s } = parse(signed);
          halves.add(s > n / 2n ? 'high' : 'low');
          const flipped = derSignature(r, n - s);
          for (const signature of [signed, flipped]) {
            expect(verifyIndependently(key(spec), 'ECDSA_SHA_256', message, signature)).toBe(true);
            expect(await kms.send(new VerifyCommand({
              KeyId: key(spec).arn, SigningAlgorithm: 'ECDSA_SHA_256', MessageType: messageType, Message: sent, Signature: signature,
            })), `${spec} ${messageType}`).toMatchObject({ SignatureValid: true });
          }
        }
        // Half of all signatures have a high s: 64 low ones in a row (2^-64) would mean the engine normalizes.
        expect([...halves].sort(), `${spec} ${messageType}`).toEqual(['high', 'low']);
      }
    }
  });

  it('a signature made over RAW verifies as DIGEST of the same message, and the other way round', async () => {
    for (const [spec, algorithm] of [['ECC_NIST_P384', 'ECDSA_SHA_384'], ['RSA_2048', 'RSASSA_PSS_SHA_512']] as const) {
      const message = randomBytes(64);
      const digest = createHash(`sha${algorithm.slice(-3)}`).update(message).digest();
      const raw = await kms.send(new SignCommand({ KeyId: key(spec).arn, Message: message, SigningAlgorithm: algorithm }));
      expect(await kms.send(new VerifyCommand({ KeyId: key(spec).arn, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: algorithm, Signature: raw.Signature })))
        .toMatchObject({ SignatureValid: true });
      const fromDigest = await kms.send(new SignCommand({ KeyId: key(spec).arn, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: algorithm }));
      expect(await kms.send(new VerifyCommand({ KeyId: key(spec).arn, Message: message, SigningAlgorithm: algorithm, Signature: fromDigest.Signature })))
        .toMatchObject({ SignatureValid: true });
    }
  });
});

describe('Sign and Verify request rules', () => {
  const sign = (spec: string, algorithm: string, messageType: string, message: Buffer) =>
    kms.send(new SignCommand({ KeyId: key(spec).arn, SigningAlgorithm: algorithm as 'ECDSA_SHA_256', MessageType: messageType as 'RAW', Message: message }));

  it('a DIGEST of the wrong length is a ValidationException, for Sign and Verify alike', async () => {
    const cases = [
      ['ECC_NIST_P256', 'ECDSA_SHA_256', 31], ['ECC_NIST_P256', 'ECDSA_SHA_256', 33], ['ECC_NIST_P384', 'ECDSA_SHA_384', 32],
      ['ECC_NIST_P521', 'ECDSA_SHA_512', 48], ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 64], ['RSA_2048', 'RSASSA_PSS_SHA_512', 32],
      ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_384', 64], ['ECC_NIST_EDWARDS25519', 'ED25519_PH_SHA_512', 32],
    ] as const;
    for (const [spec, algorithm, length] of cases) {
      const message = randomBytes(length);
      expect(await failure(sign(spec, algorithm, 'DIGEST', message)), `${algorithm} ${length}`).toMatchObject({ name: 'ValidationException', status: 400 });
      expect(await failure(kms.send(new VerifyCommand({
        KeyId: key(spec).arn, SigningAlgorithm: algorithm, MessageType: 'DIGEST', Message: message, Signature: randomBytes(64),
      })))).toMatchObject({ name: 'ValidationException', status: 400 });
    }
  });

  it('message types an algorithm does not take are ValidationException', async () => {
    const cases = [
      ['ML_DSA_44', 'ML_DSA_SHAKE_256', 'DIGEST', 64], ['ML_DSA_65', 'ML_DSA_SHAKE_256', 'EXTERNAL_MU', 63],
      ['ECC_NIST_P256', 'ECDSA_SHA_256', 'EXTERNAL_MU', 64], ['RSA_2048', 'RSASSA_PSS_SHA_256', 'EXTERNAL_MU', 64],
      ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', 'DIGEST', 64], ['ECC_NIST_EDWARDS25519', 'ED25519_PH_SHA_512', 'RAW', 64],
    ] as const;
    for (const [spec, algorithm, messageType, length] of cases) {
      expect(await failure(sign(spec, algorithm, messageType, randomBytes(length))), `${algorithm} ${messageType}`)
        .toMatchObject({ name: 'ValidationException', status: 400 });
    }
  });

  it('a message type the key spec or the algorithm does not take is refused in AWS\'s words, for Sign and Verify alike', async () => {
    // As real KMS answers (us-east-1): DIGEST on an ML-DSA key names the key spec, the wrong Ed25519 pairing names
    // the algorithm. EXTERNAL_MU on a key that is not ML-DSA is worded like DIGEST on ML-DSA.
    const cases = [
      ['ML_DSA_44', 'ML_DSA_SHAKE_256', 'DIGEST', 64, 'Message type DIGEST is incompatible with key spec ML_DSA_44.'],
      ['ML_DSA_87', 'ML_DSA_SHAKE_256', 'DIGEST', 32, 'Message type DIGEST is incompatible with key spec ML_DSA_87.'],
      ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', 'DIGEST', 64, 'Message type DIGEST is incompatible with algorithm ED25519_SHA_512.'],
      ['ECC_NIST_EDWARDS25519', 'ED25519_PH_SHA_512', 'RAW', 64, 'Message type RAW is incompatible with algorithm ED25519_PH_SHA_512.'],
      ['ECC_NIST_P256', 'ECDSA_SHA_256', 'EXTERNAL_MU', 64, 'Message type EXTERNAL_MU is incompatible with key spec ECC_NIST_P256.'],
    ] as const;
    for (const [spec, algorithm, messageType, length, message] of cases) {
      const expected = { name: 'ValidationException', status: 400, message };
      expect(await failure(sign(spec, algorithm, messageType, randomBytes(length))), `Sign ${spec} ${messageType}`).toEqual(expected);
      expect(await failure(kms.send(new VerifyCommand({
        KeyId: key(spec).arn, SigningAlgorithm: algorithm, MessageType: messageType, Message: randomBytes(length), Signature: randomBytes(64),
      }))), `Verify ${spec} ${messageType}`).toEqual(expected);
    }
  });

  it('an algorithm the key does not have, or a key of another usage, is InvalidKeyUsageException', async () => {
    for (const [spec, algorithm] of [['ECC_NIST_P256', 'ECDSA_SHA_384'], ['ECC_SECG_P256K1', 'ECDSA_SHA_512'],
      ['RSA_2048', 'ECDSA_SHA_256'], ['ML_DSA_87', 'ED25519_SHA_512'], ['ECC_NIST_EDWARDS25519', 'ECDSA_SHA_256']] as const) {
      expect(await failure(sign(spec, algorithm, 'RAW', Buffer.from('m'))), `${spec} ${algorithm}`)
        .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
    }
    expect(await failure(kms.send(new SignCommand({ KeyId: encryptionKeyArn, SigningAlgorithm: 'ECDSA_SHA_256', Message: Buffer.from('m') }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400 });
  });

  it('garbage signatures of any length are KMSInvalidSignatureException, never a server error', async () => {
    for (const spec of SPECS) {
      const algorithm = SIGNING_ALGORITHMS[spec]![0] as 'ECDSA_SHA_256';
      for (const length of [1, 64, 300, 6144]) {
        expect(await failure(kms.send(new VerifyCommand({
          KeyId: key(spec).arn, SigningAlgorithm: algorithm, Message: Buffer.from('m'), Signature: randomBytes(length),
        }))), `${spec} ${length}`).toMatchObject({ name: 'KMSInvalidSignatureException', status: 400 });
      }
    }
    expect(server.output()).not.toContain('internal error');
  });
});
