// boto3 as a data pipeline meets the engine (boto3-pipeline.py, run by Debian's /usr/bin/python3 like
// boto3-client.py): KMS_FAULTS and KMS_QUOTAS answers that botocore must class as retryable, so that its
// standard and legacy retry modes retry them as they retry AWS KMS's, and the paginators boto3.test.ts leaves
// out. What botocore reports is checked against what the engine saw: its audit records and /metrics.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords, sample, scrape } from '../e2e-quotas/flood.js';
import { runBotoScript } from '../support/boto3.js';
import { startServer, type TestServer } from '../support/server.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'boto3-pipeline.py');

// One operation per fault, each failing on every call; Encrypt limited to 2 requests a second.
const FAULTS = 'KMSInternalException=1@GenerateRandom;DependencyTimeoutException=1@DescribeKey;'
  + 'KeyUnavailableException=1@GenerateDataKey;ThrottlingException=1@ListAliases;reset=1@ListKeyPolicies';
const MODES = ['standard', 'legacy'] as const;

interface Outcome { ok?: boolean; code?: string; exception_class?: string; status?: number; retries?: number }

let server: TestServer;
// The script's JSON output; its shape is boto3-pipeline.py's `results`.
let boto: Record<string, any>;

beforeAll(async () => {
  server = await startServer({ env: { KMS_FAULTS: FAULTS, KMS_QUOTAS: 'Encrypt=2' } });
  boto = await runBotoScript(server, SCRIPT, { timeoutMs: 120_000 });
}, 150_000);
afterAll(async () => {
  await server?.remove();
});

const refusals = (operation: string, code: string) =>
  auditRecords(server).filter((record) => record.eventName === operation && record.errorCode === code).length;

describe('botocore retries the engine\'s injected faults as it retries AWS KMS\'s', () => {
  // [operation, code, botocore's exception class (unmodeled codes are plain ClientError), HTTP status]
  const expected = [
    ['GenerateRandom', 'KMSInternalException', 'KMSInternalException', 500],
    ['DescribeKey', 'DependencyTimeoutException', 'DependencyTimeoutException', 503],
    ['GenerateDataKey', 'KeyUnavailableException', 'KeyUnavailableException', 500],
    ['ListAliases', 'ThrottlingException', 'ClientError', 400],
  ] as const;

  for (const [operation, code, exceptionClass, status] of expected) {
    it(`${code} (${operation}): three attempts in each retry mode, then botocore raises it; the engine audited every attempt`, () => {
      for (const mode of MODES) {
        expect(boto.faults[mode][operation] as Outcome, mode).toEqual({ code, exception_class: exceptionClass, status, retries: 2 });
      }
      expect(refusals(operation, code)).toBe(3 * MODES.length);
    });
  }

  it('a connection reset: botocore retries it too and raises ConnectionClosedError; the engine counted each reset', async () => {
    for (const mode of MODES) expect(boto.faults[mode].ListKeyPolicies as Outcome, mode).toEqual({ exception_class: 'ConnectionClosedError' });
    const resets = sample(await scrape(server), 'kms_request_duration_seconds_count', { operation: 'ListKeyPolicies', key_spec: '', outcome: 'reset' });
    expect(resets).toBe(3 * MODES.length);
    expect(auditRecords(server).filter((record) => record.eventName === 'ListKeyPolicies')).toEqual([]);
  });
});

describe('botocore under KMS_QUOTAS', () => {
  it('a run of Encrypts past the quota all land with standard retries; every retry was a throttle the engine answered', () => {
    const runOutcomes = boto.throttled_run as Outcome[];
    expect(runOutcomes.every((each) => each.ok === true), JSON.stringify(runOutcomes)).toBe(true);
    const once = boto.throttled_once as Outcome[];
    const throttled = once.filter((each) => each.ok !== true);
    // Eight calls in a row at 2 a second: the bucket cannot have held a token for each.
    expect(throttled.length).toBeGreaterThan(0);
    for (const each of throttled) expect(each).toEqual({ code: 'ThrottlingException', exception_class: 'ClientError', status: 400, retries: 0 });
    const retried = runOutcomes.reduce((sum, each) => sum + each.retries!, 0);
    expect(refusals('Encrypt', 'ThrottlingException')).toBe(retried + throttled.length);
  });
});

describe('boto3 paginators boto3.test.ts does not cover', () => {
  it('list_retirable_grants pages two at a time over every grant the principal may retire, each once', () => {
    const retirable = boto.retirable;
    expect(retirable.page_sizes).toEqual([2, 2, 1]);
    expect(retirable.truncated_flags).toEqual([true, true, false]);
    expect([...retirable.listed].sort()).toEqual([...retirable.created].sort());
    // Each entry names its key by ARN, as AWS KMS's ListRetirableGrants does.
    expect(retirable.key_ids).toEqual([boto.key_arn]);
  });

  it('describe_custom_key_stores: one page, no stores, not truncated', () => {
    expect(boto.custom_key_stores).toEqual([{ stores: [], truncated: false }]);
  });
});
