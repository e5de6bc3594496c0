// The dashboard checked for real (issue 5): Debian's Prometheus scrapes the real engine every second under a
// short mixed load (successes, client errors, throttles over a small ecc quota), every PromQL expression of
// dashboards/kms-engine.json must return data, and the renderer draws every panel from that data as SVG.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDashboard } from '../../bench/render-dashboard.js';
import { checkDashboardAgainstPrometheus, type ExpressionCheck } from '../../src/metrics/dashboard-check.js';
import { assertWellFormedXml } from '../bench/well-formed-xml.js';
import { type RunningPrometheus, startPrometheus } from '../support/prometheus.js';
import { startServer, type TestServer } from '../support/server.js';
import { countByCode, rawCaller, type Answer } from '../e2e-quotas/flood.js';
import { startMixedLoad } from './mixed-load.js';

const DASHBOARD = fileURLToPath(new URL('../../dashboards/kms-engine.json', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('dashboards/kms-engine.json against Prometheus scraping the real engine', () => {
  let server: TestServer;
  let prometheus: RunningPrometheus;
  let answers: Answer[];
  let checks: ExpressionCheck[];

  beforeAll(async () => {
    server = await startServer({ env: { KMS_WORKERS: '1', KMS_QUOTAS: 'aws,ecc=50' } });
    prometheus = await startPrometheus(`127.0.0.1:${server.port}`);
    const load = await startMixedLoad(rawCaller(server));
    try {
      await prometheus.waitForScrapes(5);
      // Keys by state is refreshed every 5 s; give the slowest series a few more scrapes before giving up.
      const deadline = Date.now() + 10_000;
      do {
        checks = await checkDashboardAgainstPrometheus(prometheus.url, DASHBOARD, { rateInterval: '30s' });
        if (checks.every((check) => check.ok)) break;
        await sleep(1_000);
      } while (Date.now() < deadline);
    } finally {
      answers = await load.stop();
    }
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await server?.remove();
  });

  it('ran a mixed load with successes, errors and throttles', () => {
    const counts = countByCode(answers);
    expect(counts.ok).toBeGreaterThan(50);
    expect(counts.InvalidCiphertextException).toBeGreaterThan(0);
    expect(counts.DisabledException).toBeGreaterThan(0);
    expect(counts.ThrottlingException).toBeGreaterThan(0);
  });

  it('every dashboard expression returns data', () => {
    expect(checks.length).toBeGreaterThan(15);
    expect(checks.filter((check) => !check.ok)).toEqual([]);
  });

  it('renders every panel from that data as one well-formed SVG', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ type: string; title: string }> };
    const { svg, panels, panelsWithData } = await renderDashboard({
      prometheusUrl: prometheus.url, dashboard, rangeSeconds: 60, stepSeconds: 1, rateInterval: '30s', maxSeries: 8,
    });
    const charts = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(panels).toBe(charts.length);
    expect(panelsWithData).toBe(charts.length);
    expect(assertWellFormedXml(svg).root).toBe('svg');
    expect(svg.match(/<svg x=/g)?.length).toBe(charts.length); // one nested chart per panel
    expect(svg.match(/<polyline /g)?.length).toBeGreaterThanOrEqual(charts.length);
    for (const panel of dashboard.panels) expect(svg).toContain(panel.title.replace(/&/g, '&amp;').replace(/'/g, '&apos;'));
  });
});
