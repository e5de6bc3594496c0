// The engine's one prom-client Registry. Only the main thread observes (a registry is per thread): workers
// report job timings and key-cache counts in their results and the pipeline forwards them here once per
// request. Gauges are read from their sources at scrape time in collect(), never pushed.
//
// Hot path: observeRequest() runs on every request. Each (operation, key_spec, outcome) series is resolved
// once and kept in nested Maps (no string concatenation, so no allocation per call), and the histograms are
// FastHistogram (fast-histogram.ts) rather than prom-client's, whose observe hashes labels on every call.
//
// With KMS_FRONTENDS > 1 each front end has its own registry and /metrics sums them (src/cluster/frontends.ts,
// prom-client's AggregatorRegistry): counters and histograms add up; each gauge says how it combines
// (`aggregator`) where a sum would be wrong.

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { isKmsErrorCode } from '../contract/errors.js';
import { isKeySpec } from '../contract/key-specs.js';
import { KMS_OPERATIONS } from '../quota/classes.js';
import { KEY_STATES } from '../store/types.js';
import { HTTP_REFUSAL_CODES, type HttpRefusalCode } from '../http-refusals.js';
import { FastHistogram, type HistogramChild } from './fast-histogram.js';

export interface PoolStats {
  queueDepth: number;
  inFlight: number;
  workers: number;
  /** Share of worker capacity busy, 0..1. */
  utilization: number;
}

export interface MetricSources {
  poolStats?: () => PoolStats;
  keysByState?: () => Record<string, number>;
  auditLagSeconds?: () => number;
  quotaSnapshot?: () => Array<{ quotaClass: string; limit: number; usedThisSecond: number }>;
}

export interface Metrics {
  /** One finished KMS request. keySpec is '' when the request had no key; outcome is 'ok', the error code or 'reset'. */
  observeRequest(operation: string, keySpec: string, outcome: string, seconds: number): void;
  /** One request refused at the HTTP layer (src/http-refusals.ts), before the pipeline, with this error code. */
  httpRefused(code: HttpRefusalCode): void;
  /** One request refused with ThrottlingException by the quota of this class. */
  throttled(quotaClass: string): void;
  /** One worker job: time queued before a worker took it, and time it ran. */
  observePoolJob(waitSeconds: number, runSeconds: number, operation: string): void;
  /** Key-cache counts a worker reported since its last report. */
  keyCache(hits: number, misses: number, evictions: number): void;
  /** The Prometheus text exposition for GET /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
  readonly registry: Registry;
}

/** Every metric family this module defines (process_* and nodejs_* come from collectDefaultMetrics). */
export const METRIC_NAMES = {
  requestDuration: 'kms_request_duration_seconds',
  throttled: 'kms_throttled_requests_total',
  httpRefused: 'kms_http_refused_requests_total',
  quotaLimit: 'kms_quota_limit_requests_per_second',
  quotaUtilization: 'kms_quota_utilization_ratio',
  poolQueueDepth: 'kms_pool_queue_depth',
  poolInFlight: 'kms_pool_in_flight_tasks',
  poolWorkers: 'kms_pool_workers',
  poolUtilization: 'kms_pool_utilization_ratio',
  poolJobWait: 'kms_pool_job_wait_seconds',
  poolJobRun: 'kms_pool_job_run_seconds',
  keyCacheHits: 'kms_key_cache_hits_total',
  keyCacheMisses: 'kms_key_cache_misses_total',
  keyCacheEvictions: 'kms_key_cache_evictions_total',
  keys: 'kms_keys',
  auditLag: 'kms_audit_lag_seconds',
} as const;

/** prom-client's event-loop lag gauges (nodejs_eventloop_lag_min_seconds keeps its minimum, _stddev its mean). */
const WORST_FRONT_END_LAG = ['seconds', 'mean_seconds', 'p50_seconds', 'p90_seconds', 'p99_seconds', 'max_seconds']
  .map((suffix) => `nodejs_eventloop_lag_${suffix}`);

/**
 * 50 us .. 30 s: an AES-GCM job is tens of microseconds, an RSA-4096 sign a few ms, a queued burst seconds, and a
 * request waiting on an unreachable PostgreSQL up to 7 s (connect and query timeouts) or on a slow client's body
 * up to KMS_REQUEST_TIMEOUT_MS (30 s). Past the last bound histogram_quantile() can only answer that bound, so a
 * p99 topping out at 5 s would hide exactly the incidents where latency is the story.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

// Label values outside these sets (an unknown operation name from a client's X-Amz-Target, say) are folded
// into one value, so a client cannot create series at will.
const UNKNOWN = 'unknown';
const OTHER_OUTCOME = 'other';
/** The outcome of a request KMS_FAULTS answered by resetting its connection: received, never answered. */
export const RESET_OUTCOME = 'reset';
const operationLabel = (operation: string): string => KMS_OPERATIONS.has(operation) ? operation : UNKNOWN;
const keySpecLabel = (keySpec: string): string => keySpec === '' || isKeySpec(keySpec) ? keySpec : UNKNOWN;
const outcomeLabel = (outcome: string): string =>
  outcome === 'ok' || outcome === RESET_OUTCOME || isKmsErrorCode(outcome) ? outcome : OTHER_OUTCOME;

export function createMetrics(sources: MetricSources = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Summed over KMS_FRONTENDS front ends, prom-client averages event-loop lag: one front end stalled beside an
  // idle one showed half its lag. The worst front end's is the one that holds its requests back.
  // And it leaves process_start_time_seconds out of the sum altogether, so restarts could not be seen or alerted
  // on (changes(process_start_time_seconds[1h])): the newest front end's start shows a replaced one.
  for (const name of [...WORST_FRONT_END_LAG, 'process_start_time_seconds']) {
    const metric = registry.getSingleMetric(name) as { aggregator?: string } | undefined;
    if (metric !== undefined) metric.aggregator = 'max';
  }

  const requestDuration = new FastHistogram(METRIC_NAMES.requestDuration,
    'KMS requests by operation, key spec and outcome (ok, the error code, or reset: a KMS_FAULTS connection reset), from receipt to response.',
    ['operation', 'key_spec', 'outcome'], DURATION_BUCKETS, registry);
  const poolJobWait = new FastHistogram(METRIC_NAMES.poolJobWait,
    'Time a worker job waited in the pool queue before a worker started it.', ['operation'], DURATION_BUCKETS, registry);
  const poolJobRun = new FastHistogram(METRIC_NAMES.poolJobRun,
    'Time a worker job ran on its worker.', ['operation'], DURATION_BUCKETS, registry);

  const throttledRequests = new Counter({
    name: METRIC_NAMES.throttled,
    help: 'Requests refused with ThrottlingException, by the quota class that refused them.',
    labelNames: ['quota_class'] as const,
    registers: [registry],
    // Every limited class starts at 0, so rate() reads 0 rather than "no data" before the first throttle.
    collect() {
      for (const { quotaClass } of sources.quotaSnapshot?.() ?? []) this.inc({ quota_class: quotaClass }, 0);
    },
  });
  const httpRefused = new Counter({
    name: METRIC_NAMES.httpRefused,
    help: 'Requests refused at the HTTP layer before any KMS operation ran (deadline missed, not HTTP, headers too large, ...), by AWS error code.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const code of HTTP_REFUSAL_CODES) httpRefused.inc({ outcome: code }, 0); // 0, not "no data", until the first

  new Gauge({
    name: METRIC_NAMES.quotaLimit,
    help: 'Configured request quota per account, in requests per second, by quota class.',
    labelNames: ['quota_class'] as const,
    registers: [registry],
    aggregator: 'max', // the same configured limit in every front end
    collect() {
      this.reset();
      for (const { quotaClass, limit } of sources.quotaSnapshot?.() ?? []) this.set({ quota_class: quotaClass }, limit);
    },
  });
  new Gauge({
    name: METRIC_NAMES.quotaUtilization,
    help: 'Busiest account\'s requests in the current second over the quota, by quota class (1 = at the limit).',
    labelNames: ['quota_class'] as const,
    registers: [registry],
    // Summed over KMS_FRONTENDS front ends: they spend one shared bucket, so their shares of it add up.
    aggregator: 'sum',
    collect() {
      this.reset();
      for (const { quotaClass, limit, usedThisSecond } of sources.quotaSnapshot?.() ?? []) {
        this.set({ quota_class: quotaClass }, usedThisSecond / limit);
      }
    },
  });

  const poolGauge = (name: string, help: string, read: (stats: PoolStats) => number, aggregator: 'sum' | 'average' = 'sum'): void => {
    new Gauge({
      name, help, registers: [registry], aggregator,
      collect() {
        const stats = sources.poolStats?.();
        if (stats !== undefined) this.set(read(stats));
      },
    });
  };
  poolGauge(METRIC_NAMES.poolQueueDepth, 'Worker jobs queued, waiting for a worker.', (s) => s.queueDepth);
  poolGauge(METRIC_NAMES.poolInFlight, 'Worker tasks running on workers.', (s) => s.inFlight);
  poolGauge(METRIC_NAMES.poolWorkers, 'Crypto worker threads.', (s) => s.workers);
  poolGauge(METRIC_NAMES.poolUtilization, 'Share of worker capacity busy (0..1).', (s) => s.utilization, 'average');

  const keyCacheHits = new Counter({ name: METRIC_NAMES.keyCacheHits, help: 'Key-cache lookups (workers and the inline lane) that found the unwrapped key.', registers: [registry] });
  const keyCacheMisses = new Counter({ name: METRIC_NAMES.keyCacheMisses, help: 'Key-cache lookups (workers and the inline lane) that had to unwrap the key.', registers: [registry] });
  const keyCacheEvictions = new Counter({ name: METRIC_NAMES.keyCacheEvictions, help: 'Keys dropped from the key caches of workers and the inline lane (size, age or use limits).', registers: [registry] });

  new Gauge({
    name: METRIC_NAMES.keys,
    help: 'KMS keys by key state.',
    labelNames: ['key_state'] as const,
    registers: [registry],
    aggregator: 'max', // every front end counts the same store
    collect() {
      if (sources.keysByState === undefined) return;
      this.reset();
      // Every state, 0 when no key is in it: a series that vanished when its last key left the state (the last
      // pending deletion done) would hold its last count on a graph, and an alert on it could never resolve to 0.
      const counts = sources.keysByState();
      for (const state of KEY_STATES) this.set({ key_state: state }, counts[state] ?? 0);
      for (const [state, count] of Object.entries(counts)) if (!(KEY_STATES as readonly string[]).includes(state)) this.set({ key_state: state }, count);
    },
  });
  new Gauge({
    name: METRIC_NAMES.auditLag,
    help: 'Age of the oldest audit record not yet durably written.',
    registers: [registry],
    aggregator: 'max', // the oldest over every front end's log
    collect() {
      if (sources.auditLagSeconds !== undefined) this.set(sources.auditLagSeconds());
    },
  });

  // operation -> key_spec -> outcome -> child
  const requestChildren = new Map<string, Map<string, Map<string, HistogramChild>>>();
  const requestChild = (operation: string, keySpec: string, outcome: string): HistogramChild => {
    let bySpec = requestChildren.get(operation);
    if (bySpec === undefined) {
      const label = operationLabel(operation);
      if (label !== operation) return requestChild(label, keySpec, outcome);
      bySpec = new Map();
      requestChildren.set(operation, bySpec);
    }
    let byOutcome = bySpec.get(keySpec);
    if (byOutcome === undefined) {
      const label = keySpecLabel(keySpec);
      if (label !== keySpec) return requestChild(operation, label, outcome);
      byOutcome = new Map();
      bySpec.set(keySpec, byOutcome);
    }
    let child = byOutcome.get(outcome);
    if (child === undefined) {
      const label = outcomeLabel(outcome);
      if (label !== outcome) return requestChild(operation, keySpec, label);
      child = requestDuration.child(operation, keySpec, outcome);
      byOutcome.set(outcome, child);
    }
    return child;
  };

  const jobChildren = new Map<string, { wait: HistogramChild; run: HistogramChild }>();
  const jobChild = (operation: string): { wait: HistogramChild; run: HistogramChild } => {
    let children = jobChildren.get(operation);
    if (children === undefined) {
      const label = operationLabel(operation);
      if (label !== operation) return jobChild(label);
      children = { wait: poolJobWait.child(operation), run: poolJobRun.child(operation) };
      jobChildren.set(operation, children);
    }
    return children;
  };

  const throttleChildren = new Map<string, { inc(): void }>();

  return {
    registry,
    observeRequest(operation, keySpec, outcome, seconds) {
      requestChild(operation, keySpec, outcome).observe(seconds);
    },
    httpRefused(code) {
      httpRefused.inc({ outcome: code });
    },
    throttled(quotaClass) {
      let child = throttleChildren.get(quotaClass);
      if (child === undefined) {
        child = throttledRequests.labels(quotaClass);
        throttleChildren.set(quotaClass, child);
      }
      child.inc();
    },
    observePoolJob(waitSeconds, runSeconds, operation) {
      const children = jobChild(operation);
      children.wait.observe(waitSeconds);
      children.run.observe(runSeconds);
    },
    keyCache(hits, misses, evictions) {
      if (hits > 0) keyCacheHits.inc(hits);
      if (misses > 0) keyCacheMisses.inc(misses);
      if (evictions > 0) keyCacheEvictions.inc(evictions);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
