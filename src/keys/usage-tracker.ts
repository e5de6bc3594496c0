// GetKeyLastUsage's memory: each key's newest successful cryptographic use. A request only notes its use here,
// in a map (no store access on the request path); a timer saves what was noted in batches, first noted first,
// so a busy key reaches the store about once per interval, and one flush holds the main thread for at most one
// batch (better-sqlite3 writes synchronously). Reads combine the store with what still waits here, so this
// process answers with its own latest use at once; other front ends and nodes see it once saved (within a
// second while few keys are busy), which is the eventual consistency AWS documents for GetKeyLastUsage.
import kmsModel from '../protocol/kms-model.json' with { type: 'json' };
import type { KeyStore, KeyUsageRecord } from '../store/types.js';
import { IdPairSlots, slottable } from './id-slots.js';

/** The operations whose success is a use: the model's KeyLastUsageTrackingOperation, read from the model itself. */
export const TRACKED_OPERATIONS: ReadonlySet<string> = new Set(kmsModel.shapes.KeyLastUsageTrackingOperation.enum);

export interface UsageTrackerOptions {
  /** How often waiting uses are saved (ms). */
  flushIntervalMs?: number;
  /** At most this many keys' uses per save. */
  flushBatch?: number;
}

type UsageStore = Pick<KeyStore, 'recordKeyUsage' | 'getKeyUsage' | 'usageTrackingStart'>;

const newer = (a: KeyUsageRecord | undefined, b: KeyUsageRecord | undefined): KeyUsageRecord | undefined =>
  a === undefined ? b : b === undefined || a.usedAt >= b.usedAt ? a : b;

/**
 * A use not yet saved, updated in place by each later use of its key. Its event and request ids sit in #ids
 * (id-slots.ts: no per-request string outlives its request), or, should they not fit a slot, in the fields.
 */
interface WaitingUse {
  readonly keyId: string;
  operation: string;
  usedAt: number;
  /** -1: the ids are in eventId/requestId. */
  slot: number;
  eventId: string;
  requestId: string;
}

export class KeyUsageTracker {
  /** Uses not yet handed to the store, one per key, in the order their keys were first noted since their last save. */
  readonly #waiting = new Map<string, WaitingUse>();
  readonly #ids = new IdPairSlots();
  /** Uses in the write under way: still read from here until it settles. */
  readonly #saving = new Map<string, KeyUsageRecord>();
  #flushing: Promise<void> | undefined;
  #trackingStart: Promise<number> | undefined;
  /** Whether the last save failed: the failure is logged once, and the recovery. */
  #failing = false;
  readonly #timer: NodeJS.Timeout;
  readonly #intervalMs: number;

  constructor(private readonly store: UsageStore, options: UsageTrackerOptions = {}) {
    // At most 200 keys' uses a second reach the store. 200 upserts hold the main thread ~1 ms with SQLite here
    // (500: 3 ms, 2,000: 9 ms). Four flushes a second of 200 cost run-targets' Encrypt over 10,000 of 100,000
    // keys ~10% of its requests per CPU-second (spread / one key 0.686, against 0.793 before tracking); one
    // flush a second, 0.799: each upsert dirties pages SQLite must write to its WAL and checkpoint.
    this.#intervalMs = options.flushIntervalMs ?? 1000;
    const batch = options.flushBatch ?? 200;
    this.#timer = setInterval(() => void this.flush(batch), this.#intervalMs);
    this.#timer.unref();
  }

  /** A successful tracked call used these keys (their ARNs, as its audit record lists them). */
  note(keyArns: readonly string[], operation: string, usedAt: number, eventId: string, requestId: string): void {
    for (const arn of keyArns) {
      const keyId = arn.slice(arn.lastIndexOf('/') + 1);
      const waiting = this.#waiting.get(keyId);
      if (waiting === undefined) {
        this.#waiting.set(keyId, this.#waitingUse(keyId, operation, usedAt, eventId, requestId));
      } else {
        // Updated in place: no allocation per request for a busy key. (Entries being saved left this map.)
        waiting.operation = operation;
        waiting.usedAt = usedAt;
        this.#setIds(waiting, eventId, requestId);
      }
    }
  }

  #waitingUse(keyId: string, operation: string, usedAt: number, eventId: string, requestId: string): WaitingUse {
    const waiting: WaitingUse = { keyId, operation, usedAt, slot: -1, eventId: '', requestId: '' };
    this.#setIds(waiting, eventId, requestId);
    return waiting;
  }

  #setIds(use: WaitingUse, eventId: string, requestId: string): void {
    if (slottable(eventId) && slottable(requestId)) {
      if (use.slot < 0) {
        use.slot = this.#ids.take();
        use.eventId = use.requestId = '';
      }
      this.#ids.write(use.slot, eventId, requestId);
    } else {
      this.#release(use);
      use.eventId = eventId;
      use.requestId = requestId;
    }
  }

  #release(use: WaitingUse): void {
    if (use.slot < 0) return;
    this.#ids.release(use.slot);
    use.slot = -1;
  }

  /** The waiting use as the store takes it. */
  #record(use: WaitingUse): KeyUsageRecord {
    const slotted = use.slot >= 0;
    return {
      keyId: use.keyId, operation: use.operation, usedAt: use.usedAt,
      eventId: slotted ? this.#ids.first(use.slot) : use.eventId,
      requestId: slotted ? this.#ids.second(use.slot) : use.requestId,
    };
  }

  /** The key's newest use: saved (by any process) or noted here. */
  async lastUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const stored = await this.store.getKeyUsage(keyId);
    const waiting = this.#waiting.get(keyId);
    const newest = newer(newer(waiting && this.#record(waiting), this.#saving.get(keyId)), stored);
    return newest === undefined ? undefined : { ...newest };
  }

  /** When the store began tracking (epoch seconds); fixed once known. */
  trackingStart(): Promise<number> {
    this.#trackingStart ??= this.store.usageTrackingStart().catch((error: unknown) => {
      this.#trackingStart = undefined;
      throw error;
    });
    return this.#trackingStart;
  }

  /** Saves up to `limit` waiting uses (all by default). One save at a time: a call during one joins it. */
  flush(limit = Infinity): Promise<void> {
    this.#flushing ??= this.#save(limit).finally(() => { this.#flushing = undefined; });
    return this.#flushing;
  }

  /** Stops the timer and saves everything still waiting. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }

  async #save(limit: number): Promise<void> {
    if (this.#waiting.size === 0) return;
    const batch: KeyUsageRecord[] = [];
    for (const [keyId, waiting] of this.#waiting) {
      if (batch.length >= limit) break;
      const use = this.#record(waiting);
      this.#release(waiting);
      batch.push(use);
      this.#saving.set(keyId, use);
      this.#waiting.delete(keyId);
    }
    try {
      await this.store.recordKeyUsage(batch);
      if (this.#failing) console.error('kms-engine: key usage is being saved again');
      this.#failing = false;
    } catch (error) {
      // Kept for the next save, unless the key was used again meanwhile (that newer use is waiting already).
      for (const use of batch) {
        if (this.#waiting.has(use.keyId)) continue;
        this.#waiting.set(use.keyId, this.#waitingUse(use.keyId, use.operation, use.usedAt, use.eventId, use.requestId));
      }
      if (!this.#failing) {
        const reason = (error as { code?: string }).code ?? (error instanceof Error ? error.name : typeof error);
        console.error(`kms-engine: key usage could not be saved (${reason}); retrying every ${this.#intervalMs} ms`);
      }
      this.#failing = true;
    } finally {
      for (const use of batch) if (this.#saving.get(use.keyId) === use) this.#saving.delete(use.keyId);
    }
  }
}
