// The worker side of bring-your-own-key (kms-api.md section 6, GetParametersForImport / ImportKeyMaterial):
// making a wrapping key pair and its ImportToken, and opening EncryptedKeyMaterial with it. The wrapping
// private key exists in the clear only here, for the length of one job; between the two calls it lives sealed
// under the root key inside the token (src/contract/import-token.ts).
//
// Wrapping algorithms, as AWS documents them:
//   RSAES_OAEP_SHA_1 / _256        the material itself, RSA-OAEP encrypted (MGF1 with the same hash, no label)
//   RSA_AES_KEY_WRAP_SHA_1 / _256  RSA-OAEP(ephemeral 256-bit AES key) || AES key wrap with padding (RFC 5649)
//                                  of the material under that AES key; the only way to carry an RSA private key
import { createDecipheriv } from 'node:crypto';
import {
  IMPORT_TOKEN_NONCE_BYTES, decodeImportToken, encodeImportToken, importTokenBinding, type ImportTokenHeader,
  type WrappingAlgorithm,
} from '../src/contract/import-token.js';
import { PrimitiveError } from './primitives/common.js';
import { generateRsaPair, loadRsaKey, rsaDecrypt, type RsaKey } from './primitives/rsa.js';
import { randomBytesFromPool } from './random-pool.js';
import type { RootKey } from './root-key.js';

/** RFC 5649's alternative initial value, the IV OpenSSL's id-aes256-wrap-pad uses. */
const KWP_IV = Buffer.from('a65959a6', 'hex');
const AES_KEY_BYTES = 32;

const invalidToken = (): PrimitiveError =>
  new PrimitiveError('InvalidImportTokenException', 'The import token is invalid or does not belong to this KMS key.');
const unwrapFailed = (): PrimitiveError =>
  new PrimitiveError('InvalidCiphertextException', 'The encrypted key material could not be decrypted with the wrapping key.');

export async function makeImportParameters(root: RootKey, header: Omit<ImportTokenHeader, 'nonce'>):
  Promise<{ publicKey: Buffer; importToken: Buffer }> {
  const full: ImportTokenHeader = { ...header, nonce: randomBytesFromPool(IMPORT_TOKEN_NONCE_BYTES) };
  const pair = await generateRsaPair(header.wrappingKeySpec);
  try {
    const sealed = root.wrap(header.keyId, importTokenBinding(full), pair.privateKey);
    return { publicKey: pair.publicKey, importToken: encodeImportToken(full, sealed) };
  } finally {
    pair.privateKey.fill(0);
  }
}

/**
 * Opens a token issued for `keyId` and unwraps the material with its private key. Throws PrimitiveError:
 * InvalidImportTokenException for a token that is not ours or not this key's, InvalidCiphertextException
 * when the material does not decrypt. The caller owns (and wipes) the returned bytes.
 */
export function unwrapImportedMaterial(root: RootKey, keyId: string, importToken: Uint8Array, encrypted: Uint8Array): Buffer {
  const token = decodeImportToken(importToken);
  if (token === null || token.header.keyId !== keyId) throw invalidToken();
  let privateKeyDer: Buffer;
  try {
    privateKeyDer = root.unwrap(keyId, token.binding, token.sealedPrivateKey);
  } catch {
    throw invalidToken();
  }
  try {
    const wrappingKey = loadRsaKey(token.header.wrappingKeySpec, privateKeyDer);
    return unwrapWith(wrappingKey, token.header.wrappingAlgorithm, encrypted);
  } finally {
    privateKeyDer.fill(0);
  }
}

function unwrapWith(key: RsaKey, algorithm: WrappingAlgorithm, encrypted: Uint8Array): Buffer {
  const oaep = algorithm.endsWith('SHA_1') ? 'RSAES_OAEP_SHA_1' : 'RSAES_OAEP_SHA_256';
  try {
    if (algorithm.startsWith('RSAES_OAEP_')) return rsaDecrypt(key, oaep, encrypted);
    if (encrypted.length <= key.modulusBytes) throw unwrapFailed();
    const aesKey = rsaDecrypt(key, oaep, encrypted.subarray(0, key.modulusBytes));
    try {
      if (aesKey.length !== AES_KEY_BYTES) throw unwrapFailed();
      const decipher = createDecipheriv('id-aes256-wrap-pad', aesKey, KWP_IV);
      return Buffer.concat([decipher.update(encrypted.subarray(key.modulusBytes)), decipher.final()]);
    } finally {
      aesKey.fill(0);
    }
  } catch {
    // One answer however the unwrap failed (RSA-OAEP padding or length, the key wrap's integrity check, a malformed
    // ciphertext): the RSA primitive's own words would speak of "this key", which the caller takes for the KMS key.
    throw unwrapFailed();
  }
}
