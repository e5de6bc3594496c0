import { ERROR_STATUS, type KmsErrorCode } from '../contract/errors.js';

/**
 * A failure answered to the client as `{"__type": code, "message": message}` with the code's HTTP status.
 * Only the main thread throws these; messages never carry plaintext, key material or signatures.
 */
export class KmsError extends Error {
  override readonly name = 'KmsError';
  constructor(readonly code: KmsErrorCode, message: string) {
    super(message);
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const kmsError = (code: KmsErrorCode, message: string): KmsError => new KmsError(code, message);
