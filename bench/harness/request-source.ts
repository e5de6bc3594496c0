// What a load generator sends next, whichever loader sends it (autocannon closed loop or bursts, or the paced
// open loop): the weighted schedule over the workload's items, their pre-signed pools, and the envelope's
// follow-up Decrypt (signed at send time, since its ciphertext is only known once the GenerateDataKey answered).
// Every response goes through onResponse, which counts it and captures what a follow-up needs.
import type { LoadRecorder } from './recorder.js';
import type { Workload, WorkloadItem } from './scenarios.js';
import { PresignedPool, RESIGN_INTERVAL_MS, type RequestSigner, type WireRequest } from './signer.js';

/** Per-connection (autocannon) or per-chain (paced) state between the steps of one request chain. */
export interface ChainContext {
  item?: WorkloadItem;
  operation?: string;
  followUp?: { CiphertextBlob: string; KeyId: string };
}

/** Expands weights into a schedule: encrypt=3,decrypt=1 -> [0, 0, 0, 1]; picked round robin. */
const scheduleOf = (items: readonly WorkloadItem[]): number[] =>
  items.flatMap((item, index) => Array.from({ length: item.weight }, () => index));

export class RequestSource {
  private readonly pools: Map<WorkloadItem, PresignedPool>;
  private readonly schedule: number[];
  private cursor = 0;
  /** Whether some item is followed by a Decrypt of its answer (the envelope). */
  readonly chained: boolean;

  constructor(private readonly workload: Workload, private readonly signer: RequestSigner,
    private readonly recorder: LoadRecorder) {
    this.pools = new Map(workload.items.map((item) => [item, new PresignedPool(signer, item.operation, item.bodies)]));
    this.schedule = scheduleOf(workload.items);
    this.chained = workload.items.some((item) => item.decryptFollowUp);
  }

  /** The next scheduled request: the weighted schedule picks the item, its pool the pre-signed body. */
  first(chain: ChainContext): WireRequest {
    const item = this.workload.items[this.schedule[this.cursor]!]!;
    this.cursor = (this.cursor + 1) % this.schedule.length;
    chain.item = item;
    chain.operation = item.operation;
    chain.followUp = undefined;
    return this.pools.get(item)!.next();
  }

  /** The envelope's Decrypt of the ciphertext the last answer carried, or undefined when the chain is done. */
  followUp(chain: ChainContext): WireRequest | undefined {
    const followUp = chain.followUp;
    const encryptionContext = chain.item?.decryptFollowUp?.encryptionContext;
    if (!followUp || !encryptionContext) return undefined;
    chain.operation = 'Decrypt';
    chain.followUp = undefined;
    const body = JSON.stringify({ CiphertextBlob: followUp.CiphertextBlob, KeyId: followUp.KeyId,
      EncryptionContext: encryptionContext });
    return this.signer.sign('Decrypt', body);
  }

  /** Counts one response and, after an envelope's 2xx GenerateDataKey, keeps what its Decrypt needs. */
  onResponse(chain: ChainContext, status: number, body: string): void {
    this.recorder.recordResponse(chain.operation ?? 'unknown', status, body);
    if (chain.item?.decryptFollowUp && chain.operation === chain.item.operation && status >= 200 && status < 300) {
      try {
        const parsed = JSON.parse(body) as { CiphertextBlob?: unknown; KeyId?: unknown };
        if (typeof parsed.CiphertextBlob === 'string' && typeof parsed.KeyId === 'string') {
          chain.followUp = { CiphertextBlob: parsed.CiphertextBlob, KeyId: parsed.KeyId };
        }
      } catch {
        // A 2xx that is not JSON cannot be chained; the next request starts a new chain.
      }
    }
  }

  /** Keeps every pool's signatures fresh while a run lasts; returns the function that stops it. */
  keepSigned(): () => void {
    const timer = setInterval(() => { for (const pool of this.pools.values()) pool.resign(); }, RESIGN_INTERVAL_MS);
    return () => clearInterval(timer);
  }
}
