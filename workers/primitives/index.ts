// Facade over every asymmetric, HMAC and key-agreement primitive the worker runs. The worker's handlers call
// only these functions; each family lives in its own file beside this one. Implementations throw
// PrimitiveError with a KMS error code; the worker turns it into a { ok: false, code, message } result.
// STUB: filled in by the key-specs work (issue 3). Signatures are the contract.
import type {
  DataKeyPairSpec, EncryptionAlgorithm, KeySpec, MacAlgorithm, MessageType, SigningAlgorithm,
} from '../../src/contract/key-specs.js';
import type { KmsErrorCode } from '../../src/contract/errors.js';

export class PrimitiveError extends Error {
  constructor(readonly code: KmsErrorCode, message: string) {
    super(message);
  }
}

/** A parsed private key, ready to use: kept in the worker's key cache (opaque to callers). */
export interface LoadedKey {
  readonly spec: KeySpec;
}

const todo = (): never => {
  throw new PrimitiveError('UnsupportedOperationException', 'This key spec is not supported yet.');
};

/** New key material: raw bytes for HMAC, DER PKCS#8 PrivateKeyInfo for asymmetric specs; SPKI DER public key. */
export async function generateMaterial(_spec: KeySpec): Promise<{ material: Buffer; publicKey?: Buffer }> { return todo(); }
/** Checks imported/seeded material is of the spec's type and size; throws PrimitiveError('ValidationException'). */
export function validateMaterial(_spec: KeySpec, _material: Uint8Array): void { todo(); }
export function loadKey(_spec: KeySpec, _material: Uint8Array): LoadedKey { return todo(); }
export function publicKeyOf(_key: LoadedKey): Buffer { return todo(); }
export function sign(_key: LoadedKey, _alg: SigningAlgorithm, _type: MessageType, _message: Uint8Array): Buffer { return todo(); }
export function verify(_key: LoadedKey, _alg: SigningAlgorithm, _type: MessageType, _message: Uint8Array, _signature: Uint8Array): boolean { return todo(); }
export function rsaEncrypt(_key: LoadedKey, _alg: EncryptionAlgorithm, _plaintext: Uint8Array): Buffer { return todo(); }
export function rsaDecrypt(_key: LoadedKey, _alg: EncryptionAlgorithm, _ciphertext: Uint8Array): Buffer { return todo(); }
export function generateMac(_key: LoadedKey, _alg: MacAlgorithm, _message: Uint8Array): Buffer { return todo(); }
export function deriveSharedSecret(_key: LoadedKey, _peerSpki: Uint8Array): Buffer { return todo(); }
export async function generateDataKeyPair(_spec: DataKeyPairSpec): Promise<{ privateKey: Buffer; publicKey: Buffer }> { return todo(); }
