// Key lifecycle through the real server and the AWS SDK, against kms-api.md (sections 5.1, 5.3, 7) and the service
// model: ScheduleKeyDeletion's window and what every other operation answers while a key waits for deletion,
// UpdateKeyDescription's limits, the automatic rotation schedule across repeated EnableKeyRotation calls, and the
// UnsupportedOperationException each kind of key that cannot rotate gets from the rotation operations (its status reads false).
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DeleteAliasCommand, DescribeKeyCommand,
  DisableKeyCommand, DisableKeyRotationCommand, EnableKeyRotationCommand, GetKeyLastUsageCommand, GetKeyRotationStatusCommand,
  GetParametersForImportCommand, ImportKeyMaterialCommand, ListAliasesCommand, ListGrantsCommand, ListKeyPoliciesCommand,
  ListKeyRotationsCommand, ListKeysCommand, ListResourceTagsCommand, PutKeyPolicyCommand, RetireGrantCommand, RevokeGrantCommand, RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand, TagResourceCommand, UntagResourceCommand, UpdateAliasCommand, UpdateKeyDescriptionCommand,
  type CreateKeyCommandInput, type KeyMetadata,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';

const shared = serverForFile();
const DAY = 86_400;

const create = async (input: CreateKeyCommandInput = {}): Promise<KeyMetadata> =>
  (await shared.kms.send(new CreateKeyCommand(input))).KeyMetadata!;
const seconds = (date: Date | undefined): number => date!.getTime() / 1000;
const rotationStatus = (keyId: string) => shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));

describe('ScheduleKeyDeletion', () => {
  it('waits 30 days by default; 7..30 is the rule, 1..365 the model range, each refused with its own bound', async () => {
    const key = await create();
    const before = Date.now() / 1000;
    const scheduled = await shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId }));
    expect(scheduled).toMatchObject({ KeyId: key.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30 });
    expect(Math.abs(seconds(scheduled.DeletionDate) - (before + 30 * DAY))).toBeLessThan(5);
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.DeletionDate).toEqual(scheduled.DeletionDate);

    const other = await create();
    const refusal = (days: number) => failure(shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: other.KeyId, PendingWindowInDays: days })));
    for (const [days, bound] of [[0, 'greater than or equal to 1'], [366, 'less than or equal to 365'], [6, 'greater than or equal to 7'],
      [31, 'less than or equal to 30']] as const) {
      const refused = await refusal(days);
      expect({ days, name: refused.name, status: refused.status }).toEqual({ days, name: 'ValidationException', status: 400 });
      expect(refused.message, String(days)).toMatch(new RegExp(`^1 validation error detected: Value at 'pendingWindowInDays' failed to satisfy constraint: Member must have value .*${bound}`));
    }
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: other.KeyId }))).KeyMetadata).toMatchObject({ KeyState: 'Enabled', Enabled: true });
  });

  it('while pending deletion: reads, policies, grants and alias removal work; tagging and rotation changes are KMSInvalidStateException', async () => {
    const key = await create();
    const other = await create();
    const root = `arn:aws:iam::${shared.server.accountId}:root`;
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/lifecycle/leaving', TargetKeyId: key.KeyId }));
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/lifecycle/moving', TargetKeyId: key.KeyId }));
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/lifecycle/elsewhere', TargetKeyId: other.KeyId }));
    const [revoked, retired] = await Promise.all(['Encrypt', 'Decrypt'].map(async (operation) =>
      (await shared.kms.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: root, Operations: [operation as 'Encrypt'] }))).GrantId!));
    await shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));

    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:*', Resource: '*' }] });
    await shared.kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: policy }));
    expect((await shared.kms.send(new ListKeyPoliciesCommand({ KeyId: key.KeyId }))).PolicyNames).toEqual(['default']);
    expect((await shared.kms.send(new ListGrantsCommand({ KeyId: key.KeyId }))).Grants).toHaveLength(2);
    await shared.kms.send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: revoked }));
    await shared.kms.send(new RetireGrantCommand({ KeyId: key.KeyId, GrantId: retired }));
    expect((await shared.kms.send(new ListGrantsCommand({ KeyId: key.KeyId }))).Grants).toEqual([]);
    expect((await shared.kms.send(new ListAliasesCommand({ KeyId: key.KeyId }))).Aliases!.map((alias) => alias.AliasName))
      .toEqual(['alias/lifecycle/leaving', 'alias/lifecycle/moving']);
    await shared.kms.send(new DeleteAliasCommand({ AliasName: 'alias/lifecycle/leaving' }));
    // An alias may leave a key pending deletion, but not move onto one.
    await shared.kms.send(new UpdateAliasCommand({ AliasName: 'alias/lifecycle/moving', TargetKeyId: other.KeyId }));
    const pending = { name: 'KMSInvalidStateException', status: 409, message: `${key.Arn} is pending deletion.` };
    expect(await failure(shared.kms.send(new UpdateAliasCommand({ AliasName: 'alias/lifecycle/elsewhere', TargetKeyId: key.KeyId })))).toEqual(pending);
    expect((await shared.kms.send(new ListKeysCommand({}))).Keys!.map((entry) => entry.KeyId)).toContain(key.KeyId);
    expect((await shared.kms.send(new GetKeyLastUsageCommand({ KeyId: key.KeyId }))).KeyId).toBe(key.KeyId);
    expect((await shared.kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations).toEqual([]);

    const refused = await Promise.all([
      shared.kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['a'] })),
      shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId })),
      shared.kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId })),
      shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId })),
    ].map(failure));
    for (const refusal of refused) expect(refusal).toEqual(pending);
  });
});

describe('UpdateKeyDescription', () => {
  it('takes 0..8192 characters and needs a Description; a Disabled key takes one too', async () => {
    const key = await create({ Description: 'first' });
    await shared.kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    const description = async () => (await shared.kms.send(new DescribeKeyCommand({ KeyId: key.Arn }))).KeyMetadata!.Description;
    await shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.Arn, Description: 'd'.repeat(8192) }));
    expect(await description()).toBe('d'.repeat(8192));
    await shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: '' }));
    expect(await description()).toBe('');
    expect(await failure(shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: 'd'.repeat(8193) })))).toEqual({
      name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
    });
    expect(await failure(shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId } as never)))).toEqual({
      name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value null at 'description' failed to satisfy constraint: Member must not be null",
    });
  });
});

describe('lengths in characters', () => {
  it('a Description, TagKey and TagValue count characters outside the BMP (emoji) once, not as two UTF-16 units', async () => {
    const emoji = '\u{1F511}'; // one character, a surrogate pair in UTF-16
    const key = await create({ Description: emoji.repeat(8192) });
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.Description).toBe(emoji.repeat(8192));
    await shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: `${'d'.repeat(8191)}${emoji}` }));
    expect(await failure(shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: emoji.repeat(8193) })))).toEqual({
      name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
    });
    const tag = { TagKey: emoji.repeat(128), TagValue: emoji.repeat(256) };
    await shared.kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [tag] }));
    expect((await shared.kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags).toEqual([tag]);
    expect(await failure(shared.kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'k', TagValue: emoji.repeat(257) }] })))).toEqual({
      name: 'ValidationException', status: 400,
      message: "1 validation error detected: Value at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256",
    });
  });
});

describe('the automatic rotation schedule', () => {
  const pause = () => new Promise((resolve) => setTimeout(resolve, 1_100));

  it('EnableKeyRotation on a key that already rotates changes the period only: the schedule keeps the day rotation was turned on', async () => {
    const key = await create();
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    const first = await rotationStatus(key.KeyId!);
    expect(first).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect(Math.abs(seconds(first.NextRotationDate) - (Date.now() / 1000 + 90 * DAY))).toBeLessThan(5);
    const enabledAt = seconds(first.NextRotationDate) - 90 * DAY;

    await pause();
    // The same call again is no new start: the rotation is not put off.
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    expect((await rotationStatus(key.KeyId!)).NextRotationDate).toEqual(first.NextRotationDate);
    // Another period counts from the same start; no period is the default, 365 days.
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 180 }));
    const longer = await rotationStatus(key.KeyId!);
    expect({ period: longer.RotationPeriodInDays, next: seconds(longer.NextRotationDate) }).toEqual({ period: 180, next: enabledAt + 180 * DAY });
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
    const defaulted = await rotationStatus(key.KeyId!);
    expect({ period: defaulted.RotationPeriodInDays, next: seconds(defaulted.NextRotationDate) }).toEqual({ period: 365, next: enabledAt + 365 * DAY });
    // An on-demand rotation leaves the schedule alone too.
    await shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    expect((await rotationStatus(key.KeyId!)).NextRotationDate).toEqual(defaulted.NextRotationDate);

    // Turned off and on again, rotation counts from the new enable date.
    await shared.kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId }));
    const off = await rotationStatus(key.KeyId!);
    expect(off).toEqual(expect.objectContaining({ KeyRotationEnabled: false, KeyId: key.Arn }));
    expect(off.NextRotationDate).toBeUndefined();
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    const again = seconds((await rotationStatus(key.KeyId!)).NextRotationDate);
    expect(again).toBeGreaterThan(enabledAt + 90 * DAY);
    expect(Math.abs(again - (Date.now() / 1000 + 90 * DAY))).toBeLessThan(5);
  });

  it('a Disabled key keeps its rotation status; its rotation settings are DisabledException until it is enabled', async () => {
    const key = await create();
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 120 }));
    const before = await rotationStatus(key.KeyId!);
    await shared.kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    expect(await rotationStatus(key.KeyId!)).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 120, NextRotationDate: before.NextRotationDate });
    const disabled = { name: 'DisabledException', status: 409, message: `${key.Arn} is disabled.` };
    for (const refusal of await Promise.all([
      shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 })),
      shared.kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId })),
      shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId })),
    ].map(failure))) expect(refusal).toEqual(disabled);
    expect((await shared.kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }))).Rotations).toEqual([]);
  });
});

describe('keys that cannot rotate', () => {
  it('asymmetric, HMAC and key-agreement keys: UnsupportedOperationException naming the key spec from every rotation operation but GetKeyRotationStatus (false)', async () => {
    const keys = await Promise.all([
      create({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }),
      create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
      create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
      create({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'KEY_AGREEMENT' }),
    ]);
    for (const key of keys) {
      const unsupported = { name: 'UnsupportedOperationException', status: 400, message: `${key.Arn} key spec ${key.KeySpec} does not support key rotation.` };
      const refusals = await Promise.all([
        shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId })),
        shared.kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId })),
        shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId })),
        shared.kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId })),
      ].map(failure));
      for (const refusal of refusals) expect(refusal, key.KeySpec).toEqual(unsupported);
      expect(await rotationStatus(key.KeyId!), key.KeySpec).toMatchObject({ KeyRotationEnabled: false, KeyId: key.Arn });
    }
  });

  it('a symmetric key with imported material: automatic rotation is UnsupportedOperationException for its origin, before and after the import', async () => {
    const key = await create({ Origin: 'EXTERNAL' });
    const unsupported = { name: 'UnsupportedOperationException', status: 400, message: `${key.Arn} origin is EXTERNAL which is not valid for this operation.` };
    const toggles = () => Promise.all([
      shared.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId })),
      shared.kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId })),
    ].map(failure));
    expect(await toggles()).toEqual([unsupported, unsupported]);

    const parameters = await shared.kms.send(new GetParametersForImportCommand({
      KeyId: key.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048',
    }));
    const wrapped = publicEncrypt({
      key: createPublicKey({ key: Buffer.from(parameters.PublicKey!), format: 'der', type: 'spki' }),
      padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256',
    }, randomBytes(32));
    await shared.kms.send(new ImportKeyMaterialCommand({
      KeyId: key.KeyId, ImportToken: parameters.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }));
    expect(await toggles()).toEqual([unsupported, unsupported]);
    // Its status still answers: it rotates on demand (to new imported material), never automatically.
    expect(await rotationStatus(key.KeyId!)).toEqual(expect.objectContaining({ KeyRotationEnabled: false, KeyId: key.Arn }));
  });
});
