// Expiring imported material through the scheduler: the store reports the key due at its ValidTo, a pass
// deletes the material and logs DeleteExpiredKeyMaterial, and the key then drops out of the due list.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/keys/keyring.js';
import { runDueWork } from '../../src/keys/scheduler.js';
import type { CryptoPool } from '../../src/pool/crypto-pool.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { KeyRecord } from '../../src/store/types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function importedKey(keyring: Keyring, keyId: string, validTo: number): KeyRecord {
  const materialId = 'ab'.repeat(32);
  return {
    keyId, arn: keyring.arnOf(keyId), account: keyring.account, region: keyring.region, spec: 'SYMMETRIC_DEFAULT',
    usage: 'ENCRYPT_DECRYPT', origin: 'EXTERNAL', state: 'Enabled', description: '', creationDate: 1, policy: '{}',
    rotationEnabled: false, onDemandRotations: 0, currentMaterialId: materialId, importedMaterialId: materialId,
    materials: [{ materialId, wrapped: Buffer.alloc(60), createdAt: 1, state: 'CURRENT' }],
    expirationModel: 'KEY_MATERIAL_EXPIRES', validTo, tags: [], version: 1,
  };
}

describe('scheduled expiry of imported material', () => {
  it('deletes material at ValidTo, keeps the key, and stops reporting it due', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-expiry-'));
    dirs.push(dir);
    const store = new SqliteStore(join(dir, 'kms.sqlite'));
    const retired: string[] = [];
    const keyring = new Keyring(store, 'us-east-1', '111122223333', { onKeyRetired: (keyId) => retired.push(keyId) });
    const keyId = '0b3f1c9e-2a4d-4e6f-8a1b-3c5d7e9f0a12';
    await keyring.create(importedKey(keyring, keyId, 1_000));
    const pool = {} as CryptoPool; // expiry needs no worker

    expect(await store.dueKeys(999)).toEqual([]);
    expect(await store.dueKeys(1_000)).toEqual([keyId]);
    const events = await runDueWork(keyring, pool, 1_000);
    expect(events).toEqual([{ eventName: 'DeleteExpiredKeyMaterial', keyArn: keyring.arnOf(keyId) }]);

    const key = (await store.getKey(keyId))!;
    expect(key).toMatchObject({ state: 'PendingImport', materials: [], importedMaterialId: 'ab'.repeat(32) });
    expect(key.currentMaterialId).toBeUndefined();
    expect(key.validTo).toBeUndefined();
    expect(retired).toEqual([keyId]); // workers drop the cached material
    expect(await store.dueKeys(10_000)).toEqual([]);
    await store.close();
  });
});
