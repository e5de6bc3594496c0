// Scheduled work: keys whose deletion window has passed are deleted (with their material, aliases and
// grants), imported material past its ValidTo is deleted, and keys due for automatic rotation are rotated.
// Runs on a timer on the main thread; each pass asks the store for due keys only, so it costs nothing while
// nothing is due.
import type { CryptoPool } from '../pool/crypto-pool.js';
import type { KeyRecord } from '../store/types.js';
import { expireImportedMaterial, materialExpired } from './imported-material.js';
import type { Keyring } from './keyring.js';
import { rotatable, rotateKey } from './rotation.js';

export interface ScheduledEvent {
  eventName: 'DeleteKey' | 'RotateKey' | 'DeleteExpiredKeyMaterial';
  keyArn: string;
}

export async function runDueWork(keyring: Keyring, pool: CryptoPool, now = Date.now() / 1000,
  onEvent: (event: ScheduledEvent) => void | Promise<void> = () => {}): Promise<ScheduledEvent[]> {
  const events: ScheduledEvent[] = [];
  for (const keyId of await keyring.store.dueKeys(now)) {
    keyring.invalidate({ keyId });
    const key = await keyring.get(keyId);
    if (key === undefined) continue;
    let event: ScheduledEvent | undefined;
    if (dueForDeletion(key, now)) {
      if (await keyring.deleteKey(keyId, (stored) => dueForDeletion(stored, now))) event = { eventName: 'DeleteKey', keyArn: key.arn };
    } else if (materialExpired(key, now)) {
      if ((await expireImportedMaterial(keyring, keyId, now)).expired) event = { eventName: 'DeleteExpiredKeyMaterial', keyArn: key.arn };
    } else if (dueForRotation(key, now) && await rotateIfStillDue(keyring, pool, key, now)) {
      event = { eventName: 'RotateKey', keyArn: key.arn };
    }
    if (event !== undefined) {
      events.push(event);
      await onEvent(event);
    }
  }
  return events;
}

const dueForDeletion = (key: KeyRecord, now: number): boolean =>
  key.state === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate <= now;

const dueForRotation = (key: KeyRecord, now: number): boolean => key.rotationEnabled && rotatable(key)
  && key.nextRotationDate !== undefined && key.nextRotationDate <= now && key.state === 'Enabled';

/** Refuses an automatic rotation whose key changed while its new material was being made (see rotateIfStillDue). */
class NoLongerDue extends Error {}

/**
 * An automatic rotation, judged again on the key as it is when the new material is stored: the material is made
 * in a worker first, and a DisableKeyRotation, DisableKey or ScheduleKeyDeletion that lands meanwhile must win
 * (AWS rotates neither a key whose rotation is off nor a disabled key nor one pending deletion). Whether it rotated.
 */
async function rotateIfStillDue(keyring: Keyring, pool: CryptoPool, key: KeyRecord, now: number): Promise<boolean> {
  try {
    await rotateKey(keyring, pool, key, 'AUTOMATIC', (current) => {
      if (!dueForRotation(current, now)) throw new NoLongerDue();
    });
    return true;
  } catch (error) {
    if (error instanceof NoLongerDue) return false;
    throw error;
  }
}

export function startScheduler(keyring: Keyring, pool: CryptoPool, intervalMs: number,
  onEvent: (event: ScheduledEvent) => void | Promise<void>): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    runDueWork(keyring, pool, Date.now() / 1000, onEvent)
      .catch((error: unknown) => console.error(`kms-engine: scheduled work failed: ${error instanceof Error ? error.name : 'error'}`))
      .finally(() => { running = false; });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
