// Known-answer tests from published sources (see each JSON file's "source"): RFC 9881 ML-DSA example keys,
// RFC 8032 Ed25519ph, RFC 4231 HMAC, and hand-written ECDSA DER edge cases.
import { createHash, createHmac, createPrivateKey, createSecretKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { type KeySpec, type MacAlgorithm } from '../../src/contract/key-specs.js';
import { generateMac, loadKey, publicKeyOf, sign, validateMaterial, verify } from '../../workers/primitives/index.js';
import { DerError, decodeEcdsaSignature, encodeEcdsaSignature } from '../../workers/primitives/der.js';
import { hmac } from '../../workers/primitives/hmac.js';
import { encodeMlDsaPkcs8 } from '../../workers/primitives/ml-dsa.js';

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, import.meta.url), 'utf8')) as T;

describe('ML-DSA: RFC 9881 example keys', () => {
  const vectors = load<{ seedHex: string; keys: Record<string, { privateKeyPkcs8Base64: string; publicKeySpkiBase64: string }> }>('ml-dsa-rfc9881.json');
  it.each(Object.entries(vectors.keys))('%s: seed-only PKCS#8 encodes byte for byte, and keygen from the seed gives the published SPKI', (spec, key) => {
    const pkcs8 = Buffer.from(key.privateKeyPkcs8Base64, 'base64');
    expect(encodeMlDsaPkcs8(spec as KeySpec, Buffer.from(vectors.seedHex, 'hex'))).toEqual(pkcs8);
    validateMaterial(spec as KeySpec, pkcs8);
    const loaded = loadKey(spec as KeySpec, pkcs8);
    expect(publicKeyOf(loaded)).toEqual(Buffer.from(key.publicKeySpkiBase64, 'base64'));
    const signature = sign(loaded, 'ML_DSA_SHAKE_256', 'RAW', Buffer.from('vector'));
    expect(verify(loaded, 'ML_DSA_SHAKE_256', 'RAW', Buffer.from('vector'), signature)).toBe(true);
  });

  it('a key of another parameter set, or a truncated seed, is rejected', () => {
    const pkcs8for44 = Buffer.from(vectors.keys['ML_DSA_44']!.privateKeyPkcs8Base64, 'base64');
    expect(() => validateMaterial('ML_DSA_65', pkcs8for44)).toThrow(/ML_DSA_65/);
    const shortSeed = Buffer.from(pkcs8for44);
    shortSeed[1] = 0x33; // outer length
    expect(() => validateMaterial('ML_DSA_44', shortSeed.subarray(0, shortSeed.length - 1))).toThrow();
  });
});

describe('Ed25519ph: RFC 8032 section 7.3', () => {
  const vector = load<{ secretKeyHex: string; publicKeyHex: string; messageHex: string; signatureHex: string }>('ed25519ph-rfc8032.json');
  // PKCS#8 for an Ed25519 seed (RFC 8410): fixed 16-byte prefix + 32-byte seed.
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(vector.secretKeyHex, 'hex')]);

  it('@noble ed25519ph, which ED25519_PH_SHA_512 uses, reproduces the published signature', () => {
    const signature = ed25519ph.sign(Buffer.from(vector.messageHex, 'hex'), Buffer.from(vector.secretKeyHex, 'hex'));
    expect(Buffer.from(signature).toString('hex')).toBe(vector.signatureHex);
  });

  it('the RFC key loads as PKCS#8 with the published public key; DIGEST signing is Ed25519ph over the digest', () => {
    const key = loadKey('ECC_NIST_EDWARDS25519', pkcs8);
    expect(publicKeyOf(key).subarray(-32).toString('hex')).toBe(vector.publicKeyHex);
    createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const digest = createHash('sha512').update(Buffer.from(vector.messageHex, 'hex')).digest();
    const signature = sign(key, 'ED25519_PH_SHA_512', 'DIGEST', digest);
    // Ed25519 is deterministic: the same bytes as RFC 8032 Ed25519ph with the digest as the message.
    expect(Buffer.from(signature).toString('hex')).toBe(Buffer.from(ed25519ph.sign(digest, Buffer.from(vector.secretKeyHex, 'hex'))).toString('hex'));
    expect(ed25519ph.verify(signature, digest, Buffer.from(vector.publicKeyHex, 'hex'))).toBe(true);
  });
});

describe('HMAC: RFC 4231', () => {
  interface Case { name: string; keyHex: string; dataHex: string; [alg: string]: string }
  const { cases } = load<{ cases: Case[] }>('hmac-rfc4231.json');
  const keyBytes = (hex: string): Buffer => {
    const repeat = /^REPEAT:([0-9a-f]{2}):(\d+)$/.exec(hex);
    return repeat ? Buffer.alloc(Number(repeat[2]), Number.parseInt(repeat[1]!, 16)) : Buffer.from(hex, 'hex');
  };
  const SPEC: Record<string, { spec: KeySpec; hash: string }> = {
    HMAC_SHA_224: { spec: 'HMAC_224', hash: 'sha224' }, HMAC_SHA_256: { spec: 'HMAC_256', hash: 'sha256' },
    HMAC_SHA_384: { spec: 'HMAC_384', hash: 'sha384' }, HMAC_SHA_512: { spec: 'HMAC_512', hash: 'sha512' },
  };
  const rows = cases.flatMap((c) => Object.keys(SPEC).map((alg) => ({ name: c.name, alg, c })));

  it.each(rows)('$name $alg', ({ alg, c }) => {
    // RFC 4231 keys are shorter or longer than KMS accepts for import, so the MAC core is driven directly.
    const key = { spec: SPEC[alg]!.spec, family: 'hmac' as const, hash: SPEC[alg]!.hash, secret: createSecretKey(keyBytes(c.keyHex)) };
    expect(hmac(key, alg as MacAlgorithm, Buffer.from(c.dataHex, 'hex')).toString('hex')).toBe(c[alg]);
  });

  it('the facade gives the same tags for a key KMS accepts (64 bytes of the test case 1 pattern)', () => {
    const key = loadKey('HMAC_256', Buffer.alloc(64, 0x0b));
    expect(generateMac(key, 'HMAC_SHA_256', Buffer.from('Hi There'))).toEqual(createHmac('sha256', Buffer.alloc(64, 0x0b)).update('Hi There').digest());
  });
});

describe('ECDSA DER edge cases', () => {
  const vectors = load<{ valid: { name: string; der: string; r: string; s: string }[]; invalid: { name: string; der: string }[] }>('ecdsa-der.json');

  it.each(vectors.valid)('parses and re-serializes: $name', ({ der, r, s }) => {
    const parsed = decodeEcdsaSignature(Buffer.from(der, 'hex'));
    expect(parsed).toEqual({ r: BigInt(`0x${r}`), s: BigInt(`0x${s}`) });
    expect(encodeEcdsaSignature(parsed.r, parsed.s).toString('hex')).toBe(der);
  });

  it.each(vectors.invalid)('rejects: $name', ({ der }) => {
    expect(() => decodeEcdsaSignature(Buffer.from(der, 'hex'))).toThrow(DerError);
  });

  it('Verify answers false (never throws) for every invalid or out-of-range encoding, on both message types', () => {
    const pkcs8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'der', type: 'pkcs8' });
    const key = loadKey('ECC_NIST_P256', pkcs8);
    const message = Buffer.from('message');
    const digest = createHash('sha256').update(message).digest();
    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    const outOfRange = [encodeEcdsaSignature(0n, 1n), encodeEcdsaSignature(1n, 0n), encodeEcdsaSignature(n, 1n), encodeEcdsaSignature(1n, n)];
    for (const signature of [...vectors.invalid.map((v) => Buffer.from(v.der, 'hex')), ...outOfRange]) {
      expect(verify(key, 'ECDSA_SHA_256', 'DIGEST', digest, signature)).toBe(false);
      expect(verify(key, 'ECDSA_SHA_256', 'RAW', message, signature)).toBe(false);
    }
    // A valid signature with trailing garbage is not accepted either.
    const good = sign(key, 'ECDSA_SHA_256', 'DIGEST', digest);
    expect(verify(key, 'ECDSA_SHA_256', 'DIGEST', digest, good)).toBe(true);
    expect(verify(key, 'ECDSA_SHA_256', 'DIGEST', digest, Buffer.concat([good, Buffer.from([0])]))).toBe(false);
    expect(verify(key, 'ECDSA_SHA_256', 'RAW', message, Buffer.concat([good, Buffer.from([0])]))).toBe(false);
  });
});
