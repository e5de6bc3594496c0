// The key formats of the post-quantum families, which OpenSSL 3.0 cannot write: PKCS#8 PrivateKeyInfo with
// the algorithm's OID (parameters absent) and privateKey = OCTET STRING wrapping the seed-only choice
// `seed [0] IMPLICIT OCTET STRING` (ML-DSA: RFC 9881, 32-byte seed; ML-KEM: the IETF lamps ML-KEM profile,
// 64-byte d || z), and SubjectPublicKeyInfo with the same OID and the raw public key as the BIT STRING.
// The seed is what the engine stores: key generation from it is deterministic.
import { validationError, type LoadedKey } from './common.js';
import { DerError, TAG, encodeOid, encodeTlv, readChildren, readOnly } from './der.js';

/** A post-quantum key expanded from its seed: the library's private and public encodings, and the SPKI. */
export interface ExpandedSeedKey extends LoadedKey {
  readonly secretKey: Uint8Array;
  readonly publicBytes: Uint8Array;
  readonly spki: Buffer;
}

/**
 * Expands a seed with the parameter set's keygen: the one way both families load a stored key or make a new one.
 * `family` tags the result for the facade's dispatch.
 */
export function expandSeed<F extends string>(spec: ExpandedSeedKey['spec'], family: F, oid: string, seed: Uint8Array,
  keygen: (seed: Uint8Array) => { secretKey: Uint8Array; publicKey: Uint8Array }): ExpandedSeedKey & { readonly family: F } {
  const { secretKey, publicKey } = keygen(seed);
  return { spec, family, secretKey, publicBytes: publicKey, spki: encodeRawSpki(oid, publicKey) };
}

/** Context tag [0] IMPLICIT, primitive: the seed choice of ML-DSA-PrivateKey and ML-KEM-PrivateKey. */
const SEED_TAG = 0x80;
/** Context tag [1] IMPLICIT BIT STRING: OneAsymmetricKey's optional publicKey (RFC 5958, version 1 only). */
const PUBLIC_KEY_TAG = 0x81;

const algorithmIdentifier = (oid: string): Buffer => encodeTlv(TAG.SEQUENCE, encodeOid(oid));

export function encodeSeedPkcs8(oid: string, seed: Uint8Array): Buffer {
  return encodeTlv(TAG.SEQUENCE,
    Buffer.from([TAG.INTEGER, 1, 0]),
    algorithmIdentifier(oid),
    encodeTlv(TAG.OCTET_STRING, encodeTlv(SEED_TAG, seed)));
}

export function encodeRawSpki(oid: string, publicKey: Uint8Array): Buffer {
  return encodeTlv(TAG.SEQUENCE, algorithmIdentifier(oid), encodeTlv(TAG.BIT_STRING, Buffer.from([0]), publicKey));
}

/**
 * The seed from seed-only PKCS#8 of this algorithm, exactly `seedBytes` long; ValidationException naming
 * `spec` and the form for anything else.
 */
export function decodeSeedPkcs8(oid: string, seedBytes: number, spec: string, material: Uint8Array): Uint8Array {
  try {
    const [version, algorithm, privateKey, ...rest] = readChildren(readOnly(material, TAG.SEQUENCE));
    if (!version || !algorithm || !privateKey || rest.some((attr) => attr.tag !== 0xa0 && attr.tag !== PUBLIC_KEY_TAG)) {
      throw new DerError('not a PrivateKeyInfo');
    }
    if (version.tag !== TAG.INTEGER || version.value.length !== 1 || version.value[0]! > 1) throw new DerError('bad version');
    if (algorithm.tag !== TAG.SEQUENCE || !algorithm.value.equals(encodeOid(oid))) throw new DerError('wrong algorithm');
    if (privateKey.tag !== TAG.OCTET_STRING) throw new DerError('bad privateKey');
    const seed = readOnly(privateKey.value, SEED_TAG);
    if (seed.length !== seedBytes) throw new DerError('bad seed length');
    return seed;
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    throw validationError(`Key material for ${spec} must be a DER PKCS#8 ${spec} private key in the ${seedBytes}-byte seed form.`);
  }
}

/**
 * Throws unless the public key a PKCS#8 (OneAsymmetricKey) carries beside the seed, if it carries one, is the
 * seed's own. The engine expands the seed and never reads that field, so a public key from elsewhere (a file
 * put together wrongly) imported as a key whose GetPublicKey differs from the public key its owner holds, in a
 * certificate for instance. Checked when material arrives (import, seed), after decodeSeedPkcs8 accepted it.
 */
export function assertEmbeddedPublicKey(key: ExpandedSeedKey, material: Uint8Array): void {
  const embedded = readChildren(readOnly(material, TAG.SEQUENCE)).find((child) => child.tag === PUBLIC_KEY_TAG);
  if (embedded === undefined) return;
  if (embedded.value[0] !== 0 || !embedded.value.subarray(1).equals(key.publicBytes)) {
    throw validationError(`Key material for ${key.spec} holds a public key that does not belong to its seed.`);
  }
}
