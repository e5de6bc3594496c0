// What a bucket (QuotaLimiter) or lease (LeasedQuotaLimiter) admitted per one-second interval, for the quota
// utilisation gauge. Counting is on the hot path, so it mutates in place and allocates nothing.

export interface AdmissionCount {
  /** Index of the one-second interval `admitted` counts, and what the interval before it admitted. */
  second: number;
  admitted: number;
  admittedBefore: number;
}

export const newAdmissionCount = (nowMs: number): AdmissionCount =>
  ({ second: Math.floor(nowMs / 1000), admitted: 0, admittedBefore: 0 });

/** Counts one admitted request at `nowMs`. */
export function countAdmission(count: AdmissionCount, nowMs: number): void {
  const second = Math.floor(nowMs / 1000);
  if (second !== count.second) {
    count.admittedBefore = second === count.second + 1 ? count.admitted : 0;
    count.admitted = 0;
    count.second = second;
  }
  count.admitted += 1;
}

/**
 * Requests admitted in interval `second`, or in the one before when that was higher (so a scrape early in a
 * second does not read as a dip); 0 after a quiet second.
 */
function admittedAround(count: AdmissionCount, second: number): number {
  if (count.second === second) return Math.max(count.admitted, count.admittedBefore);
  return count.second === second - 1 ? count.admitted : 0;
}

/** The busiest of `counts` around interval `second` (admittedAround), 0 when there are none. */
export function busiestAround(counts: Iterable<AdmissionCount>, second: number): number {
  let busiest = 0;
  for (const count of counts) {
    const used = admittedAround(count, second);
    if (used > busiest) busiest = used;
  }
  return busiest;
}
