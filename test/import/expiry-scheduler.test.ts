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

    // A record written before materials carried their own expiry: the key's moves onto its material, and goes.
    const key = (await store.getKey(keyId))!;
    expect(key).toMatchObject({ state: 'PendingImport', importedMaterialId: 'ab'.repeat(32), currentMaterialId: 'ab'.repeat(32) });
    expect(key.materials).toEqual([{ materialId: 'ab'.repeat(32), createdAt: 1, state: 'CURRENT' }]);
    expect(key.validTo).toBeUndefined();
    expect(key.expirationModel).toBeUndefined();
    expect(retired).toEqual([keyId]); // workers drop the cached material
    expect(await store.dueKeys(10_000)).toEqual([]);
    await store.close();
  });

  it('expires each material at its own ValidTo: the first to go makes the key PendingImport', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-expiry-'));
    dirs.push(dir);
    const store = new SqliteStore(join(dir, 'kms.sqlite'));
    const keyring = new Keyring(store, 'us-east-1', '111122223333');
    const keyId = '0b3f1c9e-2a4d-4e6f-8a1b-3c5d7e9f0a13';
    const [older, newer, pending] = ['ab', 'cd', 'ef'].map((pair) => pair.repeat(32)) as [string, string, string];
    const record = importedKey(keyring, keyId, 1_000);
    delete record.expirationModel;
    record.validTo = 1_000;
    record.currentMaterialId = newer;
    record.materials = [
      { materialId: older, wrapped: Buffer.alloc(60), createdAt: 1, state: 'NON_CURRENT', expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: 1_000 },
      { materialId: newer, wrapped: Buffer.alloc(60), createdAt: 2, state: 'CURRENT', rotationType: 'ON_DEMAND', expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: 2_000 },
      { materialId: pending, wrapped: Buffer.alloc(60), createdAt: 3, state: 'PENDING_ROTATION', expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: 3_000 },
    ];
    await keyring.create(record);
    const pool = {} as CryptoPool;

    await runDueWork(keyring, pool, 1_000);
    let key = (await store.getKey(keyId))!;
    expect(key.state).toBe('PendingImport');
    expect(key.materials.map((m) => [m.materialId, m.wrapped !== undefined])).toEqual([[older, false], [newer, true], [pending, true]]);
    expect(key.validTo).toBe(2_000);
    expect(await store.dueKeys(1_999)).toEqual([]);

    await runDueWork(keyring, pool, 3_000);
    key = (await store.getKey(keyId))!;
    // Material pending rotation was never the key's: it expires away entirely.
    expect(key.materials.map((m) => [m.materialId, m.wrapped !== undefined])).toEqual([[older, false], [newer, false]]);
    expect(key.validTo).toBeUndefined();
    expect(await store.dueKeys(10_000)).toEqual([]);
    await store.close();
  });
});
