// /metrics with KMS_FRONTENDS > 1: the primary sums every front end's registry (prom-client AggregatorRegistry)
// and keeps the sums of counters and histograms from ever going down. Prometheus reads any decrease of a counter
// (or of a histogram's buckets, sum or count) as the target restarting and takes the whole new value as the
// increase: a front end missing from one scrape's sum (it answered the primary too late, or died and was
// replaced and starts again from 0) made rate() and increase() of every request, error and throttle series jump
// by the other front ends' whole totals, so error-rate alerts fired on a front end's restart.
//
// So each front end's last collected registry is kept. One that does not answer a collection counts with its
// last counters and histograms (its gauges are left out: they would describe a moment ago); one that exits leaves
// its last counters and histograms behind, added to every later sum. What a front end counted after its last
// collection and before it died is lost, never subtracted.
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type Collected = Array<MetricObjectWithValues<MetricValue<string>>>;
type Family = Collected[number];

/** Counters and histograms: the families whose series only grow while their process lives. */
const isCumulative = (family: Family): boolean => {
  const type: string = family.type as unknown as string; // the JSON's word ('counter'), whatever the typings' enum says
  return type === 'counter' || type === 'histogram';
};

/** Adds `family`'s values to `into`'s, series by series (the series name and its labels). */
function addFamily(into: Map<string, Family>, family: Family): void {
  const kept = into.get(family.name) ?? { ...family, values: [] };
  into.set(family.name, kept);
  const index = new Map(kept.values.map((value, at) => [seriesKey(value), at]));
  for (const value of family.values) {
    const at = index.get(seriesKey(value));
    if (at === undefined) {
      index.set(seriesKey(value), kept.values.length);
      kept.values.push({ ...value, labels: { ...value.labels } });
    } else {
      kept.values[at] = { ...kept.values[at]!, value: kept.values[at]!.value + value.value };
    }
  }
}

const seriesKey = (value: MetricValue<string> & { metricName?: string }): string =>
  `${value.metricName ?? ''}\u0000${Object.entries(value.labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${String(v)}`).join('\u0000')}`;

export class SummedMetrics<FrontEnd> {
  /** Each live front end's newest registry. */
  readonly #last = new Map<FrontEnd, Collected>();
  /** The counters and histograms of front ends that exited, summed. */
  readonly #retired = new Map<string, Family>();
  /** Front ends that exited (one per replacement, so it stays small): their counts are in #retired already. */
  readonly #exited = new Set<FrontEnd>();

  /**
   * A front end's registry, as it answered a collection. Ignored when empty (a render that failed) and when the
   * front end has exited: an answer that reaches the primary after its exit would count its totals twice.
   */
  collected(frontEnd: FrontEnd, metrics: Collected): void {
    if (metrics.length > 0 && !this.#exited.has(frontEnd)) this.#last.set(frontEnd, metrics);
  }

  /** The front end is gone: its last counters and histograms stay in every later sum. */
  exited(frontEnd: FrontEnd): void {
    this.#exited.add(frontEnd);
    const last = this.#last.get(frontEnd);
    this.#last.delete(frontEnd);
    for (const family of last ?? []) if (isCumulative(family)) addFamily(this.#retired, family);
  }

  /**
   * The Prometheus text of every front end summed (each gauge by its `aggregator`): whole registries of those
   * that answered this collection, the counters and histograms of those that did not, and of those gone.
   */
  render(answered: ReadonlySet<FrontEnd>): Promise<string> {
    const registries: Collected[] = [[...this.#retired.values()]];
    for (const [frontEnd, metrics] of this.#last) registries.push(answered.has(frontEnd) ? metrics : metrics.filter(isCumulative));
    return AggregatorRegistry.aggregate(registries).metrics();
  }
}
