// Key lifecycle and metadata: DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
// CancelKeyDeletion, UpdateKeyDescription. Metadata only: none of these touch the worker pool.
import { hasAllOwnMaterial } from '../keys/imported-material.js';
import { keyMetadata } from '../keys/metadata.js';
import { KmsError } from '../protocol/errors.js';
import { validationError } from '../protocol/validate.js';
import type { KeyRecord } from '../store/types.js';
import type { RequestContext } from './context.js';
import { decodeMarker, encodeMarker } from './paging.js';
import type { Operation } from './types.js';

const DAY_SECONDS = 86_400;

/** A management operation on one key named by key id or key ARN. */
const manage = (ctx: RequestContext, action: string, states: 'any' | 'not-pending-deletion' = 'any') =>
  ctx.useKey(ctx.input.KeyId as string, { action, allowAlias: false, states, write: true });

export const describeKey: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await ctx.useKey(input.KeyId as string, {
      action: 'kms:DescribeKey', allowAlias: true, states: 'any', grantOperation: 'DescribeKey',
    });
    return { KeyMetadata: keyMetadata(key) };
  },
};

export const listKeys: Operation = {
  readOnly: true,
  async run(input, ctx) {
    await ctx.authorizeAccount('kms:ListKeys');
    // ListKeys lists the caller's own account: a principal of another account has no keys here.
    if (!ctx.callerOwnsKeys) return { Keys: [], Truncated: false };
    const limit = (input.Limit as number | undefined) ?? 100;
    const ids = await ctx.keyring.store.listKeyIds(decodeMarker(input.Marker, 'ListKeys'), limit + 1);
    const truncated = ids.length > limit;
    const keys = ids.slice(0, limit);
    return {
      Keys: keys.map((keyId) => ({ KeyId: keyId, KeyArn: ctx.keyring.arnOf(keyId) })),
      Truncated: truncated,
      NextMarker: truncated ? encodeMarker('ListKeys', keys[keys.length - 1]!) : undefined,
    };
  },
};

function refuseUnlessUsableState(key: KeyRecord): void {
  if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  if (key.state === 'PendingImport') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending import.`);
}

export const enableKey: Operation = {
  readOnly: false,
  async run(_input, ctx) {
    const key = await manage(ctx, 'kms:EnableKey');
    await ctx.keyring.mutate(key.keyId, (draft) => {
      refuseUnlessUsableState(draft);
      draft.state = 'Enabled';
    });
    return undefined;
  },
};

export const disableKey: Operation = {
  readOnly: false,
  async run(_input, ctx) {
    const key = await manage(ctx, 'kms:DisableKey');
    await ctx.keyring.mutate(key.keyId, (draft) => {
      refuseUnlessUsableState(draft);
      draft.state = 'Disabled';
    }, true);
    return undefined;
  },
};

export const scheduleKeyDeletion: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const days = (input.PendingWindowInDays as number | undefined) ?? 30;
    if (days < 7 || days > 30) {
      throw validationError('pendingWindowInDays', 'Member must have value greater than or equal to 7 and less than or equal to 30');
    }
    const key = await manage(ctx, 'kms:ScheduleKeyDeletion');
    const updated = await ctx.keyring.mutate(key.keyId, (draft) => {
      if (draft.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${draft.arn} is pending deletion.`);
      draft.state = 'PendingDeletion';
      draft.pendingWindowInDays = days;
      draft.deletionDate = Math.floor(Date.now() / 1000) + days * DAY_SECONDS;
    }, true);
    return { KeyId: updated.arn, DeletionDate: updated.deletionDate, KeyState: 'PendingDeletion', PendingWindowInDays: days };
  },
};

export const cancelKeyDeletion: Operation = {
  readOnly: false,
  async run(_input, ctx) {
    const key = await manage(ctx, 'kms:CancelKeyDeletion');
    const updated = await ctx.keyring.mutate(key.keyId, (draft) => {
      if (draft.state !== 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${draft.arn} is not pending deletion.`);
      // AWS leaves a cancelled key Disabled, or PendingImport while any of its own material is missing: never
      // imported, or deleted or expired before or during the deletion window. Disabled would let EnableKey
      // turn on a key that has nothing to encrypt or sign with.
      draft.state = hasAllOwnMaterial(draft) ? 'Disabled' : 'PendingImport';
      delete draft.deletionDate;
      delete draft.pendingWindowInDays;
    });
    return { KeyId: updated.arn };
  },
};

export const updateKeyDescription: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await manage(ctx, 'kms:UpdateKeyDescription', 'not-pending-deletion');
    await ctx.keyring.mutate(key.keyId, (draft) => {
      draft.description = input.Description as string;
    });
    return undefined;
  },
};

export { manage as manageKey };
