// RotateKeyOnDemand's limits through the real SDK against a real server (kms-api.md section 7): at most 25
// on-demand rotations per key (LimitExceededException), each one moving Encrypt, GenerateDataKey and a same-key
// ReEncrypt to the new material while every older ciphertext keeps decrypting; and ConflictException while an
// automatic rotation is due within 20 minutes, so the two never race.
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EnableKeyRotationCommand, EncryptCommand, GenerateDataKeyCommand,
  GetKeyRotationStatusCommand, ListKeyRotationsCommand, ReEncryptCommand, RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';
import { startServer, type TestServer } from '../support/server.js';
import { rewriteStoredKey } from '../support/stored-keys.js';

const shared = serverForFile();

const currentMaterial = async (keyId: string) =>
  (await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId!;

describe('on-demand rotation of a symmetric key', () => {
  it('allows 25 rotations per key, then LimitExceededException; old ciphertexts decrypt, new ones use the current material', async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    const first = KeyMetadata!.CurrentKeyMaterialId!;
    const old = (await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }))).CiphertextBlob!;
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: keyId }));
    const scheduled = (await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).NextRotationDate!;

    for (let i = 0; i < 25; i++) await shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const refused = await failure(shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId })));
    expect(refused).toMatchObject({ name: 'LimitExceededException', status: 400 });

    // On-demand rotations leave the automatic schedule where it was.
    expect((await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).NextRotationDate).toEqual(scheduled);
    const current = await currentMaterial(keyId);
    expect(current).not.toBe(first);
    const opened = await shared.kms.send(new DecryptCommand({ CiphertextBlob: old }));
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('before');
    expect(opened.KeyMaterialId).toBe(first);
    const reEncrypted = await shared.kms.send(new ReEncryptCommand({ CiphertextBlob: old, DestinationKeyId: keyId }));
    expect(reEncrypted).toMatchObject({ SourceKeyMaterialId: first, DestinationKeyMaterialId: current });
    expect((await shared.kms.send(new DecryptCommand({ CiphertextBlob: reEncrypted.CiphertextBlob! }))).KeyMaterialId).toBe(current);
    const fresh = (await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }))).CiphertextBlob!;
    expect((await shared.kms.send(new DecryptCommand({ CiphertextBlob: fresh }))).KeyMaterialId).toBe(current);
    expect((await shared.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }))).KeyMaterialId).toBe(current);

    // ROTATIONS_ONLY lists the 25 rotations, oldest first, paged; ALL_KEY_MATERIAL adds the original material.
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await shared.kms.send(new ListKeyRotationsCommand({ KeyId: keyId, Limit: 7, Marker: marker }));
      expect(page.Truncated).toBe(page.NextMarker !== undefined);
      for (const rotation of page.Rotations!) {
        expect(rotation).toMatchObject({ RotationType: 'ON_DEMAND', KeyMaterialState: rotation.KeyMaterialId === current ? 'CURRENT' : 'NON_CURRENT' });
        seen.push(rotation.KeyMaterialId!);
      }
      marker = page.NextMarker;
    } while (marker !== undefined);
    expect(seen).toHaveLength(25);
    expect(seen.at(-1)).toBe(current);
    const all = await shared.kms.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }));
    expect(all.Rotations!.map((rotation) => rotation.KeyMaterialId)).toEqual([first, ...seen]);
  });
});

describe('on-demand rotation close to an automatic one', () => {
  it('is ConflictException while the automatic rotation is due within 20 minutes, and allowed before that', async () => {
    const first = await startServer();
    let second: TestServer | undefined;
    try {
      const client = first.client();
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        await client.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
        ids.push(keyId);
      }
      const [dueSoon, dueLater] = ids as [string, string];
      await first.stop();

      // A 90-day period cannot be brought this close through the API: move the stored schedule forward instead.
      const now = Math.floor(Date.now() / 1000);
      for (const [keyId, dueIn] of [[dueSoon, 10 * 60], [dueLater, 30 * 60]] as const) {
        await rewriteStoredKey(first.dataDir, keyId, (record) => ({ ...record, nextRotationDate: now + dueIn }));
      }

      second = await startServer({ dataDir: first.dataDir });
      const again = second.client();
      const refused = await failure(again.send(new RotateKeyOnDemandCommand({ KeyId: dueSoon })));
      expect(refused).toMatchObject({ name: 'ConflictException', status: 409 });
      expect((await again.send(new ListKeyRotationsCommand({ KeyId: dueSoon }))).Rotations).toEqual([]);
      await again.send(new RotateKeyOnDemandCommand({ KeyId: dueLater }));
      expect((await again.send(new ListKeyRotationsCommand({ KeyId: dueLater }))).Rotations).toHaveLength(1);
    } finally {
      await second?.remove();
      await first.remove();
    }
  });
});
