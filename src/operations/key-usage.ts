// GetKeyLastUsage: a key's last successful cryptographic use, from src/keys/usage-tracker.ts. Any key state
// (the model lists no KMSInvalidStateException); key id or key ARN only, as AWS documents ("Alias names are
// not supported").
import type { Operation } from './types.js';

export const getKeyLastUsage: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await ctx.useKey(input.KeyId as string, { action: 'kms:GetKeyLastUsage', allowAlias: false, states: 'any' });
    const [use, trackingStart] = await Promise.all([ctx.engine.keyUsage.lastUsage(key.keyId), ctx.engine.keyUsage.trackingStart()]);
    return {
      KeyId: key.keyId,
      // Absent when the key has no recorded use since TrackingStartDate.
      KeyLastUsage: use === undefined ? undefined
        : { Operation: use.operation, Timestamp: use.usedAt, CloudTrailEventId: use.eventId, KmsRequestId: use.requestId },
      // "The date from which KMS began recording cryptographic activity for this key, or the date the KMS key was
      // created, whichever is later."
      TrackingStartDate: Math.max(trackingStart, key.creationDate),
      KeyCreationDate: key.creationDate,
    };
  },
};
