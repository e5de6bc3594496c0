// Per-account request quotas, checked synchronously on every request (100k+/s): after the first request of
// an account in a class, take() is two Map lookups and a little arithmetic, with no allocation.
//
// Algorithm: a token bucket per (account, class), refilled continuously at the class's rate, holding at most
// max(rate, 1) tokens; a request takes one token or is throttled. Why not a fixed window per wall-clock second:
//  - fractional rates (0.5/s, GetParametersForImport at 1/s, China's RSA_4096 0.1/s) fall out exactly: a
//    window of one second cannot hold half a request, a bucket simply refills half a token per second;
//  - a fixed window admits 2N within one second straddling a boundary; the bucket's worst case is one burst
//    of N after idling, and under a sustained flood it admits N per second (+-1) in every second after the first;
//  - it needs no agreement on where seconds start, which matters once many nodes share quotas.
// Separately, each bucket counts what it admitted per one-second interval for the utilisation gauge.

import { THROTTLING_MESSAGE } from '../contract/errors.js';
import { type KmsError, kmsError } from '../protocol/errors.js';
import { busiestAround, countAdmission, newAdmissionCount, type AdmissionCount } from './admission-count.js';
import type { QuotaConfig } from './parse.js';

interface Bucket extends AdmissionCount {
  tokens: number;
  refilledAt: number;
}

interface ClassState {
  readonly limit: number;
  readonly tokensPerMs: number;
  readonly capacity: number;
  readonly buckets: Map<string, Bucket>;
}

export interface QuotaUsage {
  readonly quotaClass: string;
  /** Requests per second admitted per account. */
  readonly limit: number;
  /**
   * Requests the busiest account had admitted in the current one-second interval, or in the interval before
   * it when that was higher (so a scrape early in a second does not read as a dip). 0 after a quiet second.
   */
  readonly usedThisSecond: number;
}

export class QuotaLimiter {
  readonly #classes = new Map<string, ClassState>();
  readonly #now: () => number;

  /** `now` returns milliseconds; the default is monotonic so a wall-clock step cannot mint or burn tokens. */
  constructor(config: QuotaConfig, now: () => number = () => performance.now()) {
    this.#now = now;
    for (const [quotaClass, limit] of config.limits) {
      this.#classes.set(quotaClass, { limit, tokensPerMs: limit / 1000, capacity: Math.max(limit, 1), buckets: new Map() });
    }
  }

  /** Admits one request of `account` in `quotaClass` (true) or reports it throttled (false). Unlimited classes always pass. */
  take(account: string, quotaClass: string): boolean {
    const state = this.#classes.get(quotaClass);
    if (state === undefined) return true;
    const now = this.#now();
    const bucket = this.#refilled(state, account, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    countAdmission(bucket, now);
    return true;
  }

  /** Whether take() would admit the request now, spending nothing (a request charged to several classes). */
  canTake(account: string, quotaClass: string): boolean {
    const state = this.#classes.get(quotaClass);
    return state === undefined || this.#refilled(state, account, this.#now()).tokens >= 1;
  }

  #refilled(state: ClassState, account: string, now: number): Bucket {
    let bucket = state.buckets.get(account);
    if (bucket === undefined) {
      bucket = { tokens: state.capacity, refilledAt: now, ...newAdmissionCount(now) };
      state.buckets.set(account, bucket);
    } else {
      const refilled = bucket.tokens + (now - bucket.refilledAt) * state.tokensPerMs;
      bucket.tokens = refilled < state.capacity ? refilled : state.capacity;
      bucket.refilledAt = now;
    }
    return bucket;
  }

  /** The configured requests per second of a class, or undefined when it is unlimited. */
  limitOf(quotaClass: string): number | undefined {
    return this.#classes.get(quotaClass)?.limit;
  }

  /** Every limited class with its limit and current use; read at scrape time, never on the hot path. */
  snapshot(): QuotaUsage[] {
    const second = Math.floor(this.#now() / 1000);
    const usage: QuotaUsage[] = [];
    for (const [quotaClass, state] of this.#classes) {
      usage.push({ quotaClass, limit: state.limit, usedThisSecond: busiestAround(state.buckets.values(), second) });
    }
    return usage;
  }
}

/** What a throttled request answers (kms-api.md section 9): ThrottlingException, HTTP 400, AWS's message. */
export const throttlingError = (): KmsError => kmsError('ThrottlingException', THROTTLING_MESSAGE);
