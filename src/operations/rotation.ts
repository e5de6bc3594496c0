// EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations.
import { expirationOf, rotatesToImportedMaterial, rotateToPendingMaterial } from '../keys/imported-material.js';
import { DAY_SECONDS, rotatable, rotateKey } from '../keys/rotation.js';
import { requireEnabled } from '../keys/states.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import type { RequestContext } from './context.js';
import { page } from './paging.js';
import type { Operation } from './types.js';

const MAX_ON_DEMAND_ROTATIONS = 25;
/** RotateKeyOnDemand is refused this close to a due automatic rotation, so the two never race (kms-api.md 7). */
const AUTOMATIC_ROTATION_GUARD_SECONDS = 20 * 60;

function requireNoAutomaticRotationDue(key: KeyRecord, now: number): void {
  if (key.rotationEnabled && key.nextRotationDate !== undefined && key.nextRotationDate <= now + AUTOMATIC_ROTATION_GUARD_SECONDS) {
    throw new KmsError('ConflictException',
      `${key.arn} has an automatic rotation due within 20 minutes. Retry RotateKeyOnDemand after it completes.`);
  }
}

function requireRotatable(key: KeyRecord): void {
  if (key.origin === 'EXTERNAL' && key.state === 'PendingImport') {
    throw new KmsError('UnsupportedOperationException', `${key.arn} origin is EXTERNAL which is not valid for this operation.`);
  }
  // Name the one property that rules rotation out: the spec for asymmetric, HMAC and key-agreement keys, the
  // origin for a symmetric key with imported material (the same words as for one still awaiting it).
  if (key.spec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('UnsupportedOperationException', `${key.arn} key spec ${key.spec} does not support key rotation.`);
  }
  if (!rotatable(key)) {
    throw new KmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
  }
}

/**
 * When automatic rotation next runs after EnableKeyRotation. Turning rotation on counts the period from today: the
 * period is "the number of days after you enable automatic key rotation ... and the number of days between each
 * automatic rotation thereafter" (service model). On a key that already rotates, the call only changes the period
 * (the model: "modify the rotation period"): the schedule keeps its start, the day rotation was turned on or last
 * ran automatically, so calling again does not put the rotation off, and a shorter period can make it due at once
 * (the scheduler's next pass rotates it).
 */
function nextAutomaticRotation(key: KeyRecord, periodInDays: number, now: number): number {
  if (key.rotationEnabled && key.nextRotationDate !== undefined && key.rotationPeriodInDays !== undefined) {
    const scheduleStart = key.nextRotationDate - key.rotationPeriodInDays * DAY_SECONDS;
    return scheduleStart + periodInDays * DAY_SECONDS;
  }
  return now + periodInDays * DAY_SECONDS;
}

const rotationKey = (ctx: RequestContext, action: string) =>
  ctx.useKey(ctx.input.KeyId as string, { action, allowAlias: false, states: 'any' });

export const enableKeyRotation: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const period = (input.RotationPeriodInDays as number | undefined) ?? 365;
    const key = await rotationKey(ctx, 'kms:EnableKeyRotation');
    await ctx.keyring.mutate(key.keyId, (draft) => {
      // An EXTERNAL key awaiting its material is refused for its origin before its state (kms-api.md 5.3).
      if (draft.state === 'PendingImport') requireRotatable(draft);
      requireEnabled(draft);
      requireRotatable(draft);
      draft.nextRotationDate = nextAutomaticRotation(draft, period, Math.floor(Date.now() / 1000));
      draft.rotationEnabled = true;
      draft.rotationPeriodInDays = period;
    });
    return undefined;
  },
};

export const disableKeyRotation: Operation = {
  readOnly: false,
  async run(_input, ctx) {
    const key = await rotationKey(ctx, 'kms:DisableKeyRotation');
    await ctx.keyring.mutate(key.keyId, (draft) => {
      // An EXTERNAL key awaiting its material is refused for its origin before its state (kms-api.md 5.3).
      if (draft.state === 'PendingImport') requireRotatable(draft);
      requireEnabled(draft);
      requireRotatable(draft);
      draft.rotationEnabled = false;
      delete draft.nextRotationDate;
    });
    return undefined;
  },
};

export const getKeyRotationStatus: Operation = {
  readOnly: true,
  async run(_input, ctx) {
    const key = await rotationKey(ctx, 'kms:GetKeyRotationStatus');
    // An EXTERNAL key still awaiting its material is refused for its origin, as the toggles refuse it.
    if (key.state === 'PendingImport') requireRotatable(key);
    // Asymmetric, HMAC and key-agreement keys never rotate automatically, and AWS KMS says so (false) rather than
    // refusing the question as EnableKeyRotation refuses them: infrastructure tools read the status of every
    // AWS_KMS key (Terraform's aws_kms_key does on each refresh), and a refusal failed every such key's read.
    if (key.spec !== 'SYMMETRIC_DEFAULT') return { KeyRotationEnabled: false, KeyId: key.arn };
    // AWS reports a key pending deletion as not rotating (nothing rotates it); the setting itself is kept, so
    // CancelKeyDeletion brings the key's rotation status back.
    const rotating = key.rotationEnabled && key.state !== 'PendingDeletion';
    return {
      KeyRotationEnabled: rotating,
      KeyId: key.arn,
      RotationPeriodInDays: rotating ? key.rotationPeriodInDays : undefined,
      NextRotationDate: rotating ? key.nextRotationDate : undefined,
    };
  },
};

export const rotateKeyOnDemand: Operation = {
  readOnly: false,
  async run(_input, ctx) {
    const key = await rotationKey(ctx, 'kms:RotateKeyOnDemand');
    const check = (current: KeyRecord) => {
      requireEnabled(current);
      if (!rotatesToImportedMaterial(current)) requireRotatable(current);
      requireNoAutomaticRotationDue(current, Date.now() / 1000);
      if (current.onDemandRotations >= MAX_ON_DEMAND_ROTATIONS) {
        throw new KmsError('LimitExceededException', `${current.arn} has reached the limit of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations.`);
      }
    };
    check(key);
    if (rotatesToImportedMaterial(key)) {
      await ctx.keyring.mutate(key.keyId, (draft) => {
        check(draft);
        rotateToPendingMaterial(draft, Date.now() / 1000);
      });
    } else {
      await rotateKey(ctx.keyring, ctx.engine.pool, key, 'ON_DEMAND', check);
    }
    return { KeyId: key.arn };
  },
};

/** Symmetric keys list their materials; those with imported material also say whether each is imported. */
export const listKeyRotations: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await rotationKey(ctx, 'kms:ListKeyRotations');
    const imported = rotatesToImportedMaterial(key);
    if (!imported) requireRotatable(key);
    const all = input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL';
    const rotations = key.materials
      .filter((material) => all || material.rotationType !== undefined)
      .map((material) => {
        const expiration = imported ? expirationOf(key, material) : {};
        return {
          KeyId: key.arn,
          KeyMaterialId: material.materialId,
          KeyMaterialDescription: imported ? material.description : undefined,
          ImportState: imported ? (material.wrapped === undefined ? 'PENDING_IMPORT' : 'IMPORTED') : undefined,
          KeyMaterialState: material.state === 'PENDING_ROTATION' ? 'PENDING_ROTATION'
            : material.materialId === key.currentMaterialId ? 'CURRENT' : 'NON_CURRENT',
          ExpirationModel: expiration.model,
          ValidTo: expiration.validTo,
          RotationDate: material.rotationType === undefined ? undefined : material.createdAt,
          RotationType: material.rotationType,
        };
      });
    const { items, truncated, nextMarker } = page(rotations, input, 100, 1000, `ListKeyRotations\n${key.keyId}\n${all}`);
    return { Rotations: items, Truncated: truncated, NextMarker: nextMarker };
  },
};
