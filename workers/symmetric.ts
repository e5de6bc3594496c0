// SYMMETRIC_DEFAULT: AES-256-GCM over the self-describing blob of src/contract/ciphertext-blob.ts. The blob
// header and the canonical encryption context are the associated data, so changing either fails the tag.
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { HEADER_BYTES, IV_BYTES, OVERHEAD_BYTES, hasBlobShape } from '../src/contract/ciphertext-blob.js';
import { canonicalContext, type EncryptionContext } from '../src/contract/encryption-context.js';
import { randomInto } from './random-pool.js';

/** A cached symmetric key: the AES key, and the header of the blobs it seals (ciphertext-blob.ts). */
export interface SymmetricKey {
  readonly secret: KeyObject;
  readonly header: Buffer;
}

export function sealSymmetric(key: SymmetricKey, plaintext: Uint8Array, context: EncryptionContext | undefined): Buffer {
  const blob = Buffer.allocUnsafe(OVERHEAD_BYTES + plaintext.length);
  key.header.copy(blob, 0);
  const iv = blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  randomInto(iv);
  const cipher = createCipheriv('aes-256-gcm', key.secret, iv);
  cipher.setAAD(associatedData(blob.subarray(0, HEADER_BYTES), context));
  const body = cipher.update(plaintext);
  cipher.final();
  body.copy(blob, OVERHEAD_BYTES);
  cipher.getAuthTag().copy(blob, HEADER_BYTES + IV_BYTES);
  return blob;
}

/** Opens a blob; null when the tag does not verify (tampered blob, wrong context, wrong key). */
export function openSymmetric(key: SymmetricKey, blob: Uint8Array, context: EncryptionContext | undefined): Buffer | null {
  if (!hasBlobShape(blob)) return null;
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const header = bytes.subarray(0, HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key.secret, bytes.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES));
  decipher.setAAD(associatedData(header, context));
  decipher.setAuthTag(bytes.subarray(HEADER_BYTES + IV_BYTES, OVERHEAD_BYTES));
  const body = decipher.update(bytes.subarray(OVERHEAD_BYTES));
  try {
    decipher.final();
  } catch {
    body.fill(0);
    return null;
  }
  return body;
}

function associatedData(header: Buffer, context: EncryptionContext | undefined): Buffer {
  const aad = canonicalContext(context);
  return aad.length > 0 ? Buffer.concat([header, aad]) : header;
}
