// Which key states each group of operations accepts, and AWS's error for the others (kms-api.md section 5.3).
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';

/** Cryptographic operations, GetPublicKey and CreateGrant: only Enabled keys. */
export function requireEnabled(key: KeyRecord): void {
  switch (key.state) {
    case 'Enabled': return;
    case 'Disabled': throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    case 'PendingDeletion': throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    case 'PendingImport': throw new KmsError('KMSInvalidStateException', `${key.arn} is pending import.`);
  }
}

/** Management operations that refuse keys pending deletion (tags, description, aliases, enable/disable). */
export function requireNotPendingDeletion(key: KeyRecord): void {
  if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
}
