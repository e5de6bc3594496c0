// Key material formats, RSA-OAEP, HMAC, ECDH, data key pairs: each checked against node:crypto directly.
import {
  constants, createECDH, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DATA_KEY_PAIR_SPECS, KEY_SPECS, type KeySpec } from '../../src/contract/key-specs.js';
import {
  deriveSharedSecret, generateDataKeyPair, generateMac, generateMaterial, loadKey, publicKeyOf, rsaDecrypt, rsaEncrypt,
  validateMaterial,
} from '../../workers/primitives/index.js';
import { codeOf, fixture, type Fixture } from './helpers.js';

const fixtures = new Map<KeySpec, Fixture>();
beforeAll(async () => {
  for (const spec of ['RSA_2048', 'RSA_3072', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519', 'HMAC_256'] as const) {
    fixtures.set(spec, await fixture(spec));
  }
});

describe('RSAES-OAEP', () => {
  it.each([['RSA_2048', 'RSAES_OAEP_SHA_1', 'sha1'], ['RSA_2048', 'RSAES_OAEP_SHA_256', 'sha256'], ['RSA_3072', 'RSAES_OAEP_SHA_256', 'sha256']] as const)(
    '%s %s: node:crypto publicEncrypt on the SPKI decrypts, and our ciphertext has the modulus length', (spec, alg, oaepHash) => {
      const { key } = fixtures.get(spec)!;
      const max = alg === 'RSAES_OAEP_SHA_1' ? KEY_SPECS[spec].sizeBytes - 42 : KEY_SPECS[spec].sizeBytes - 66;
      const plaintext = randomBytes(max);
      const spki = createPublicKey({ key: publicKeyOf(key), format: 'der', type: 'spki' });
      const ciphertext = publicEncrypt({ key: spki, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, plaintext);
      expect(rsaDecrypt(key, alg, ciphertext)).toEqual(plaintext);
      const ours = rsaEncrypt(key, alg, plaintext);
      expect(ours).toHaveLength(KEY_SPECS[spec].sizeBytes);
      expect(rsaDecrypt(key, alg, ours)).toEqual(plaintext);
      expect(codeOf(() => rsaEncrypt(key, alg, randomBytes(max + 1)))).toBe('ValidationException');
    });

  it('a ciphertext that does not decrypt, or under the other hash, is InvalidCiphertextException', () => {
    const { key } = fixtures.get('RSA_2048')!;
    const ciphertext = rsaEncrypt(key, 'RSAES_OAEP_SHA_256', Buffer.from('secret'));
    expect(codeOf(() => rsaDecrypt(key, 'RSAES_OAEP_SHA_1', ciphertext))).toBe('InvalidCiphertextException');
    expect(codeOf(() => rsaDecrypt(key, 'RSAES_OAEP_SHA_256', ciphertext.subarray(1)))).toBe('InvalidCiphertextException');
    expect(codeOf(() => rsaDecrypt(key, 'RSAES_OAEP_SHA_256', Buffer.alloc(256, 0xff)))).toBe('InvalidCiphertextException');
    expect(codeOf(() => rsaDecrypt(key, 'SYMMETRIC_DEFAULT', ciphertext))).toBe('InvalidKeyUsageException');
    expect(codeOf(() => rsaEncrypt(fixtures.get('ECC_NIST_P256')!.key, 'RSAES_OAEP_SHA_256', Buffer.from('x')))).toBe('InvalidKeyUsageException');
  });
});

describe('HMAC', () => {
  it.each([['HMAC_224', 'HMAC_SHA_224', 'sha224', 28], ['HMAC_256', 'HMAC_SHA_256', 'sha256', 32], ['HMAC_384', 'HMAC_SHA_384', 'sha384', 48], ['HMAC_512', 'HMAC_SHA_512', 'sha512', 64]] as const)(
    '%s equals createHmac(%s)', async (spec, alg, hash, size) => {
      const { material } = await generateMaterial(spec);
      expect(material).toHaveLength(size);
      const key = loadKey(spec, material);
      const message = randomBytes(100);
      expect(generateMac(key, alg, message)).toEqual(createHmac(hash, material).update(message).digest());
      expect(codeOf(() => generateMac(key, alg === 'HMAC_SHA_256' ? 'HMAC_SHA_384' : 'HMAC_SHA_256', message))).toBe('InvalidKeyUsageException');
    });

  it('imported material: from the hash length up to the hash block size', () => {
    expect(codeOf(() => validateMaterial('HMAC_256', randomBytes(31)))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('HMAC_256', randomBytes(64)))).toBe('no error');
    expect(codeOf(() => validateMaterial('HMAC_256', randomBytes(65)))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('HMAC_512', randomBytes(128)))).toBe('no error');
    expect(codeOf(() => validateMaterial('HMAC_224', randomBytes(28)))).toBe('no error');
  });

  it('HMAC keys have no public key and do not sign', () => {
    const { key } = fixtures.get('HMAC_256')!;
    expect(codeOf(() => publicKeyOf(key))).toBe('UnsupportedOperationException');
    expect(codeOf(() => generateMac(fixtures.get('ECC_NIST_P256')!.key, 'HMAC_SHA_256', Buffer.from('x')))).toBe('InvalidKeyUsageException');
  });
});

describe('ECDH', () => {
  it.each([['ECC_NIST_P256', 'prime256v1', 32], ['ECC_NIST_P384', 'secp384r1', 48], ['ECC_NIST_P521', 'secp521r1', 66]] as const)(
    '%s equals node diffieHellman from the peer side', (spec, namedCurve, length) => {
      const { key } = fixtures.get(spec)!;
      const peer = generateKeyPairSync('ec', { namedCurve });
      const secret = deriveSharedSecret(key, peer.publicKey.export({ format: 'der', type: 'spki' }));
      expect(secret).toHaveLength(length);
      const ours = createPublicKey({ key: publicKeyOf(key), format: 'der', type: 'spki' });
      expect(secret).toEqual(diffieHellman({ privateKey: peer.privateKey, publicKey: ours }));
    });

  it('a peer key on another curve, of another type or not SPKI is ValidationException', () => {
    const { key } = fixtures.get('ECC_NIST_P256')!;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    expect(codeOf(() => deriveSharedSecret(key, p384))).toBe('ValidationException');
    expect(codeOf(() => deriveSharedSecret(key, ed))).toBe('ValidationException');
    expect(codeOf(() => deriveSharedSecret(key, Buffer.from('not a key')))).toBe('ValidationException');
    // A point that is not on the curve: flip a byte of Y in an otherwise valid SPKI.
    const offCurve = Buffer.from(createECDH('prime256v1').generateKeys());
    offCurve[64]! ^= 1;
    const spki = Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), offCurve]);
    expect(codeOf(() => deriveSharedSecret(key, spki))).toBe('ValidationException');
  });

  it('secp256k1 and non-EC keys do not do key agreement', () => {
    const peer = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'der', type: 'spki' });
    expect(codeOf(() => deriveSharedSecret(fixtures.get('ECC_SECG_P256K1')!.key, peer))).toBe('InvalidKeyUsageException');
    expect(codeOf(() => deriveSharedSecret(fixtures.get('RSA_2048')!.key, peer))).toBe('InvalidKeyUsageException');
  });
});

describe('asymmetric material validation', () => {
  const pkcs8 = (key: ReturnType<typeof generateKeyPairSync>['privateKey']) => key.export({ format: 'der', type: 'pkcs8' });

  it('accepts PKCS#8 of the right type, size and curve', () => {
    expect(codeOf(() => validateMaterial('ECC_NIST_P384', pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey)))).toBe('no error');
    expect(codeOf(() => validateMaterial('ECC_NIST_EDWARDS25519', pkcs8(generateKeyPairSync('ed25519').privateKey)))).toBe('no error');
    expect(codeOf(() => validateMaterial('RSA_2048', fixtures.get('RSA_2048')!.material))).toBe('no error');
  });

  it('rejects the wrong curve, type, modulus size, or bytes that are not PKCS#8', () => {
    const p256 = pkcs8(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    expect(codeOf(() => validateMaterial('ECC_NIST_P384', p256))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('ECC_SECG_P256K1', p256))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('RSA_2048', p256))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('ECC_NIST_EDWARDS25519', p256))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('RSA_3072', fixtures.get('RSA_2048')!.material))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('ECC_NIST_P256', randomBytes(32)))).toBe('ValidationException');
    expect(codeOf(() => validateMaterial('ML_DSA_44', p256))).toBe('ValidationException');
  });

  it('rejects RSA-PSS-restricted keys for RSA specs', () => {
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
    expect(codeOf(() => validateMaterial('RSA_2048', pkcs8(pss)))).toBe('ValidationException');
  });

  it('messages never carry the material', () => {
    const material = randomBytes(40);
    try {
      validateMaterial('ECC_NIST_P256', material);
    } catch (error) {
      expect((error as Error).message).not.toContain(material.toString('hex'));
      expect((error as Error).message).not.toContain(material.toString('base64'));
    }
  });
});

describe('generateDataKeyPair', () => {
  // OpenSSL 3.0 parses every pair but ML-KEM's (test/conformance/ml-kem.test.ts checks those with @noble).
  const OPENSSL_PAIRS = DATA_KEY_PAIR_SPECS.filter((spec) => spec !== 'RSA_4096' && KEY_SPECS[spec].family !== 'ml-kem');
  it.each(OPENSSL_PAIRS)('%s: PKCS#8 private key whose public half is the SPKI', async (spec) => {
    const { privateKey, publicKey } = await generateDataKeyPair(spec);
    const parsed = createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' });
    expect(createPublicKey(parsed).export({ format: 'der', type: 'spki' })).toEqual(publicKey);
    expect(publicKeyOf(loadKey(spec, privateKey))).toEqual(publicKey);
  });

  it.each(['ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024'] as const)('%s: seed-form PKCS#8 that loads back to the same SPKI, a new seed each time', async (spec) => {
    const [first, second] = [await generateDataKeyPair(spec), await generateDataKeyPair(spec)];
    expect(publicKeyOf(loadKey(spec, first.privateKey))).toEqual(first.publicKey);
    expect(first.privateKey).toHaveLength(86); // SEQUENCE { version, AlgorithmIdentifier, OCTET STRING { [0] 64 bytes } }
    expect(first.privateKey.equals(second.privateKey)).toBe(false);
  });

  it('hands out a different RSA pair every time', async () => {
    const pairs = await Promise.all([generateDataKeyPair('RSA_2048'), generateDataKeyPair('RSA_2048'), generateDataKeyPair('RSA_2048')]);
    expect(new Set(pairs.map((pair) => pair.publicKey.toString('hex'))).size).toBe(3);
  });
});
