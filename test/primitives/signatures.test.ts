// Every (spec, algorithm, message type) signs, and the signature is checked by an independent verifier:
// node:crypto's crypto.verify on the SPKI from publicKeyOf (RSA, ECDSA, Ed25519), @noble for Ed25519ph and
// ML-DSA (which OpenSSL 3.0 lacks).
import { constants, createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { KEY_SPECS, SIGNING_HASH, type KeySpec, type SigningAlgorithm } from '../../src/contract/key-specs.js';
import { publicKeyOf, sign, verify } from '../../workers/primitives/index.js';
import { ASYMMETRIC_SIGNING_SPECS, codeOf, fixture, type Fixture } from './helpers.js';

const message = Buffer.from('The quick brown fox signs the lazy dog');
const fixtures = new Map<KeySpec, Fixture>();

beforeAll(async () => {
  for (const spec of ASYMMETRIC_SIGNING_SPECS) fixtures.set(spec, await fixture(spec));
});

const NODE_FAMILIES = new Set(['rsa', 'ec']);
const nodeCases = ASYMMETRIC_SIGNING_SPECS.filter((spec) => NODE_FAMILIES.has(KEY_SPECS[spec].family))
  .flatMap((spec) => KEY_SPECS[spec].signingAlgorithms!.flatMap((alg) => (['RAW', 'DIGEST'] as const).map((type) => ({ spec, alg, type }))));

function nodeVerifyOptions(spki: Buffer, alg: SigningAlgorithm) {
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  if (alg.startsWith('RSASSA_PSS_')) {
    // Salt length must equal the digest length: enforce it, not RSA_PSS_SALTLEN_AUTO.
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: SIGNING_HASH[alg].digestBytes };
  }
  return { key, dsaEncoding: 'der' as const };
}

describe('RSA and ECDSA signatures verify with node:crypto on the published SPKI', () => {
  it.each(nodeCases)('$spec $alg $type', ({ spec, alg, type }) => {
    const { key } = fixtures.get(spec)!;
    const hash = SIGNING_HASH[alg].hash!;
    const input = type === 'RAW' ? message : createHash(hash).update(message).digest();
    const signature = sign(key, alg, type, input);
    expect(nodeVerify(hash, message, nodeVerifyOptions(publicKeyOf(key), alg), signature)).toBe(true);
    expect(verify(key, alg, type, input, signature)).toBe(true);
    // Both message types describe the same signed message.
    const other = type === 'RAW' ? 'DIGEST' : 'RAW';
    const otherInput = other === 'RAW' ? message : createHash(hash).update(message).digest();
    expect(verify(key, alg, other, otherInput, signature)).toBe(true);
    const tampered = Buffer.from(signature);
    tampered[tampered.length - 5]! ^= 1;
    expect(verify(key, alg, type, input, tampered)).toBe(false);
  });
});

describe('ECDSA DIGEST path', () => {
  it.each(['ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'] as const)('%s draws a fresh nonce per signature', (spec) => {
    const { key } = fixtures.get(spec)!;
    const alg = KEY_SPECS[spec].signingAlgorithms![0]!;
    const digest = createHash(SIGNING_HASH[alg].hash!).update(message).digest();
    const signatures = new Set(Array.from({ length: 20 }, () => sign(key, alg, 'DIGEST', digest).toString('hex')));
    expect(signatures.size).toBe(20);
    for (const hex of signatures) expect(nodeVerify(SIGNING_HASH[alg].hash!, message, nodeVerifyOptions(publicKeyOf(key), alg), Buffer.from(hex, 'hex'))).toBe(true);
  });

  it('verify returns false on malformed DER instead of throwing', () => {
    const { key } = fixtures.get('ECC_NIST_P256')!;
    const digest = createHash('sha256').update(message).digest();
    const good = sign(key, 'ECDSA_SHA_256', 'DIGEST', digest);
    for (const bad of [Buffer.alloc(0), Buffer.from([0x30]), Buffer.concat([good, Buffer.from([0])]), Buffer.from('3006020100020100', 'hex'), good.subarray(0, good.length - 1)]) {
      expect(verify(key, 'ECDSA_SHA_256', 'DIGEST', digest, bad)).toBe(false);
      expect(verify(key, 'ECDSA_SHA_256', 'RAW', message, bad)).toBe(false);
    }
  });
});

describe('Ed25519', () => {
  it('ED25519_SHA_512 RAW is pure Ed25519 (node:crypto verifies)', () => {
    const { key } = fixtures.get('ECC_NIST_EDWARDS25519')!;
    const signature = sign(key, 'ED25519_SHA_512', 'RAW', message);
    expect(signature).toHaveLength(64);
    expect(nodeVerify(null, message, createPublicKey({ key: publicKeyOf(key), format: 'der', type: 'spki' }), signature)).toBe(true);
    expect(verify(key, 'ED25519_SHA_512', 'RAW', message, signature)).toBe(true);
    expect(verify(key, 'ED25519_SHA_512', 'RAW', Buffer.from('other'), signature)).toBe(false);
  });

  it('ED25519_PH_SHA_512 DIGEST is Ed25519ph over the digest (KMS hashes the digest again), checked by @noble', () => {
    const { key } = fixtures.get('ECC_NIST_EDWARDS25519')!;
    const digest = createHash('sha512').update(message).digest();
    const signature = sign(key, 'ED25519_PH_SHA_512', 'DIGEST', digest);
    const publicRaw = publicKeyOf(key).subarray(-32);
    expect(ed25519ph.verify(signature, digest, publicRaw)).toBe(true);
    // Not Ed25519ph over the original message: the digest is the message that gets pre-hashed.
    expect(ed25519ph.verify(signature, message, publicRaw)).toBe(false);
    expect(verify(key, 'ED25519_PH_SHA_512', 'DIGEST', digest, signature)).toBe(true);
    expect(verify(key, 'ED25519_PH_SHA_512', 'DIGEST', digest, Buffer.alloc(64))).toBe(false);
  });

  it('each algorithm accepts only its message type', () => {
    const { key } = fixtures.get('ECC_NIST_EDWARDS25519')!;
    expect(codeOf(() => sign(key, 'ED25519_SHA_512', 'DIGEST', Buffer.alloc(64)))).toBe('ValidationException');
    expect(codeOf(() => sign(key, 'ED25519_PH_SHA_512', 'RAW', message))).toBe('ValidationException');
    expect(codeOf(() => sign(key, 'ED25519_PH_SHA_512', 'DIGEST', Buffer.alloc(32)))).toBe('ValidationException');
  });
});

const ML_DSA = { ML_DSA_44: ml_dsa44, ML_DSA_65: ml_dsa65, ML_DSA_87: ml_dsa87 } as const;
const SPKI_OID_TAIL = { ML_DSA_44: '0311', ML_DSA_65: '0312', ML_DSA_87: '0313' } as const;

describe('ML-DSA', () => {
  it.each(Object.keys(ML_DSA) as (keyof typeof ML_DSA)[])('%s RAW and EXTERNAL_MU verify with @noble/post-quantum; SPKI carries the FIPS 204 OID', (spec) => {
    const { key } = fixtures.get(spec)!;
    const impl = ML_DSA[spec];
    const spki = publicKeyOf(key);
    // SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.3.x } (no parameters), BIT STRING }
    expect(spki.includes(Buffer.from(`300b060960864801650304${SPKI_OID_TAIL[spec]}`, 'hex'))).toBe(true);
    const publicRaw = spki.subarray(spki.length - impl.lengths.publicKey!);
    const raw = sign(key, 'ML_DSA_SHAKE_256', 'RAW', message);
    expect(raw).toHaveLength(impl.lengths.signature!);
    expect(impl.verify(raw, message, publicRaw)).toBe(true);
    // mu = SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || M, 64): pure ML-DSA with an empty context.
    const tr = shake256(publicRaw, { dkLen: 64 });
    const mu = shake256(Buffer.concat([tr, Buffer.from([0, 0]), message]), { dkLen: 64 });
    const external = sign(key, 'ML_DSA_SHAKE_256', 'EXTERNAL_MU', mu);
    expect(impl.verify(external, message, publicRaw)).toBe(true);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, external)).toBe(true);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'EXTERNAL_MU', mu, raw)).toBe(true);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', Buffer.from('x'), raw)).toBe(false);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, raw.subarray(1))).toBe(false);
  });

  it('rejects DIGEST and a mu that is not 64 bytes', () => {
    const { key } = fixtures.get('ML_DSA_44')!;
    expect(codeOf(() => sign(key, 'ML_DSA_SHAKE_256', 'DIGEST', Buffer.alloc(64)))).toBe('ValidationException');
    expect(codeOf(() => sign(key, 'ML_DSA_SHAKE_256', 'EXTERNAL_MU', Buffer.alloc(32)))).toBe('ValidationException');
  });
});

describe('request checks', () => {
  it('a signing algorithm the key spec does not list is InvalidKeyUsageException', () => {
    expect(codeOf(() => sign(fixtures.get('ECC_NIST_P256')!.key, 'ECDSA_SHA_384', 'RAW', message))).toBe('InvalidKeyUsageException');
    expect(codeOf(() => sign(fixtures.get('RSA_2048')!.key, 'ECDSA_SHA_256', 'RAW', message))).toBe('InvalidKeyUsageException');
    expect(codeOf(() => sign(fixtures.get('ML_DSA_65')!.key, 'ED25519_SHA_512', 'RAW', message))).toBe('InvalidKeyUsageException');
    expect(codeOf(() => verify(fixtures.get('ECC_NIST_EDWARDS25519')!.key, 'RSASSA_PSS_SHA_256', 'RAW', message, Buffer.alloc(64)))).toBe('InvalidKeyUsageException');
  });

  it.each([['RSA_2048', 'RSASSA_PSS_SHA_384', 32], ['ECC_NIST_P256', 'ECDSA_SHA_256', 31], ['ECC_NIST_P521', 'ECDSA_SHA_512', 66]] as const)(
    'DIGEST of the wrong length: %s %s %i bytes is ValidationException', (spec, alg, length) => {
      expect(codeOf(() => sign(fixtures.get(spec)!.key, alg, 'DIGEST', Buffer.alloc(length)))).toBe('ValidationException');
    });

  it('EXTERNAL_MU is only for ML-DSA', () => {
    expect(codeOf(() => sign(fixtures.get('ECC_NIST_P256')!.key, 'ECDSA_SHA_256', 'EXTERNAL_MU', Buffer.alloc(64)))).toBe('ValidationException');
  });
});
