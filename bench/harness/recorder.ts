// Counts what one load generator saw: every response by status, operation and AWS error code, latencies in an
// HDR histogram (microseconds), and a per-second series for the over-time charts. Results are plain data (the
// histograms travel HDR-encoded) so worker threads can post them and the parent can merge them exactly.
import * as hdr from 'hdr-histogram-js';

export interface OperationCounts {
  ok: number;
  errors: number;
}

export interface SecondSample {
  /** Whole seconds since this load generator started. */
  second: number;
  responses: number;
  ok: number;
  errors: number;
  /** HDR histogram of this second's latencies, microseconds, compressed base64. */
  histogram: string;
}

export interface LoadResult {
  elapsedMs: number;
  responses: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts: requests that got no HTTP response at all. */
  transportErrors: number;
  timeouts: number;
  /** Transport errors by cause: the socket error's code (ECONNREFUSED, ECONNRESET...), `timeout`, or its message. */
  transportErrorCauses: Record<string, number>;
  statusCounts: Record<string, number>;
  /** Non-2xx responses by the `__type` of their JSON body (`HTTP_<status>` when the body names none). */
  errorCodes: Record<string, number>;
  operations: Record<string, OperationCounts>;
  /** HDR histogram of all latencies, microseconds, compressed base64. */
  latency: string;
  series: SecondSample[];
  signatures: number;
  signingMicros: number;
  /**
   * Paced open loop only: how late the generator issued each request against its schedule, microseconds, HDR
   * compressed base64. Small lag means the latencies are the server's, not the generator's.
   */
  sendLag?: string;
}

export interface LatencySummaryMs {
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
  mean: number;
}

// 1 us .. 60 s at 3 significant digits; autoResize keeps a pathological outlier from throwing.
const newHistogram = (): hdr.Histogram =>
  hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3, autoResize: true });

const encode = (histogram: hdr.Histogram): string => hdr.encodeIntoCompressedBase64(histogram);
const decode = (encoded: string): hdr.Histogram => hdr.decodeFromCompressedBase64(encoded, 32);

/** What a transport error is counted under: `timeout`, the socket error's code (ECONNREFUSED...), or its message. */
export function transportCauseOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message === 'request timed out') return 'timeout';
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && code.length > 0 ? code : error.message;
}

/** The AWS error code of a non-2xx body: `__type` (or `code`), namespace and Coral suffix stripped. */
export function errorCodeOf(status: number, body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      const raw = record.__type ?? record.code;
      if (typeof raw === 'string' && raw.length > 0) {
        const afterHash = raw.slice(raw.lastIndexOf('#') + 1);
        return afterHash.split(/[:,]/)[0] ?? afterHash;
      }
    }
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): fall through to the status.
  }
  return `HTTP_${status}`;
}

interface SecondBucket {
  responses: number;
  ok: number;
  errors: number;
  histogram: hdr.Histogram;
}

export class LoadRecorder {
  private startedAt = Date.now();
  private responses = 0;
  private ok = 0;
  private non2xx = 0;
  private transportErrors = 0;
  private timeouts = 0;
  private readonly transportErrorCauses: Record<string, number> = {};
  private readonly statusCounts: Record<string, number> = {};
  private readonly errorCodes: Record<string, number> = {};
  private readonly operations: Record<string, OperationCounts> = {};
  private readonly latency = newHistogram();
  private readonly seconds: SecondBucket[] = [];
  private signatures = 0;
  private signingMicros = 0;
  private sendLag?: hdr.Histogram;

  /**
   * Starts elapsed time and the per-second series again from now: the paced loader calls it when its schedule
   * starts, after the lead-ins on its connections (not recorded), so opening and warming them (TLS handshakes to a
   * distant endpoint, a slow first answer) neither lowers the reported rate nor shifts the series.
   */
  startClock(): void {
    this.startedAt = Date.now();
  }

  /** One HTTP response, from autocannon's onResponse (status and body, before the latency event). */
  recordResponse(operation: string, status: number, body: string): void {
    const success = status >= 200 && status < 300;
    this.responses++;
    this.statusCounts[status] = (this.statusCounts[status] ?? 0) + 1;
    const counts = (this.operations[operation] ??= { ok: 0, errors: 0 });
    const bucket = this.bucket();
    bucket.responses++;
    if (success) {
      this.ok++;
      counts.ok++;
      bucket.ok++;
    } else {
      this.non2xx++;
      counts.errors++;
      bucket.errors++;
      const code = errorCodeOf(status, body);
      this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1;
    }
  }

  /** The latency of the response just recorded, in milliseconds as autocannon measures it. */
  recordLatency(milliseconds: number): void {
    const micros = Math.max(1, Math.round(milliseconds * 1000));
    this.latency.recordValue(micros);
    this.bucket().histogram.recordValue(micros);
  }

  /**
   * One request that got no HTTP response. `operation` is the one it carried: counted among that operation's
   * errors, so the per-operation counts add up to the requests sent (a reset Encrypt is a failed Encrypt).
   */
  recordTransportError(timedOut: boolean, cause = timedOut ? 'timeout' : 'unknown', operation?: string): void {
    this.transportErrors++;
    if (timedOut) this.timeouts++;
    this.transportErrorCauses[cause] = (this.transportErrorCauses[cause] ?? 0) + 1;
    if (operation !== undefined) (this.operations[operation] ??= { ok: 0, errors: 0 }).errors++;
  }

  recordSendLag(micros: number): void {
    (this.sendLag ??= newHistogram()).recordValue(Math.max(1, Math.round(micros)));
  }

  recordSigning(micros: number): void {
    this.signatures++;
    this.signingMicros += micros;
  }

  /** Cumulative counters for the progress line. */
  progress(): { elapsedMs: number; responses: number; ok: number; non2xx: number; transportErrors: number } {
    return { elapsedMs: Date.now() - this.startedAt, responses: this.responses, ok: this.ok, non2xx: this.non2xx,
      transportErrors: this.transportErrors };
  }

  result(): LoadResult {
    const series: SecondSample[] = [];
    this.seconds.forEach((bucket, second) => {
      if (bucket) series.push({ second, responses: bucket.responses, ok: bucket.ok, errors: bucket.errors,
        histogram: encode(bucket.histogram) });
    });
    return {
      elapsedMs: Date.now() - this.startedAt, responses: this.responses, ok: this.ok, non2xx: this.non2xx,
      transportErrors: this.transportErrors, timeouts: this.timeouts,
      transportErrorCauses: { ...this.transportErrorCauses }, statusCounts: { ...this.statusCounts },
      errorCodes: { ...this.errorCodes }, operations: structuredClone(this.operations), latency: encode(this.latency),
      series, signatures: this.signatures, signingMicros: this.signingMicros,
      ...(this.sendLag ? { sendLag: encode(this.sendLag) } : {}),
    };
  }

  private bucket(): SecondBucket {
    const second = Math.floor((Date.now() - this.startedAt) / 1000);
    return (this.seconds[second] ??= { responses: 0, ok: 0, errors: 0, histogram: newHistogram() });
  }
}

const addCounts = (into: Record<string, number>, from: Record<string, number>): void => {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
};

function addEncoded(encoded: readonly string[]): string {
  const total = newHistogram();
  for (const one of encoded) total.add(decode(one));
  return encode(total);
}

/**
 * Merges results of generators that ran side by side (worker threads): counts add, histograms add bucket by
 * bucket (never averaging percentiles), seconds line up by index, elapsed is the longest.
 */
export function mergeConcurrent(results: readonly LoadResult[]): LoadResult {
  return combine(results, (result) => result.series, Math.max(0, ...results.map((r) => r.elapsedMs)));
}

/**
 * Joins results of one target measured in consecutive segments (compare rounds): counts and histograms add,
 * the series are laid end to end, elapsed times add.
 */
export function mergeSequential(results: readonly LoadResult[]): LoadResult {
  let offset = 0;
  return combine(results, (result) => {
    const shifted = result.series.map((sample) => ({ ...sample, second: sample.second + offset }));
    offset += Math.max(Math.ceil(result.elapsedMs / 1000), ...result.series.map((s) => s.second + 1));
    return shifted;
  }, results.reduce((sum, r) => sum + r.elapsedMs, 0));
}

function combine(results: readonly LoadResult[], seriesOf: (result: LoadResult) => SecondSample[],
  elapsedMs: number): LoadResult {
  const merged: LoadResult = {
    elapsedMs, responses: 0, ok: 0, non2xx: 0, transportErrors: 0, timeouts: 0, transportErrorCauses: {}, statusCounts: {}, errorCodes: {},
    operations: {}, latency: '', series: [], signatures: 0, signingMicros: 0,
  };
  const bySecond = new Map<number, SecondSample[]>();
  for (const result of results) {
    merged.responses += result.responses;
    merged.ok += result.ok;
    merged.non2xx += result.non2xx;
    merged.transportErrors += result.transportErrors;
    merged.timeouts += result.timeouts;
    merged.signatures += result.signatures;
    merged.signingMicros += result.signingMicros;
    addCounts(merged.transportErrorCauses, result.transportErrorCauses);
    addCounts(merged.statusCounts, result.statusCounts);
    addCounts(merged.errorCodes, result.errorCodes);
    for (const [operation, counts] of Object.entries(result.operations)) {
      const into = (merged.operations[operation] ??= { ok: 0, errors: 0 });
      into.ok += counts.ok;
      into.errors += counts.errors;
    }
    for (const sample of seriesOf(result)) {
      const list = bySecond.get(sample.second) ?? [];
      list.push(sample);
      bySecond.set(sample.second, list);
    }
  }
  merged.latency = addEncoded(results.map((r) => r.latency));
  const lags = results.flatMap((r) => (r.sendLag === undefined ? [] : [r.sendLag]));
  if (lags.length > 0) merged.sendLag = addEncoded(lags);
  merged.series = [...bySecond.entries()].sort(([a], [b]) => a - b).map(([second, samples]) => ({
    second,
    responses: samples.reduce((sum, s) => sum + s.responses, 0),
    ok: samples.reduce((sum, s) => sum + s.ok, 0),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    histogram: samples.length === 1 ? samples[0]!.histogram : addEncoded(samples.map((s) => s.histogram)),
  }));
  return merged;
}

/** Percentiles of an encoded microsecond histogram, in milliseconds. */
export function latencySummary(encoded: string): LatencySummaryMs {
  const histogram = decode(encoded);
  const ms = (micros: number): number => Math.round(micros) / 1000;
  if (histogram.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0, mean: 0 };
  return {
    p50: ms(histogram.getValueAtPercentile(50)), p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)), p99_9: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue), mean: ms(histogram.mean),
  };
}
