// dashboards/alerts.yml checked with Debian's promtool (installed by pretest with prometheus): the rules parse,
// name only metrics the engine exports, and each alert fires on its condition and on nothing else
// (`promtool test rules` over synthetic series: instance "a" meets each condition, instance "b" does not).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { definedSeriesNames, referencedMetricNames } from '../../src/metrics/dashboard-check.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { ensurePrometheusInstalled } from '../support/prometheus.js';

const run = promisify(execFile);
const RULES = fileURLToPath(new URL('../../dashboards/alerts.yml', import.meta.url));
const source = (path: string) => readFileSync(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)), 'utf8');

/** The expressions of the rules file: one-line `expr:` values and `expr: |` blocks. */
function expressionsOf(yaml: string): string[] {
  const lines = yaml.split('\n');
  const expressions: string[] = [];
  lines.forEach((line, index) => {
    const match = /^(\s*)expr: (.*)$/.exec(line);
    if (match === null) return;
    if (match[2] !== '|') {
      expressions.push(match[2]!);
      return;
    }
    const block: string[] = [];
    for (let next = index + 1; next < lines.length && (lines[next]!.trim() === '' || lines[next]!.search(/\S/) > match[1]!.length); next++) {
      block.push(lines[next]!.trim());
    }
    expressions.push(block.join(' ').trim());
  });
  return expressions;
}

const dir = mkdtempSync(join(tmpdir(), 'kms-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dashboards/alerts.yml', () => {
  ensurePrometheusInstalled();

  it('parses: promtool check rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', RULES]);
    expect(stdout).toContain('SUCCESS: 9 rules found');
  });

  it('names only metrics the engine exports', async () => {
    const defined = definedSeriesNames((await createMetrics().render()).body);
    // Registered only with a shared store: the quota store's by the leased limiter, the change log's by a
    // PostgreSQL membership.
    const conditional: Record<string, string> = {
      kms_quota_store_degraded: 'quota/leased-limiter.ts', kms_store_change_log_age_seconds: 'cluster/index.ts',
    };
    const expressions = expressionsOf(readFileSync(RULES, 'utf8'));
    expect(expressions).toHaveLength(9);
    for (const expression of expressions) {
      for (const name of referencedMetricNames(expression).filter((each) => each !== 'up')) {
        if (defined.has(name)) continue;
        expect(conditional[name], `${name} in ${expression}`).toBeDefined();
        expect(source(conditional[name]!)).toContain(`name: '${name}'`);
      }
    }
  });

  it('fires each alert on its condition only: promtool test rules', async () => {
    const series = (name: string, labels: Record<string, string>, values: string) =>
      ({ series: `${name}{${Object.entries(labels).map(([key, value]) => `${key}="${value}"`).join(',')}}`, values });
    const request = { operation: 'Encrypt', key_spec: 'SYMMETRIC_DEFAULT' };
    const inputSeries = [
      series('up', { job: 'kms-engine', instance: 'a' }, '1 0x30'),
      series('up', { job: 'kms-engine', instance: 'b' }, '1x30'),
      series('up', { job: 'other', instance: 'c' }, '0x30'),
      // a: 5 server errors in 105 requests a minute; b: 5 in 1005
      series('kms_request_duration_seconds_count', { instance: 'a', ...request, outcome: 'ok' }, '0+100x30'),
      series('kms_request_duration_seconds_count', { instance: 'a', ...request, outcome: 'KMSInternalException' }, '0+5x30'),
      series('kms_request_duration_seconds_count', { instance: 'b', ...request, outcome: 'ok' }, '0+1000x30'),
      series('kms_request_duration_seconds_count', { instance: 'b', ...request, outcome: 'DependencyTimeoutException' }, '0+5x30'),
      series('kms_request_duration_seconds_count', { instance: 'b', ...request, outcome: 'ValidationException' }, '0+500x30'),
      series('kms_throttled_requests_total', { instance: 'a', quota_class: 'ecc' }, '0+60x30'),
      series('kms_throttled_requests_total', { instance: 'b', quota_class: 'ecc' }, '0x30'),
      series('kms_quota_utilization_ratio', { instance: 'a', quota_class: 'ecc' }, '0.95x30'),
      series('kms_quota_utilization_ratio', { instance: 'b', quota_class: 'ecc' }, '0.5x30'),
      series('kms_audit_lag_seconds', { instance: 'a' }, '0 2x30'),
      series('kms_audit_lag_seconds', { instance: 'b' }, '0.5x30'),
      series('kms_pool_queue_depth', { instance: 'a' }, '2000x30'),
      series('kms_pool_queue_depth', { instance: 'b' }, '10x30'),
      series('nodejs_eventloop_lag_p99_seconds', { instance: 'a' }, '0.5x30'),
      series('nodejs_eventloop_lag_p99_seconds', { instance: 'b' }, '0.01x30'),
      series('kms_quota_store_degraded', { instance: 'a' }, '0 1x30'),
      series('kms_quota_store_degraded', { instance: 'b' }, '0x30'),
      series('kms_store_change_log_age_seconds', { instance: 'a' }, '0.4 0.4 90+60x30'),
      series('kms_store_change_log_age_seconds', { instance: 'b' }, '0.4x30'),
    ];
    const fired = (alertname: string, severity: string, labels: Record<string, string>, summary: string) => ({
      eval_time: '20m', alertname, exp_alerts: [{ exp_labels: { severity, ...labels }, exp_annotations: { summary } }],
    });
    const alertRuleTest = [
      fired('KmsEngineDown', 'critical', { job: 'kms-engine', instance: 'a' }, 'kms-engine a does not answer /metrics'),
      fired('KmsEngineServerErrors', 'critical', { instance: 'a' }, 'kms-engine a: 4.762% of requests fail with a server error'),
      fired('KmsEngineThrottling', 'warning', { instance: 'a', quota_class: 'ecc' }, 'kms-engine a: requests throttled by the ecc quota for 10 minutes'),
      fired('KmsEngineQuotaNearLimit', 'info', { instance: 'a', quota_class: 'ecc' }, 'kms-engine a: the ecc quota is over 90% used'),
      fired('KmsEngineAuditLag', 'critical', { instance: 'a' }, 'kms-engine a: audit records wait over a second to be written'),
      fired('KmsEnginePoolBacklog', 'warning', { instance: 'a' }, 'kms-engine a: over 1000 crypto jobs wait for a worker'),
      fired('KmsEngineEventLoopLag', 'warning', { instance: 'a' }, 'kms-engine a: event-loop lag p99 over 100 ms'),
      fired('KmsEngineQuotaStoreDegraded', 'warning', { instance: 'a' }, 'kms-engine a: the shared quota store is unreachable; quotas are counted locally'),
      fired('KmsEngineStoreChangeLogStale', 'critical', { instance: 'a' }, 'kms-engine a has not read the store\'s change log for over a minute'),
      // Conditions held for less than their `for`: nothing yet.
      { eval_time: '1m', alertname: 'KmsEngineDown', exp_alerts: [] },
      { eval_time: '2m', alertname: 'KmsEngineStoreChangeLogStale', exp_alerts: [] },
    ];
    const testFile = join(dir, 'alerts.test.yml');
    // YAML is a superset of JSON.
    writeFileSync(testFile, JSON.stringify({
      rule_files: [RULES], evaluation_interval: '1m',
      tests: [{ interval: '1m', input_series: inputSeries, alert_rule_test: alertRuleTest }],
    }));
    const result = await run('promtool', ['test', 'rules', testFile]).then(
      ({ stdout }) => ({ ok: true, output: stdout }),
      (error: { stdout: string; stderr: string }) => ({ ok: false, output: `${error.stdout}${error.stderr}` }),
    );
    expect(result.output).toContain('SUCCESS');
    expect(result.ok, result.output).toBe(true);
  });
});
