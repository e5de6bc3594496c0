// The symmetric ciphertext format. It names its key and key material so Decrypt needs no KeyId, and the whole
// header is authenticated (AES-GCM associated data) together with the encryption context:
//
//   version(1) | keyId(16) | materialId(32) | iv(12) | tag(16) | ciphertext
//
// The version byte also says how the 16 key id bytes read: 0x01 a UUID's, 0x02 a multi-Region key's
// (`mrk-` + the bytes in hex).
//
// 77 bytes of overhead, far below the 2048 that CiphertextBlob's 6144-byte limit leaves a 4096-byte plaintext.
// Imported by both threads: pure, no I/O.

import { isMultiRegionKeyId, isRegionalKeyId, MULTI_REGION_KEY_PREFIX } from './key-ids.js';

const BLOB_VERSION = 0x01;
const BLOB_VERSION_MULTI_REGION_KEY = 0x02;

export const HEADER_BYTES = 1 + 16 + 32; // authenticated as associated data
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const OVERHEAD_BYTES = HEADER_BYTES + IV_BYTES + TAG_BYTES;

export interface BlobHeader {
  keyId: string;
  materialId: string;
}

export function encodeHeader(keyId: string, materialId: string, into: Buffer): void {
  if (!/^[0-9a-f]{64}$/.test(materialId)) throw new Error('unencodable key reference');
  if (isRegionalKeyId(keyId)) {
    into[0] = BLOB_VERSION;
    into.write(keyId.replaceAll('-', ''), 1, 16, 'hex');
  } else if (isMultiRegionKeyId(keyId)) {
    into[0] = BLOB_VERSION_MULTI_REGION_KEY;
    into.write(keyId.slice(MULTI_REGION_KEY_PREFIX.length), 1, 16, 'hex');
  } else {
    throw new Error('unencodable key reference');
  }
  into.write(materialId, 17, 32, 'hex');
}

/** The header of every blob sealed under this key material: computed once per cached key, not per call. */
export function blobHeader(keyId: string, materialId: string): Buffer {
  const header = Buffer.allocUnsafeSlow(HEADER_BYTES);
  encodeHeader(keyId, materialId, header);
  return header;
}

/** Whether `blob` is long enough and of the version to be one of ours (decodeHeader without the strings). */
export const hasBlobShape = (blob: Uint8Array): boolean =>
  blob.length >= OVERHEAD_BYTES && (blob[0] === BLOB_VERSION || blob[0] === BLOB_VERSION_MULTI_REGION_KEY);

/** Parses the header of a symmetric ciphertext blob; null when it cannot be one of ours. */
export function decodeHeader(blob: Uint8Array): BlobHeader | null {
  if (!hasBlobShape(blob)) return null;
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const hex = bytes.toString('hex', 1, 17);
  const keyId = blob[0] === BLOB_VERSION_MULTI_REGION_KEY ? `${MULTI_REGION_KEY_PREFIX}${hex}`
    : `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { keyId, materialId: bytes.toString('hex', 17, 49) };
}
