// GenerateRandom runs on the main thread: randomBytes is cheaper than a thread hop, and no key is involved.
import { randomBytes } from 'node:crypto';
import { CUSTOM_KEY_STORE_NOT_FOUND_MESSAGE } from '../contract/errors.js';
import { KmsError } from '../protocol/errors.js';
import { refuseRecipient } from './context.js';
import type { Operation } from './types.js';

/** GenerateRandom counts against the symmetric crypto quota (kms-api.md section 9), and its own if KMS_QUOTAS sets one. */
const SYMMETRIC: readonly string[] = Object.freeze(['symmetric']);

/** The model marks NumberOfBytes optional, but there is no default: missing is refused as a required member is. */
const NUMBER_OF_BYTES_NULL =
  "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null";

export const generateRandom: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const count = input.NumberOfBytes as number | undefined;
    if (count === undefined) throw new KmsError('ValidationException', NUMBER_OF_BYTES_NULL);
    ctx.engine.quotas.take(ctx.caller.accountId, SYMMETRIC, 'GenerateRandom');
    // Authorized before the store is looked up, as DescribeCustomKeyStores is: a caller without
    // kms:GenerateRandom is refused whatever store it names.
    await ctx.authorizeAccount('kms:GenerateRandom');
    if (input.CustomKeyStoreId !== undefined) {
      throw new KmsError('CustomKeyStoreNotFoundException', CUSTOM_KEY_STORE_NOT_FOUND_MESSAGE);
    }
    refuseRecipient(input);
    return { Plaintext: randomBytes(count).toString('base64') };
  },
};
