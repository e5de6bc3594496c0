// A labelled histogram whose observe() is a bucket search and three additions: no label hashing, no
// allocation. prom-client's own Histogram builds a label object and a hash string on every observe (about
// 600 ns here, measured on this 2-core machine), which at 100k+ requests/s would cost a tenth of a core.
// Exposition stays prom-client's: this object implements the metric shape Registry renders (name, help, type,
// get()), so HELP/TYPE lines, label escaping and content type are identical to its built-in metrics.

import type { Metric, Registry } from 'prom-client';

export interface HistogramChild {
  observe(seconds: number): void;
}

class Child implements HistogramChild {
  /** Non-cumulative count per bucket; the last slot is +Inf. Made cumulative only at scrape time. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly upperBounds: readonly number[], readonly labels: Readonly<Record<string, string>>) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export class FastHistogram<Label extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #upperBounds: readonly number[];
  readonly #children: Child[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly Label[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.#upperBounds = [...buckets].sort((a, b) => a - b);
    // Registry renders any object with name/help/type/get(); its type union only lists its own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series with these label values, in labelNames order. Callers keep the child: creating one is not cheap. */
  child(...labelValues: string[]): HistogramChild {
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => { labels[name] = labelValues[i] ?? ''; });
    const child = new Child(this.#upperBounds, labels);
    this.#children.push(child);
    return child;
  }

  /** Scrape-time export in prom-client's metric shape: cumulative _bucket series, then _sum and _count. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const child of this.#children) {
      let cumulative = 0;
      for (let i = 0; i <= this.#upperBounds.length; i++) {
        cumulative += child.counts[i]!;
        const le = i < this.#upperBounds.length ? this.#upperBounds[i]! : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...child.labels }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...child.labels }, value: child.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...child.labels }, value: child.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics() calls this: zero every series but keep the children callers hold. */
  reset(): void {
    for (const child of this.#children) {
      child.counts.fill(0);
      child.sum = 0;
      child.count = 0;
    }
  }
}
