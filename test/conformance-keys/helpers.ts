// Independent checks of what the server hands out: signatures verified with node:crypto, the `openssl` CLI
// and @noble (for what OpenSSL 3.0 lacks) against the SPKI from GetPublicKey, never with the engine's code.
import { execFileSync, spawnSync } from 'node:child_process';
import { createCipheriv, createHash, createPublicKey, publicEncrypt, randomBytes, verify as nodeVerify, constants } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetParametersForImportCommand, GetPublicKeyCommand, ImportKeyMaterialCommand, SignCommand, VerifyCommand,
  type KMSClient, type KeyUsageType, type MessageType, type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { expect } from 'vitest';
import { failure, type Failure } from '../support/sdk-errors.js';
export { failure, type Failure };


const RSA_SIGNING = ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512'];

/** Signing algorithms per key spec, as kms-api.md section 5 lists them (written out, not read from the engine). */
export const SIGNING_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  RSA_2048: RSA_SIGNING, RSA_3072: RSA_SIGNING, RSA_4096: RSA_SIGNING,
  ECC_NIST_P256: ['ECDSA_SHA_256'], ECC_NIST_P384: ['ECDSA_SHA_384'], ECC_NIST_P521: ['ECDSA_SHA_512'],
  ECC_SECG_P256K1: ['ECDSA_SHA_256'], ECC_NIST_EDWARDS25519: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
  ML_DSA_44: ['ML_DSA_SHAKE_256'], ML_DSA_65: ['ML_DSA_SHAKE_256'], ML_DSA_87: ['ML_DSA_SHAKE_256'],
};

/** The usages each spec takes (kms-api.md section 5 and CreateKey's KeyUsage text in the model), written out. */
export const SPEC_USAGES: Readonly<Record<string, readonly KeyUsageType[]>> = {
  SYMMETRIC_DEFAULT: ['ENCRYPT_DECRYPT'],
  HMAC_224: ['GENERATE_VERIFY_MAC'], HMAC_256: ['GENERATE_VERIFY_MAC'], HMAC_384: ['GENERATE_VERIFY_MAC'], HMAC_512: ['GENERATE_VERIFY_MAC'],
  RSA_2048: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], RSA_3072: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], RSA_4096: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'], ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'], ECC_NIST_P521: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  // "For asymmetric KMS keys with ECC_SECG_P256K1 key pairs, specify SIGN_VERIFY." (the model), so no KEY_AGREEMENT.
  ECC_SECG_P256K1: ['SIGN_VERIFY'], ECC_NIST_EDWARDS25519: ['SIGN_VERIFY'],
  ML_DSA_44: ['SIGN_VERIFY'], ML_DSA_65: ['SIGN_VERIFY'], ML_DSA_87: ['SIGN_VERIFY'],
  ML_KEM_512: ['ENCAPSULATE_DECAPSULATE'], ML_KEM_768: ['ENCAPSULATE_DECAPSULATE'], ML_KEM_1024: ['ENCAPSULATE_DECAPSULATE'],
};
export const ALL_USAGES: readonly KeyUsageType[] = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT', 'ENCAPSULATE_DECAPSULATE'];

export const sorted = (list: readonly string[] | undefined): string[] => [...(list ?? [])].sort();

type Hash = 'sha256' | 'sha384' | 'sha512';
const hashOf = (algorithm: string): Hash => `sha${algorithm.slice(-3)}` as Hash;

/** The message types each signing algorithm takes (kms-api.md section 5). */
export function messageTypesOf(algorithm: string): MessageType[] {
  if (algorithm === 'ED25519_SHA_512') return ['RAW'];
  if (algorithm === 'ED25519_PH_SHA_512') return ['DIGEST'];
  if (algorithm === 'ML_DSA_SHAKE_256') return ['RAW', 'EXTERNAL_MU'];
  return ['RAW', 'DIGEST'];
}

// ---- ML-DSA (FIPS 204) -------------------------------------------------------------------------------------

const ML_DSA = { ML_DSA_44: ml_dsa44, ML_DSA_65: ml_dsa65, ML_DSA_87: ml_dsa87 } as const;
export type MlDsaSpec = keyof typeof ML_DSA;

const shake256 = (length: number, ...parts: Uint8Array[]): Buffer => {
  const hash = createHash('shake256', { outputLength: length });
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/**
 * External mu of pure ML-DSA with an empty context (FIPS 204 Algorithm 2 line 10 and Algorithm 7 line 6):
 * mu = SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || M, 64). Computed with node:crypto, not @noble.
 */
export const externalMu = (publicKey: Uint8Array, message: Uint8Array): Buffer =>
  shake256(64, shake256(64, publicKey), Buffer.from([0, 0]), message);

/** The raw ML-DSA public key inside an SPKI, after checking the AlgorithmIdentifier is exactly the OID's. */
export function mlDsaPublicKey(spki: Uint8Array, oidDer: string): Uint8Array {
  const prefix = Buffer.concat([derHeader(0x30, oidDer.length / 2), Buffer.from(oidDer, 'hex')]);
  const der = Buffer.from(spki);
  const outer = readHeader(der, 0);
  expect(outer.tag).toBe(0x30);
  expect(outer.end).toBe(der.length);
  expect(der.subarray(outer.start, outer.start + prefix.length).toString('hex')).toBe(prefix.toString('hex'));
  const bitString = readHeader(der, outer.start + prefix.length);
  expect(bitString.tag).toBe(0x03);
  expect(bitString.end).toBe(der.length);
  expect(der[bitString.start]).toBe(0); // no unused bits
  return der.subarray(bitString.start + 1);
}

function derHeader(tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length]);
  const bytes = length < 0x100 ? [length] : [length >> 8, length & 0xff];
  return Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
}

function readHeader(der: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | der[start + i]!;
    start += count;
  }
  return { tag, start, end: start + length };
}

// ---- the signature matrix ----------------------------------------------------------------------------------

/** What a Sign request carries for a message M: M itself, its hash, or ML-DSA's external mu. */
export function signingInput(algorithm: string, messageType: MessageType, message: Buffer, publicKey: () => Uint8Array): Buffer {
  if (messageType === 'RAW') return message;
  if (messageType === 'EXTERNAL_MU') return externalMu(publicKey(), message);
  return createHash(algorithm === 'ED25519_PH_SHA_512' ? 'sha512' : hashOf(algorithm)).update(message).digest();
}

export interface SigningKey {
  arn: string;
  spec: string;
  spki: Buffer;
  /** Raw public key for @noble (ML-DSA), checked against the FIPS 204 OID. */
  mlDsaPublic?: Uint8Array;
}

export const ML_DSA_OID_DER: Record<MlDsaSpec, string> = {
  ML_DSA_44: '0609608648016503040311',
  ML_DSA_65: '0609608648016503040312',
  ML_DSA_87: '0609608648016503040313',
};

export async function signingKey(kms: KMSClient, arn: string): Promise<SigningKey> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId: arn }));
  const spki = Buffer.from(out.PublicKey!);
  const spec = out.KeySpec!;
  const key: SigningKey = { arn, spec, spki };
  if (spec.startsWith('ML_DSA_')) key.mlDsaPublic = mlDsaPublicKey(spki, ML_DSA_OID_DER[spec as MlDsaSpec]);
  return key;
}

/**
 * Verifies a signature over the original message M with code that is not the engine's: node:crypto on the
 * SPKI for RSA, ECDSA and pure Ed25519 (whatever the message type: a DIGEST signature must be a standard
 * signature of M), @noble for Ed25519ph and ML-DSA (pure ML-DSA over M, also for EXTERNAL_MU signatures).
 */
export function verifyIndependently(key: SigningKey, algorithm: string, message: Buffer, signature: Buffer): boolean {
  if (algorithm === 'ED25519_PH_SHA_512') {
    // KMS hashes the 64-byte digest again (Ed25519ph's PH): the Ed25519ph message is SHA-512(M).
    const publicKey = createPublicKey({ key: key.spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
    return ed25519ph.verify(signature, createHash('sha512').update(message).digest(), Buffer.from(publicKey.x!, 'base64url'));
  }
  if (algorithm === 'ML_DSA_SHAKE_256') return ML_DSA[key.spec as MlDsaSpec].verify(signature, message, key.mlDsaPublic!);
  const publicKey = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
  if (algorithm === 'ED25519_SHA_512') return nodeVerify(null, message, publicKey, signature);
  const pss = algorithm.startsWith('RSASSA_PSS_');
  return nodeVerify(hashOf(algorithm), message, {
    key: publicKey,
    ...(pss ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : {}),
    ...(algorithm.startsWith('ECDSA_') ? { dsaEncoding: 'der' as const } : {}),
  }, signature);
}

const OPENSSL_CAPABLE = (algorithm: string): boolean => algorithm.startsWith('RSASSA_') || algorithm.startsWith('ECDSA_')
  || algorithm === 'ED25519_SHA_512';

/**
 * The `openssl` CLI's verdict: `openssl dgst -verify` over M for RAW signatures, `openssl pkeyutl -verify` over
 * the digest for DIGEST ones (RSA-PSS with salt length = digest length), `pkeyutl -rawin` for pure Ed25519.
 */
export function opensslVerifies(key: SigningKey, algorithm: string, messageType: MessageType, sent: Buffer, signature: Buffer): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'kms-sig-'));
  try {
    const path = (name: string) => join(dir, name);
    writeFileSync(path('pub.pem'), createPublicKey({ key: key.spki, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }));
    writeFileSync(path('in.bin'), sent);
    writeFileSync(path('sig.bin'), signature);
    const pss = algorithm.startsWith('RSASSA_PSS_');
    let args: string[];
    if (algorithm === 'ED25519_SHA_512') {
      args = ['pkeyutl', '-verify', '-pubin', '-inkey', path('pub.pem'), '-rawin', '-in', path('in.bin'), '-sigfile', path('sig.bin')];
    } else if (messageType === 'RAW') {
      args = ['dgst', `-${hashOf(algorithm)}`, '-verify', path('pub.pem'), '-signature', path('sig.bin'),
        ...(pss ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'] : []), path('in.bin')];
    } else {
      args = ['pkeyutl', '-verify', '-pubin', '-inkey', path('pub.pem'), '-in', path('in.bin'), '-sigfile', path('sig.bin'),
        '-pkeyopt', `digest:${hashOf(algorithm)}`,
        ...(algorithm.startsWith('RSASSA_') ? ['-pkeyopt', `rsa_padding_mode:${pss ? 'pss' : 'pkcs1'}`] : []),
        ...(pss ? ['-pkeyopt', 'rsa_pss_saltlen:digest'] : [])];
    }
    const result = spawnSync('openssl', args, { encoding: 'utf8' });
    return result.status === 0 && /Verified OK|Signature Verified Successfully/.test(result.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The OIDs `openssl asn1parse` finds in a DER structure (numeric for ones OpenSSL 3.0 has no name for). */
export function opensslOids(der: Uint8Array): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kms-asn1-'));
  try {
    writeFileSync(join(dir, 'in.der'), der);
    const text = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', join(dir, 'in.der')], { encoding: 'utf8' });
    return [...text.matchAll(/OBJECT\s+:(\S+)/g)].map((match) => match[1]!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SignatureCase { algorithm: SigningAlgorithmSpec; messageType: MessageType }

export function signatureCases(signingAlgorithms: readonly string[]): SignatureCase[] {
  return signingAlgorithms.flatMap((algorithm) =>
    messageTypesOf(algorithm).map((messageType) => ({ algorithm: algorithm as SigningAlgorithmSpec, messageType })));
}

/**
 * One (key, algorithm, message type) through the server: Sign, check the signature independently (and with
 * openssl where OpenSSL 3.0 has the algorithm), Verify through the server, then Verify a tampered signature
 * and another message: KMSInvalidSignatureException, never SignatureValid false.
 */
export async function checkSignatureCase(kms: KMSClient, key: SigningKey, { algorithm, messageType }: SignatureCase): Promise<void> {
  const message = randomBytes(100);
  const sent = signingInput(algorithm, messageType, message, () => key.mlDsaPublic!);
  const signed = await kms.send(new SignCommand({ KeyId: key.arn, Message: sent, MessageType: messageType, SigningAlgorithm: algorithm }));
  expect(signed).toMatchObject({ KeyId: key.arn, SigningAlgorithm: algorithm });
  const signature = Buffer.from(signed.Signature!);
  expect(verifyIndependently(key, algorithm, message, signature), `${key.spec} ${algorithm} ${messageType}`).toBe(true);
  if (OPENSSL_CAPABLE(algorithm)) expect(opensslVerifies(key, algorithm, messageType, sent, signature)).toBe(true);

  const verify = (Message: Buffer, Signature: Buffer) =>
    kms.send(new VerifyCommand({ KeyId: key.arn, Message, MessageType: messageType, SigningAlgorithm: algorithm, Signature }));
  expect(await verify(sent, signature)).toMatchObject({ KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm });
  const tampered = Buffer.from(signature);
  tampered[tampered.length >> 1]! ^= 0x01;
  // The checkers themselves must be able to say no, or the checks above prove nothing.
  expect(verifyIndependently(key, algorithm, message, tampered)).toBe(false);
  if (OPENSSL_CAPABLE(algorithm)) expect(opensslVerifies(key, algorithm, messageType, sent, tampered)).toBe(false);
  expect(await failure(verify(sent, tampered))).toMatchObject({ name: 'KMSInvalidSignatureException', status: 400 });
  const other = signingInput(algorithm, messageType, randomBytes(100), () => key.mlDsaPublic!);
  expect(await failure(verify(other, signature))).toMatchObject({ name: 'KMSInvalidSignatureException', status: 400 });
}

// ---- bring-your-own-key, to give one generated RSA pair a second usage without generating another --------

/**
 * Imports a DER PKCS#8 private key into an EXTERNAL key the way a BYOK user does: RSA_AES_KEY_WRAP_SHA_256
 * (RSA-OAEP-SHA-256 of an AES-256 key, then AES key wrap with padding, RFC 5649) under the wrapping key
 * from GetParametersForImport.
 */
export async function importPrivateKey(kms: KMSClient, keyId: string, pkcs8: Uint8Array): Promise<void> {
  const parameters = await kms.send(new GetParametersForImportCommand({
    KeyId: keyId, WrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', WrappingKeySpec: 'RSA_2048',
  }));
  const aesKey = randomBytes(32);
  const wrappedKey = publicEncrypt({
    key: createPublicKey({ key: Buffer.from(parameters.PublicKey!), format: 'der', type: 'spki' }),
    padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256',
  }, aesKey);
  const cipher = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
  const wrappedMaterial = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  await kms.send(new ImportKeyMaterialCommand({
    KeyId: keyId, ImportToken: parameters.ImportToken, EncryptedKeyMaterial: Buffer.concat([wrappedKey, wrappedMaterial]),
    ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  }));
}
