// The token buckets the KMS_FRONTENDS primary keeps for its front ends (src/cluster/frontends.ts), which lease
// tokens from them over IPC exactly as nodes lease from Redis: the same arithmetic as redis-buckets.ts's
// LEASE_SCRIPT, on the primary's clock. Pure: no timers, no I/O.

interface TableBucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, the table's clock). */
  at: number;
  /** After this time (ms) the bucket is full again, so forgetting it changes nothing. */
  expiresAt: number;
}

/** Past the time a bucket takes to fill up, how long it is kept anyway (as the Redis keys' PEXPIRE). */
const KEEP_MS = 60_000;

export class TokenBucketTable {
  readonly #buckets = new Map<string, TableBucket>();

  /** `now` returns milliseconds; the default is monotonic so a wall-clock step cannot mint or burn tokens. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Charges `owed` (tokens a member admitted on credit) to `bucket`, then grants min(want, floor(tokens)) when at
   * least one token is there, else 0. A bucket starts full (`capacity`) and refills at `rate` per second up to
   * `capacity`; what was owed may take it below zero, and the debt delays the next grants.
   */
  lease(bucket: string, rate: number, capacity: number, want: number, owed: number): number {
    if (!(rate > 0) || !(capacity >= 1) || !(want >= 0) || !(owed >= 0)) return 0; // NaN and nonsense grant nothing
    const now = this.now();
    const state = this.#buckets.get(bucket);
    let tokens = state === undefined ? capacity : Math.min(capacity, state.tokens + Math.max(0, now - state.at) * rate / 1000);
    tokens -= owed;
    let granted = 0;
    if (tokens >= 1) granted = Math.min(Math.floor(want), Math.floor(tokens));
    tokens -= granted;
    const expiresAt = now + Math.ceil(capacity / rate * 1000) + KEEP_MS;
    if (state === undefined) this.#buckets.set(bucket, { tokens, at: now, expiresAt });
    else { state.tokens = tokens; state.at = now; state.expiresAt = expiresAt; }
    return granted;
  }

  /** Forgets the buckets untouched long enough to be full again; returns how many are left. */
  sweep(): number {
    const now = this.now();
    for (const [bucket, state] of this.#buckets) if (state.expiresAt <= now) this.#buckets.delete(bucket);
    return this.#buckets.size;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
