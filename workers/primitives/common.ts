// Pieces every primitive family shares: the error type the worker turns into a KMS error, the opaque key
// handle, and the two request checks (algorithm fits the key, DIGEST length fits the algorithm) that must
// give the same code and message whichever family answers.
import { KEY_SPECS, SIGNING_HASH, type KeySpec, type MessageType, type SigningAlgorithm } from '../../src/contract/key-specs.js';
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

export const validationError = (message: string): PrimitiveError => new PrimitiveError('ValidationException', message);

/** InvalidKeyUsageException unless the key spec lists this signing algorithm (kms-api.md section 5). */
export function assertSigningAlgorithm(spec: KeySpec, algorithm: SigningAlgorithm): void {
  if (!KEY_SPECS[spec].signingAlgorithms?.includes(algorithm)) {
    throw new PrimitiveError('InvalidKeyUsageException',
      `Algorithm ${algorithm} is incompatible with key spec ${spec}.`);
  }
}

/** DIGEST messages must be exactly the algorithm's hash length (kms-api.md section 5.1). */
export function assertDigestLength(algorithm: SigningAlgorithm, digest: Uint8Array): void {
  if (digest.length !== SIGNING_HASH[algorithm].digestBytes) {
    throw validationError(`Digest is invalid length for algorithm ${algorithm}.`);
  }
}

/** The message types each family accepts besides RAW; anything else is a ValidationException. */
export function assertMessageType(algorithm: SigningAlgorithm, type: MessageType, allowed: readonly MessageType[]): void {
  if (!allowed.includes(type)) {
    throw validationError(`MessageType ${type} is not supported with signing algorithm ${algorithm}.`);
  }
}
