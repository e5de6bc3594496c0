// Scheduled work: keys whose deletion window has passed are deleted (with their material, aliases and
// grants), imported material past its ValidTo is deleted, and keys due for automatic rotation are rotated.
// Runs on a timer on the main thread; each pass asks the store for due keys only, so it costs nothing while
// nothing is due.
import type { CryptoPool } from '../pool/crypto-pool.js';
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
    if (key.state === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate <= now) {
      await keyring.deleteKey(keyId);
      event = { eventName: 'DeleteKey', keyArn: key.arn };
    } else if (materialExpired(key, now)) {
      if ((await expireImportedMaterial(keyring, keyId, now)).expired) event = { eventName: 'DeleteExpiredKeyMaterial', keyArn: key.arn };
    } else if (key.rotationEnabled && rotatable(key) && key.nextRotationDate !== undefined && key.nextRotationDate <= now
      && key.state === 'Enabled') {
      await rotateKey(keyring, pool, key, 'AUTOMATIC');
      event = { eventName: 'RotateKey', keyArn: key.arn };
    }
    if (event !== undefined) {
      events.push(event);
      await onEvent(event);
    }
  }
  return events;
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
