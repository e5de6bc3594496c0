// The root keys one process holds, and the envelope that says which of them wrapped a blob. Every wrapped blob
// (key material, sealed import keys) starts with a header naming its root key by id:
//   magic "KRK1" (4) | root key id (8) | the root key's own wrap output (iv | tag | ciphertext)
// so during a root key rotation a worker unwraps old blobs with the old key and new ones with the new key, and
// the rotation command can tell which blobs still need re-wrapping. Blobs written before the header existed
// (no magic) are tried against every held key: AES-GCM's tag makes a wrong key fail, never decrypt garbage.
//
// A root key's id is a check value, the same wherever the key lives: the first 8 bytes of the AES-256-GCM tag
// over a fixed probe (all-zero IV, 16 zero bytes, fixed associated data). The zero IV is never drawn for real
// wrapping (IVs are 96 random bits), and the tag reveals nothing usable about the key.
import { createCipheriv, type KeyObject } from 'node:crypto';
import type { RootKey } from '../../workers/root-key.js';

export const ROOT_KEY_ID_BYTES = 8;
const MAGIC = Buffer.from('KRK1', 'ascii');
const HEADER_BYTES = MAGIC.length + ROOT_KEY_ID_BYTES;

export const ROOT_KEY_ID_PROBE = {
  iv: Buffer.alloc(12),
  plaintext: Buffer.alloc(16),
  aad: Buffer.from('kms-engine/root-key-id/v1', 'ascii'),
} as const;

/** The probe computed in-process, for a root key whose bytes this process holds (a root key file). */
export function rootKeyIdOfSecret(key: KeyObject): string {
  const cipher = createCipheriv('aes-256-gcm', key, ROOT_KEY_ID_PROBE.iv);
  cipher.setAAD(ROOT_KEY_ID_PROBE.aad);
  cipher.update(ROOT_KEY_ID_PROBE.plaintext);
  cipher.final();
  return cipher.getAuthTag().subarray(0, ROOT_KEY_ID_BYTES).toString('hex');
}

export interface HeldRootKey {
  /** Hex check value (ROOT_KEY_ID_BYTES bytes). */
  id: string;
  key: RootKey;
  /** Where the key lives, for messages: a path or a redacted pkcs11: URI. */
  description: string;
  close?(): void;
}

/** The root key id a wrapped blob names in its header; undefined for a headerless (pre-header) blob. */
export function rootKeyIdOfWrapped(wrapped: Uint8Array): string | undefined {
  if (wrapped.length < HEADER_BYTES || !MAGIC.equals(wrapped.subarray(0, MAGIC.length))) return undefined;
  return Buffer.from(wrapped.subarray(MAGIC.length, HEADER_BYTES)).toString('hex');
}

export class RootKeyRing implements RootKey {
  private readonly byId = new Map<string, HeldRootKey>();
  private readonly header: Buffer;

  /** `wrapWith` wraps everything new; it and `unwrapAlso` (older root keys during a rotation) unwrap. */
  constructor(readonly wrapWith: HeldRootKey, unwrapAlso: readonly HeldRootKey[] = []) {
    for (const held of [wrapWith, ...unwrapAlso]) if (!this.byId.has(held.id)) this.byId.set(held.id, held);
    this.header = Buffer.concat([MAGIC, Buffer.from(wrapWith.id, 'hex')]);
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  wrap(keyId: string, materialId: string, material: Uint8Array): Buffer {
    return Buffer.concat([this.header, this.wrapWith.key.wrap(keyId, materialId, material)]);
  }

  unwrap(keyId: string, materialId: string, wrapped: Uint8Array): Buffer {
    const id = rootKeyIdOfWrapped(wrapped);
    const named = id === undefined ? undefined : this.byId.get(id);
    if (named !== undefined) return named.key.unwrap(keyId, materialId, wrapped.subarray(HEADER_BYTES));
    // Headerless blob (or, with odds of 2^-32, one whose random IV starts with the magic): try every key.
    for (const held of this.byId.values()) {
      try {
        return held.key.unwrap(keyId, materialId, wrapped);
      } catch {
        // the next key, or the error below
      }
    }
    throw new Error(id === undefined
      ? 'cannot unwrap key material: no held root key opens it'
      : `cannot unwrap key material: it is wrapped under root key ${id}, which this process does not hold (held: ${this.ids.join(', ')})`);
  }

  close(): void {
    for (const held of this.byId.values()) held.close?.();
  }
}
