// DeriveSharedSecret (ECDH) for the NIST curves in node:crypto. The peer key is DER SPKI on the key's own
// curve; the result is the raw shared secret, i.e. the x coordinate of d * Q (SEC 1 section 3.3.1).
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { KEY_SPECS } from '../../src/contract/key-specs.js';
import { PrimitiveError, validationError } from './common.js';
import { DerError, TAG, isWholeSequence, readChildren, readOnly } from './der.js';
import type { EcKey } from './ecdsa.js';

export function deriveEcdhSecret(key: EcKey, peerSpki: Uint8Array): Buffer {
  if (!KEY_SPECS[key.spec].keyAgreement) {
    throw new PrimitiveError('InvalidKeyUsageException', `Key spec ${key.spec} does not support key agreement.`);
  }
  const notSpki = validationError('The public key must be a DER-encoded X.509 SubjectPublicKeyInfo.');
  // The whole PublicKey must be the one SubjectPublicKeyInfo (isWholeSequence: OpenSSL ignores trailing bytes).
  if (!isWholeSequence(peerSpki)) throw notSpki;
  let peer: KeyObject;
  try {
    // OpenSSL rejects points that are not on the curve while decoding.
    peer = createPublicKey({ key: Buffer.from(peerSpki), format: 'der', type: 'spki' });
  } catch {
    throw notSpki;
  }
  if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== key.namedCurve) {
    throw validationError(`The public key must be on the same curve as the ${key.spec} KMS key.`);
  }
  const form = pointFormOctet(peerSpki);
  if (form === undefined) throw notSpki;
  // RFC 5480 section 2.2: 0x04 (uncompressed) or 0x02/0x03 (compressed); a key with any other first octet MUST
  // be rejected. OpenSSL also decodes the hybrid form (0x06/0x07), so it is refused here.
  if (form !== 0x02 && form !== 0x03 && form !== 0x04) {
    throw validationError('The public key\'s EC point must be uncompressed (0x04) or compressed (0x02, 0x03).');
  }
  return diffieHellman({ privateKey: key.privateKey, publicKey: peer });
}

/** The first octet of the SPKI's point, or undefined when its inner DER is not strict. */
function pointFormOctet(spki: Uint8Array): number | undefined {
  try {
    const [, subjectPublicKey] = readChildren(readOnly(spki, TAG.SEQUENCE));
    // BIT STRING contents: the unused-bits octet, then the point.
    return subjectPublicKey?.tag === TAG.BIT_STRING ? subjectPublicKey.value[1] : undefined;
  } catch (error) {
    if (error instanceof DerError) return undefined;
    throw error;
  }
}
