// Scheduled work, in-process with a real worker pool and store: keys past their deletion window are deleted
// with their aliases, and keys due for automatic rotation get new material while old ciphertexts still open.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createKey } from '../../src/keys/factory.js';
import { runDueWork } from '../../src/keys/scheduler.js';
import { keyRef } from '../../src/operations/context.js';
import type { CryptoPool } from '../../src/pool/crypto-pool.js';
import { openEngine } from '../../src/server.js';
import type { KeyRecord } from '../../src/store/types.js';

let dataDir: string;
let core: Awaited<ReturnType<typeof openEngine>>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kms-engine-scheduler-'));
  core = await openEngine(loadConfig({ KMS_DATA_DIR: dataDir, KMS_WORKERS: '1' }), () => {});
});
afterAll(async () => {
  await core?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const newKey = () => createKey(core.engine.keyring, core.engine.pool, {
  spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', description: '', policy: '{}', tags: [],
});

describe('runDueWork', () => {
  it('deletes a key once its deletion date has passed, with its aliases, and not before', async () => {
    const { keyring } = core.engine;
    const key = await newKey();
    const now = Date.now() / 1000;
    await keyring.putAlias({ name: 'alias/doomed', keyId: key.keyId, creationDate: now, lastUpdatedDate: now }, true);
    await keyring.mutate(key.keyId, (draft) => {
      draft.state = 'PendingDeletion';
      draft.pendingWindowInDays = 7;
      draft.deletionDate = now + 7 * 86_400;
    });
    expect(await runDueWork(keyring, core.engine.pool, now + 6 * 86_400)).toEqual([]);
    expect(await keyring.get(key.keyId)).toBeDefined();
    const events = await runDueWork(keyring, core.engine.pool, now + 7 * 86_400 + 1);
    expect(events).toEqual([{ eventName: 'DeleteKey', keyArn: key.arn }]);
    expect(await keyring.get(key.keyId)).toBeUndefined();
    expect(await keyring.store.getKey(key.keyId)).toBeUndefined();
    expect(await keyring.getAlias('alias/doomed')).toBeUndefined();
  });

  // A CancelKeyDeletion in flight when the pass read the key (its write queued before the deletion) has answered
  // the caller that the key is kept: the deletion, which runs after it, must find the key cancelled and keep it.
  it('keeps a key whose CancelKeyDeletion was in flight when the pass read it', async () => {
    const { keyring, pool } = core.engine;
    const key = await newKey();
    const now = Date.now() / 1000;
    await keyring.mutate(key.keyId, (draft) => {
      draft.state = 'PendingDeletion';
      draft.pendingWindowInDays = 7;
      draft.deletionDate = now + 7 * 86_400;
    });
    let releaseCancel!: () => void;
    const cancelMayFinish = new Promise<void>((resolve) => { releaseCancel = resolve; });
    const cancelled = keyring.mutate(key.keyId, async (draft) => {
      await cancelMayFinish;
      draft.state = 'Disabled';
      delete draft.deletionDate;
      delete draft.pendingWindowInDays;
    });
    // The cancel finishes once the pass, having read the key as pending deletion, has asked to delete it.
    const deleteKey = keyring.deleteKey.bind(keyring);
    const spy = vi.spyOn(keyring, 'deleteKey').mockImplementation((...args) => {
      const deleting = deleteKey(...args);
      releaseCancel();
      return deleting;
    });
    try {
      const events = await runDueWork(keyring, pool, now + 7 * 86_400 + 1);
      await cancelled;
      expect(spy).toHaveBeenCalled();
      expect(events.filter((event) => event.keyArn === key.arn)).toEqual([]);
      expect((await keyring.reread(key.keyId))?.state).toBe('Disabled');
    } finally {
      spy.mockRestore();
    }
  });

  it('rotates a key when its next rotation date has passed; older material keeps decrypting', async () => {
    const { keyring, pool } = core.engine;
    const key = await newKey();
    const sealed = await pool.run({ op: 'encrypt', target: { kind: 'symmetric', key: keyRef(key) }, plaintext: Buffer.from('old') });
    if (!sealed.ok) throw new Error(sealed.message);
    const now = Date.now() / 1000;
    await keyring.mutate(key.keyId, (draft) => {
      draft.rotationEnabled = true;
      draft.rotationPeriodInDays = 90;
      draft.nextRotationDate = now + 90 * 86_400;
    });
    const events = await runDueWork(keyring, pool, now + 90 * 86_400 + 1);
    expect(events).toEqual([{ eventName: 'RotateKey', keyArn: key.arn }]);
    const rotated = (await keyring.get(key.keyId))!;
    expect(rotated.materials).toHaveLength(2);
    expect(rotated.currentMaterialId).not.toBe(key.currentMaterialId);
    expect(rotated.materials[1]).toMatchObject({ rotationType: 'AUTOMATIC', state: 'CURRENT' });
    expect(rotated.nextRotationDate).toBeGreaterThan(now + 89 * 86_400);
    const opened = await pool.run({
      op: 'decrypt', source: { kind: 'symmetric', key: keyRef(rotated, key.currentMaterialId), blob: sealed.ciphertext },
    });
    expect(opened.ok && Buffer.from(opened.plaintext).toString()).toBe('old');
  });

  // The new material is made in a worker before it is stored; a change to the key that lands meanwhile (a user's
  // DisableKeyRotation, DisableKey or ScheduleKeyDeletion) must win over the rotation the pass started. The pool
  // stand-in applies the change right after the material is made, before the scheduler stores it.
  it.each([
    ['DisableKeyRotation', (draft: KeyRecord) => { draft.rotationEnabled = false; delete draft.nextRotationDate; }],
    ['DisableKey', (draft: KeyRecord) => { draft.state = 'Disabled'; }],
    ['ScheduleKeyDeletion', (draft: KeyRecord) => {
      draft.state = 'PendingDeletion';
      draft.pendingWindowInDays = 30;
      draft.deletionDate = Date.now() / 1000 + 120 * 86_400; // after the pass below, which runs 90 days on
    }],
  ] as const)('does not rotate a key when %s lands while the new material is being made', async (_name, change) => {
    const { keyring, pool } = core.engine;
    const key = await newKey();
    const now = Date.now() / 1000;
    await keyring.mutate(key.keyId, (draft) => {
      draft.rotationEnabled = true;
      draft.rotationPeriodInDays = 90;
      draft.nextRotationDate = now + 90 * 86_400;
    });
    const interrupted = {
      run: async (job: Parameters<CryptoPool['run']>[0]) => {
        const result = await pool.run(job);
        if (job.op === 'generateMaterial' && (job as { keyId: string }).keyId === key.keyId) await keyring.mutate(key.keyId, change);
        return result;
      },
    } as unknown as CryptoPool;
    // Keys of the tests above are due by then too: only this key's events count.
    const events = await runDueWork(keyring, interrupted, now + 90 * 86_400 + 1);
    expect(events.filter((event) => event.keyArn === key.arn)).toEqual([]);
    const after = (await keyring.get(key.keyId))!;
    expect(after.materials).toHaveLength(1);
    expect(after.currentMaterialId).toBe(key.currentMaterialId);
  });
});
