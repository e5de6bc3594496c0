import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  definedSeriesNames, extractPromQL, referencedMetricNames, substituteVariables,
} from '../../src/metrics/dashboard-check.js';
import { createMetrics } from '../../src/metrics/registry.js';

const DASHBOARD_PATH = new URL('../../dashboards/kms-engine.json', import.meta.url);
const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8'));

describe('dashboard-check helpers', () => {
  it('extracts expressions from panels and from panels nested in collapsed rows', () => {
    const json = {
      panels: [
        { type: 'timeseries', targets: [{ expr: 'a_total' }, { expr: '' }, { refId: 'B' }] },
        { type: 'row', collapsed: true, panels: [{ targets: [{ expr: 'b_seconds' }] }] },
      ],
    };
    expect(extractPromQL(json)).toEqual(['a_total', 'b_seconds']);
  });

  it('names metrics, not functions, keywords, labels, label values or durations', () => {
    expect(referencedMetricNames(
      'histogram_quantile(0.99, sum by (operation, le) (rate(kms_x_bucket{operation=~"Sign|up",le!="1e3"}[5m] offset 1h)))'
      + ' / on (quota_class) group_left(foo) max without (instance) (kms_y) and bool kms_z > 1e3 or vector(0)',
    ).sort()).toEqual(['kms_x_bucket', 'kms_y', 'kms_z']);
  });

  it('substitutes built-in intervals and the dashboard s own variables', () => {
    const json = { templating: { list: [{ name: 'operation', includeAll: true, allValue: '.*' }, { name: 'job', current: { value: 'kms' } }] } };
    expect(substituteVariables('rate(x{operation=~"$operation",job="${job}"}[$__rate_interval]) [[interval]] $unknown', json, { rateInterval: '30s' }))
      .toBe('rate(x{operation=~".*",job="kms"}[30s]) 30s $unknown');
  });

  it('lists the series an exposition defines from its TYPE lines', () => {
    expect([...definedSeriesNames('# TYPE h histogram\n# TYPE c_total counter\n# TYPE g gauge\n')].sort())
      .toEqual(['c_total', 'g', 'h_bucket', 'h_count', 'h_sum']);
  });
});

describe('dashboards/kms-engine.json', () => {
  const expressions = extractPromQL(dashboard);
  // Registered only with a shared store (alerts.test.ts checks where): the quota store's by the leased limiter,
  // the change log's by a PostgreSQL membership. Their panels read 0 without one (`or vector(0)`).
  const conditional = ['kms_quota_store_degraded', 'kms_store_change_log_age_seconds'];

  it('is a schemaVersion 39 dashboard with a Prometheus datasource variable used by every panel', () => {
    expect(dashboard.schemaVersion).toBe(39);
    const variable = dashboard.templating.list.find((v: { name: string }) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of dashboard.panels.filter((p: { type: string }) => p.type !== 'row')) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('has the panels issue 5 asks for', () => {
    const titles: string[] = dashboard.panels.map((p: { title: string }) => p.title);
    for (const wanted of [/throughput/i, /p50/i, /p99/i, /throttle/i, /error/i, /queue depth/i, /utilization/i,
      /wait vs run/i, /cache hit/i, /keys by state/i, /audit lag/i]) {
      expect(titles.some((title) => wanted.test(title)), String(wanted)).toBe(true);
    }
    expect(expressions.some((e) => /histogram_quantile\(0\.5,.*kms_request_duration_seconds_bucket/.test(e))).toBe(true);
    expect(expressions.some((e) => /histogram_quantile\(0\.99,.*kms_request_duration_seconds_bucket/.test(e))).toBe(true);
  });

  it('shows every kms_* metric the registry defines', async () => {
    const shown = new Set(expressions.flatMap((expr) => referencedMetricNames(expr)).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    const families = [...(await createMetrics().render()).body.matchAll(/^# TYPE (kms_\w+) /gm)].map((match) => match[1]!)
      .concat(conditional);
    expect(families.length).toBeGreaterThan(10);
    expect(families.filter((family) => !shown.has(family))).toEqual([]);
  });

  it('every expression references only metrics the registry defines', async () => {
    const defined = new Set([...definedSeriesNames((await createMetrics().render()).body), ...conditional]);
    expect(expressions.length).toBeGreaterThan(15);
    for (const expr of expressions) {
      const names = referencedMetricNames(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) expect(defined.has(name), `${name} in ${expr}`).toBe(true);
    }
  });
});
