// PKCS#8 / SPKI handling for the families node:crypto knows (RSA, EC, Ed25519): parse imported material
// once into KeyObjects, and generate pairs off the event loop.
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeySpec } from '../../src/contract/key-specs.js';
import { validationError } from './common.js';
import { TAG, encodeTlv, encodeUnsignedInteger, isWholeSequence, readChildren, readOnly } from './der.js';

export interface NodeKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, what GetPublicKey returns. */
  readonly spki: Buffer;
}

/** DER PKCS#8 private key and DER SPKI public key, the two formats KMS hands out. */
export interface DerKeyPair {
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

/**
 * Parses DER PKCS#8 and derives the public half; any parse failure is a ValidationException. Takes the
 * PrivateKeyInfo of RFC 5208 and the OneAsymmetricKey v2 of RFC 5958, whose public key must be the private key's.
 */
export function parsePkcs8(spec: KeySpec, material: Uint8Array): NodeKeyPair {
  const notPkcs8 = validationError(`Key material for ${spec} must be a DER-encoded PKCS#8 PrivateKeyInfo.`);
  // The whole material must be the one PrivateKeyInfo (isWholeSequence: OpenSSL ignores trailing bytes).
  if (!isWholeSequence(material)) throw notPkcs8;
  let privateKey: KeyObject;
  let carriedPublicKey: Buffer | undefined;
  try {
    const v1 = withoutPublicKey(material);
    carriedPublicKey = v1.publicKey;
    privateKey = createPrivateKey({ key: v1.privateKeyInfo, format: 'der', type: 'pkcs8' });
  } catch {
    throw notPkcs8;
  }
  const publicKey = publicHalf(privateKey);
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  if (carriedPublicKey && !carriedPublicKey.equals(readChildren(readOnly(spki, TAG.SEQUENCE))[1]!.value)) {
    throw validationError(`Key material for ${spec} holds a public key that does not belong to its private key.`);
  }
  return { privateKey, publicKey, spki };
}

/** OneAsymmetricKey's optional publicKey, [1] IMPLICIT BIT STRING (RFC 5958 section 2). */
const PUBLIC_KEY_TAG = 0x81;

/**
 * The RFC 5208 PrivateKeyInfo OpenSSL 3.0 reads, and the public key (the BIT STRING's contents, the form an
 * SPKI holds it in) that a OneAsymmetricKey v2 carried after it. OpenSSL 3.0 refuses v2 outright, yet it is
 * what BouncyCastle and other RFC 8410 writers emit for Ed25519, and what KMS's own library reads: version 1
 * becomes 0 and the public key is taken off, to be checked against the one derived from the private key.
 */
function withoutPublicKey(material: Uint8Array): { privateKeyInfo: Buffer; publicKey?: Buffer } {
  const der = Buffer.from(material);
  const body = readOnly(der, TAG.SEQUENCE);
  const children = readChildren(body);
  const last = children.at(-1);
  const isV2 = children[0]?.tag === TAG.INTEGER && children[0].value.equals(Buffer.from([1]));
  if (!isV2 || last?.tag !== PUBLIC_KEY_TAG) return { privateKeyInfo: der };
  // Everything between the version and the public key, as it was: algorithm, private key, attributes.
  const middle = body.subarray(children[0]!.end, children.at(-2)!.end);
  return { privateKeyInfo: encodeTlv(TAG.SEQUENCE, encodeUnsignedInteger(0n), middle), publicKey: last.value };
}

/** The curves of the ECC key specs, which node:crypto also exports as JWK: P-256, P-384, P-521 and secp256k1. */
const KMS_CURVES: ReadonlySet<string> = new Set(['prime256v1', 'secp384r1', 'secp521r1', 'secp256k1']);

/**
 * The public key as KMS publishes it. An EC private key may carry its public point compressed, or its curve as
 * explicit parameters, and OpenSSL keeps either form in the public key it derives; KMS derives the public key
 * from the private key, and every ECC key it generates publishes a named-curve SPKI with the uncompressed
 * point (the form secp256k1 tooling reads an address from), so an imported one is rebuilt in that form. A key
 * on any other curve has no key spec to load as (loadEcKey refuses it by its curve).
 */
function publicHalf(privateKey: KeyObject): KeyObject {
  if (privateKey.asymmetricKeyType !== 'ec' || !KMS_CURVES.has(privateKey.asymmetricKeyDetails?.namedCurve ?? '')) {
    return createPublicKey(privateKey);
  }
  const { kty, crv, x, y } = privateKey.export({ format: 'jwk' });
  return createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' });
}

const generateKeyPairAsync = promisify(generateKeyPair);

type GenerateOptions =
  | { type: 'rsa'; modulusLength: number }
  | { type: 'ec'; namedCurve: string }
  | { type: 'ed25519' };

/** Generates on libuv's thread pool (RSA takes 100-600 ms) and exports PKCS#8 + SPKI DER. */
export async function generateDerKeyPair(options: GenerateOptions): Promise<DerKeyPair> {
  const encoding = { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } } as const;
  // The overloads of generateKeyPair do not survive promisify for a union of key types; the runtime call is
  // the documented one.
  const generate = generateKeyPairAsync as unknown as (type: string, opts: object) => Promise<{ publicKey: Buffer; privateKey: Buffer }>;
  const { type, ...params } = options;
  const { privateKey, publicKey } = await generate(type, { ...params, ...encoding });
  return { privateKey, publicKey };
}
