// The root wrapping key, held only by worker threads. Every key's material is stored wrapped under it with
// AES-256-GCM, bound to (keyId, materialId) as associated data so a wrapped blob cannot be swapped between
// keys or versions. Format: iv(12) | tag(16) | ciphertext.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface RootKey {
  wrap(keyId: string, materialId: string, material: Uint8Array): Buffer;
  unwrap(keyId: string, materialId: string, wrapped: Uint8Array): Buffer;
}

const associatedData = (keyId: string, materialId: string): Buffer =>
  Buffer.from(`kms-engine/material/v1|${keyId}|${materialId}`, 'utf8');

export class FileRootKey implements RootKey {
  private readonly key: KeyObject;

  constructor(keyBytes: Uint8Array) {
    if (keyBytes.length !== 32) throw new Error('the root key must be 32 bytes');
    this.key = createSecretKey(keyBytes);
  }

  static fromFile(path: string): FileRootKey {
    const bytes = readFileSync(path);
    try {
      return new FileRootKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  wrap(keyId: string, materialId: string, material: Uint8Array): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(associatedData(keyId, materialId));
    const body = Buffer.concat([cipher.update(material), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  unwrap(keyId: string, materialId: string, wrapped: Uint8Array): Buffer {
    const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.length);
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
    decipher.setAAD(associatedData(keyId, materialId));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
  }
}
