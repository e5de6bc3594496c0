// The one table of key specs. Every capability check, algorithm list, size rule and quota class derives
// from a row here: adding a spec is a row plus a primitive in workers/primitives, not a switch per file.
// Imported by both threads: pure data, no I/O.

export type KeySpec =
  | 'SYMMETRIC_DEFAULT'
  | 'HMAC_224' | 'HMAC_256' | 'HMAC_384' | 'HMAC_512'
  | 'RSA_2048' | 'RSA_3072' | 'RSA_4096'
  | 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'ECC_NIST_P521' | 'ECC_SECG_P256K1'
  | 'ECC_NIST_EDWARDS25519'
  | 'ML_DSA_44' | 'ML_DSA_65' | 'ML_DSA_87'
  | 'ML_KEM_512' | 'ML_KEM_768' | 'ML_KEM_1024';

export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC' | 'KEY_AGREEMENT' | 'ENCAPSULATE_DECAPSULATE';
export type KeyFamily = 'symmetric' | 'hmac' | 'rsa' | 'ec' | 'ed25519' | 'ml-dsa' | 'ml-kem';
/**
 * Request-quota class of cryptographic operations with this key (kms-api.md section 9). kms-api.md has no ML-KEM
 * quota: ml_kem is this engine's own class, which the `aws` preset leaves unlimited.
 */
export type QuotaClass = 'symmetric' | 'rsa' | 'ecc' | 'ml_dsa' | 'ml_kem';

export type EncryptionAlgorithm = 'SYMMETRIC_DEFAULT' | 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';
export type SigningAlgorithm =
  | 'RSASSA_PSS_SHA_256' | 'RSASSA_PSS_SHA_384' | 'RSASSA_PSS_SHA_512'
  | 'RSASSA_PKCS1_V1_5_SHA_256' | 'RSASSA_PKCS1_V1_5_SHA_384' | 'RSASSA_PKCS1_V1_5_SHA_512'
  | 'ECDSA_SHA_256' | 'ECDSA_SHA_384' | 'ECDSA_SHA_512'
  | 'ED25519_SHA_512' | 'ED25519_PH_SHA_512'
  | 'ML_DSA_SHAKE_256';
export type MacAlgorithm = 'HMAC_SHA_224' | 'HMAC_SHA_256' | 'HMAC_SHA_384' | 'HMAC_SHA_512';
export type EncapsulationAlgorithm = 'ML_KEM';
export type MessageType = 'RAW' | 'DIGEST' | 'EXTERNAL_MU';
export type DataKeyPairSpec =
  | 'RSA_2048' | 'RSA_3072' | 'RSA_4096'
  | 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'ECC_NIST_P521' | 'ECC_SECG_P256K1' | 'ECC_NIST_EDWARDS25519'
  | 'ML_KEM_512' | 'ML_KEM_768' | 'ML_KEM_1024';

export interface KeySpecInfo {
  readonly spec: KeySpec;
  readonly family: KeyFamily;
  /** Usages CreateKey accepts for this spec; the first is the default only for SYMMETRIC_DEFAULT. */
  readonly usages: readonly KeyUsage[];
  readonly encryptionAlgorithms?: readonly EncryptionAlgorithm[];
  readonly signingAlgorithms?: readonly SigningAlgorithm[];
  readonly macAlgorithms?: readonly MacAlgorithm[];
  readonly encapsulationAlgorithms?: readonly EncapsulationAlgorithm[];
  readonly keyAgreement?: boolean;
  readonly quotaClass: QuotaClass;
  /** RSA modulus bytes, EC field bytes, HMAC key bytes, AES key bytes. */
  readonly sizeBytes: number;
  /** node:crypto names, where node:crypto has the primitive. */
  readonly namedCurve?: 'prime256v1' | 'secp384r1' | 'secp521r1' | 'secp256k1';
  readonly hash?: 'sha224' | 'sha256' | 'sha384' | 'sha512';
}

const RSA_ENCRYPTION: readonly EncryptionAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
const RSA_SIGNING: readonly SigningAlgorithm[] = [
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
];

const rsa = (spec: KeySpec, bits: number): KeySpecInfo => ({
  spec, family: 'rsa', usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], encryptionAlgorithms: RSA_ENCRYPTION,
  signingAlgorithms: RSA_SIGNING, quotaClass: 'rsa', sizeBytes: bits / 8,
});
const hmac = (spec: KeySpec, hash: 'sha224' | 'sha256' | 'sha384' | 'sha512', bits: number): KeySpecInfo => ({
  spec, family: 'hmac', usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: [`HMAC_SHA_${bits}` as MacAlgorithm],
  quotaClass: 'symmetric', sizeBytes: bits / 8, hash,
});
const mlDsa = (spec: KeySpec): KeySpecInfo => ({
  spec, family: 'ml-dsa', usages: ['SIGN_VERIFY'], signingAlgorithms: ['ML_DSA_SHAKE_256'], quotaClass: 'ml_dsa',
  sizeBytes: 32,
});

const mlKem = (spec: KeySpec): KeySpecInfo => ({
  spec, family: 'ml-kem', usages: ['ENCAPSULATE_DECAPSULATE'], encapsulationAlgorithms: ['ML_KEM'], quotaClass: 'ml_kem',
  sizeBytes: 64,
});

export const KEY_SPECS: Readonly<Record<KeySpec, KeySpecInfo>> = {
  SYMMETRIC_DEFAULT: {
    spec: 'SYMMETRIC_DEFAULT', family: 'symmetric', usages: ['ENCRYPT_DECRYPT'],
    encryptionAlgorithms: ['SYMMETRIC_DEFAULT'], quotaClass: 'symmetric', sizeBytes: 32,
  },
  HMAC_224: hmac('HMAC_224', 'sha224', 224),
  HMAC_256: hmac('HMAC_256', 'sha256', 256),
  HMAC_384: hmac('HMAC_384', 'sha384', 384),
  HMAC_512: hmac('HMAC_512', 'sha512', 512),
  RSA_2048: rsa('RSA_2048', 2048),
  RSA_3072: rsa('RSA_3072', 3072),
  RSA_4096: rsa('RSA_4096', 4096),
  ECC_NIST_P256: {
    spec: 'ECC_NIST_P256', family: 'ec', usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_256'],
    keyAgreement: true, quotaClass: 'ecc', sizeBytes: 32, namedCurve: 'prime256v1', hash: 'sha256',
  },
  ECC_NIST_P384: {
    spec: 'ECC_NIST_P384', family: 'ec', usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_384'],
    keyAgreement: true, quotaClass: 'ecc', sizeBytes: 48, namedCurve: 'secp384r1', hash: 'sha384',
  },
  ECC_NIST_P521: {
    spec: 'ECC_NIST_P521', family: 'ec', usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_512'],
    keyAgreement: true, quotaClass: 'ecc', sizeBytes: 66, namedCurve: 'secp521r1', hash: 'sha512',
  },
  ECC_SECG_P256K1: {
    spec: 'ECC_SECG_P256K1', family: 'ec', usages: ['SIGN_VERIFY'], signingAlgorithms: ['ECDSA_SHA_256'],
    quotaClass: 'ecc', sizeBytes: 32, namedCurve: 'secp256k1', hash: 'sha256',
  },
  ECC_NIST_EDWARDS25519: {
    spec: 'ECC_NIST_EDWARDS25519', family: 'ed25519', usages: ['SIGN_VERIFY'],
    signingAlgorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'], quotaClass: 'ecc', sizeBytes: 32,
  },
  ML_DSA_44: mlDsa('ML_DSA_44'),
  ML_DSA_65: mlDsa('ML_DSA_65'),
  ML_DSA_87: mlDsa('ML_DSA_87'),
  ML_KEM_512: mlKem('ML_KEM_512'),
  ML_KEM_768: mlKem('ML_KEM_768'),
  ML_KEM_1024: mlKem('ML_KEM_1024'),
};

export const isKeySpec = (value: string): value is KeySpec => Object.hasOwn(KEY_SPECS, value);

/** Hash and digest length of each signing algorithm; DIGEST messages must be exactly this long. */
export const SIGNING_HASH: Readonly<Record<SigningAlgorithm, { hash: 'sha256' | 'sha384' | 'sha512' | null; digestBytes: number }>> = {
  RSASSA_PSS_SHA_256: { hash: 'sha256', digestBytes: 32 },
  RSASSA_PSS_SHA_384: { hash: 'sha384', digestBytes: 48 },
  RSASSA_PSS_SHA_512: { hash: 'sha512', digestBytes: 64 },
  RSASSA_PKCS1_V1_5_SHA_256: { hash: 'sha256', digestBytes: 32 },
  RSASSA_PKCS1_V1_5_SHA_384: { hash: 'sha384', digestBytes: 48 },
  RSASSA_PKCS1_V1_5_SHA_512: { hash: 'sha512', digestBytes: 64 },
  ECDSA_SHA_256: { hash: 'sha256', digestBytes: 32 },
  ECDSA_SHA_384: { hash: 'sha384', digestBytes: 48 },
  ECDSA_SHA_512: { hash: 'sha512', digestBytes: 64 },
  ED25519_SHA_512: { hash: null, digestBytes: 0 },
  ED25519_PH_SHA_512: { hash: 'sha512', digestBytes: 64 },
  ML_DSA_SHAKE_256: { hash: null, digestBytes: 64 },
};

/** Largest RSAES-OAEP plaintext: k - 2*hLen - 2 (kms-api.md section 5.1). */
export function rsaOaepMaxPlaintext(info: KeySpecInfo, algorithm: EncryptionAlgorithm): number {
  const hLen = algorithm === 'RSAES_OAEP_SHA_1' ? 20 : 32;
  return info.sizeBytes - 2 * hLen - 2;
}

/** The key spec a data key pair of this DataKeyPairSpec has (same names, all valid key specs). */
export const DATA_KEY_PAIR_SPECS: readonly DataKeyPairSpec[] = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519', 'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024',
];

/** The model also allows SM2, which AWS offers only in its China Regions (as CreateKey's KeySpec SM2). */
export const isDataKeyPairSpec = (value: string): value is DataKeyPairSpec =>
  (DATA_KEY_PAIR_SPECS as readonly string[]).includes(value);

/** Algorithms DescribeKey/GetPublicKey report: only the list matching the key's usage (kms-api.md section 5). */
export function algorithmsFor(info: KeySpecInfo, usage: KeyUsage): {
  EncryptionAlgorithms?: readonly string[]; SigningAlgorithms?: readonly string[];
  MacAlgorithms?: readonly string[]; KeyAgreementAlgorithms?: readonly string[]; EncapsulationAlgorithms?: readonly string[];
} {
  switch (usage) {
    case 'ENCRYPT_DECRYPT': return { EncryptionAlgorithms: info.encryptionAlgorithms ?? [] };
    case 'SIGN_VERIFY': return { SigningAlgorithms: info.signingAlgorithms ?? [] };
    case 'GENERATE_VERIFY_MAC': return { MacAlgorithms: info.macAlgorithms ?? [] };
    case 'KEY_AGREEMENT': return { KeyAgreementAlgorithms: ['ECDH'] };
    case 'ENCAPSULATE_DECAPSULATE': return { EncapsulationAlgorithms: info.encapsulationAlgorithms ?? [] };
  }
}
