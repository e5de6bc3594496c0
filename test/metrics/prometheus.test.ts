// The dashboard against a real Prometheus: a stand-in engine serves createMetrics() under a steady synthetic
// load (successes, errors, throttles, pool jobs, key-cache traffic), Prometheus scrapes it every second, and
// every dashboard expression must parse and return at least one series.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDashboardAgainstPrometheus } from '../../src/metrics/dashboard-check.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { parseQuotas, QuotaLimiter, quotaClassFor } from '../../src/quota/index.js';
import { type RunningPrometheus, startPrometheus } from '../support/prometheus.js';

const DASHBOARD = fileURLToPath(new URL('../../dashboards/kms-engine.json', import.meta.url));

describe('dashboard against a live Prometheus', () => {
  let server: Server;
  let prometheus: RunningPrometheus;
  let load: NodeJS.Timeout;

  beforeAll(async () => {
    const limiter = new QuotaLimiter(parseQuotas('aws,ecc=20', 'us-east-1'));
    const metrics = createMetrics({
      poolStats: () => ({ queueDepth: 2, inFlight: 3, workers: 2, utilization: 0.6 }),
      keysByState: () => ({ Enabled: 12, Disabled: 1 }),
      auditLagSeconds: () => 0.02,
      quotaSnapshot: () => limiter.snapshot(),
    });
    // The request loop a pipeline would run, in miniature: quota, observe, pool job, cache counts.
    load = setInterval(() => {
      for (let i = 0; i < 20; i++) {
        const [quotaClass] = quotaClassFor('Sign', 'ecc');
        if (!limiter.take('111122223333', quotaClass!)) {
          metrics.throttled(quotaClass!);
          metrics.observeRequest('Sign', 'ECC_NIST_P256', 'ThrottlingException', 0.00008);
          continue;
        }
        metrics.observeRequest('Sign', 'ECC_NIST_P256', 'ok', 0.0004 + Math.random() * 0.001);
        metrics.observePoolJob(0.00005 + Math.random() * 0.0002, 0.0002, 'Sign');
      }
      metrics.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.0002);
      metrics.observeRequest('Decrypt', 'SYMMETRIC_DEFAULT', 'InvalidCiphertextException', 0.0001);
      metrics.keyCache(20, 1, 1);
    }, 50);
    server = createServer((request, response) => {
      if (request.url !== '/metrics') { response.writeHead(404).end(); return; }
      void metrics.render().then(({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    prometheus = await startPrometheus(`127.0.0.1:${address.port}`);
    await prometheus.waitForScrapes(4);
  }, 120_000);

  afterAll(async () => {
    clearInterval(load);
    await prometheus?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('every expression parses and returns data', async () => {
    const checks = await checkDashboardAgainstPrometheus(prometheus.url, DASHBOARD, { rateInterval: '1m' });
    expect(checks.length).toBeGreaterThan(15);
    expect(checks.filter((check) => !check.ok)).toEqual([]);
  });

  it('reports a bad expression and an empty one as not ok', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kms-dash-'));
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ panels: [{ targets: [{ expr: 'sum(' }, { expr: 'kms_no_such_metric' }] }] }));
    const checks = await checkDashboardAgainstPrometheus(prometheus.url, path);
    await rm(dir, { recursive: true, force: true });
    expect(checks.map((check) => check.ok)).toEqual([false, false]);
    expect(checks[0]!.error).toMatch(/parse/i);
    expect(checks[1]!.error).toBe('no series');
  });
});
