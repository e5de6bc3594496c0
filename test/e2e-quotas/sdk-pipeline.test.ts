// A client-side encryption pipeline against KMS_QUOTAS, KMS_LATENCY and KMS_FAULTS, as its SRE load-tests it:
// the real JS SDK in its standard and adaptive retry modes, and four AWS Encryption SDK clients sharing one
// account's symmetric quota. What the pipeline sees (error shapes, request ids, attempts, latency percentiles,
// aggregate rate) is checked against what AWS KMS documents (kms-api.md sections 1.3, 1.4, 9 and 10), and what
// the engine saw against its audit log and /metrics.

import { CreateKeyCommand, DescribeKeyCommand, EncryptCommand, KMS, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { buildClient, CommitmentPolicy, getClient, KmsKeyringNode } from '@aws-crypto/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { auditRecords, sample, scrape } from './flood.js';

const THROTTLING_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const caught = (call: Promise<unknown>): Promise<Record<string, unknown>> =>
  call.then(() => { throw new Error('expected the call to fail'); }, (error: unknown) => error as Record<string, unknown>);

describe('a symmetric quota shared by an encryption pipeline', () => {
  const SYMMETRIC_RPS = 20;
  let server: TestServer;
  let keyArn: string;

  beforeAll(async () => {
    server = await startServer({ env: { KMS_QUOTAS: `aws,symmetric=${SYMMETRIC_RPS}` } });
    keyArn = (await server.client().send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  });
  afterAll(async () => {
    await server?.remove();
  });

  const client = (retryMode: 'standard' | 'adaptive', maxAttempts: number) =>
    new KMSClient({ region: server.region, endpoint: server.url, credentials: server.credentials, retryMode, maxAttempts });
  /** Spends the symmetric bucket: Encrypts sent together until one is throttled. */
  const drain = async () => {
    const once = client('standard', 1);
    for (;;) {
      const outcomes = await Promise.allSettled(Array.from({ length: SYMMETRIC_RPS * 2 },
        () => once.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') }))));
      if (outcomes.some((each) => each.status === 'rejected')) return;
    }
  };

  it('throttles with AWS\'s exact error, a request id the audit record carries, and no retryable trait of a modeled error', async () => {
    await drain();
    // A burst on the drained bucket: the few tokens refilled meanwhile go to some, the rest are throttled.
    const once = client('standard', 1);
    const outcomes = await Promise.allSettled(Array.from({ length: SYMMETRIC_RPS },
      () => once.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') }))));
    const error = outcomes.find((each) => each.status === 'rejected')!.reason as Record<string, unknown>;
    expect(error).toMatchObject({ name: 'ThrottlingException', message: THROTTLING_MESSAGE, $fault: 'client' });
    // Not one of KMS's modeled errors: the SDK marks it retryable by its name, as for AWS's own answer.
    expect(error.$retryable).toBeUndefined();
    const metadata = error.$metadata as { httpStatusCode: number; requestId: string; attempts: number };
    expect(metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
    expect(metadata.requestId).toMatch(UUID);
    const record = auditRecords(server).find((each) => each.requestID === metadata.requestId)!;
    expect(record).toMatchObject({
      eventName: 'Encrypt', eventSource: 'kms.amazonaws.com', errorCode: 'ThrottlingException', errorMessage: THROTTLING_MESSAGE,
      readOnly: true, responseElements: null, resources: [{ type: 'AWS::KMS::Key', ARN: keyArn }],
    });
    expect((record.requestParameters as Record<string, unknown>).keyId).toBe(keyArn);
  });

  it('adaptive mode retries a throttle like standard mode: every attempt reaches the server', async () => {
    await drain();
    const before = auditRecords(server).length;
    // A burst on the drained bucket: more calls than a second refills, so some are throttled and retried.
    const adaptive = client('adaptive', 3);
    const answers = await Promise.allSettled(Array.from({ length: 2 * SYMMETRIC_RPS },
      () => adaptive.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') }))));
    const attempts = answers.reduce((sum, each) => sum + (each.status === 'fulfilled'
      ? each.value.$metadata.attempts! : ((each.reason as { $metadata: { attempts: number } }).$metadata.attempts)), 0);
    const seen = auditRecords(server).slice(before).filter((record) => record.eventName === 'Encrypt');
    expect(seen).toHaveLength(attempts);
    expect(attempts).toBeGreaterThan(2 * SYMMETRIC_RPS);
    for (const each of answers) if (each.status === 'rejected') expect(each.reason).toMatchObject({ name: 'ThrottlingException' });
  });

  it('four Encryption SDK clients sharing the quota get its aggregate rate, and /metrics names what was throttled', async () => {
    const { encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    await sleep(1_200); // a full bucket: one second's worth
    const before = auditRecords(server).length;
    const WINDOW_MS = 4_000;
    const started = performance.now();
    const pipelineClient = async () => {
      // Each its own KMS client (as four pipeline processes would have), one attempt: the engine's answer counts.
      const keyring = new KmsKeyringNode({
        generatorKeyId: keyArn,
        clientProvider: getClient(KMS, { endpoint: server.url, credentials: server.credentials, maxAttempts: 1 }),
      });
      let ok = 0;
      while (performance.now() - started < WINDOW_MS) {
        try {
          await encrypt(keyring, Buffer.from('record'), { encryptionContext: { pipeline: 'p' } });
          ok++;
        } catch (error) {
          if (!/ThrottlingException|exceeded the rate/.test(String((error as Error).message) + String((error as Error).name))) throw error;
        }
      }
      return ok;
    };
    const perClient = await Promise.all([pipelineClient(), pipelineClient(), pipelineClient(), pipelineClient()]);
    const elapsedS = (performance.now() - started) / 1000;
    const records = auditRecords(server).slice(before).filter((record) => record.eventName === 'GenerateDataKey');
    const admitted = records.filter((record) => record.errorCode === undefined).length;
    const throttled = records.filter((record) => record.errorCode === 'ThrottlingException').length;
    expect(perClient.reduce((a, b) => a + b, 0)).toBe(admitted);
    expect(throttled).toBeGreaterThan(0);
    // The bucket's second's worth plus the refill over the window: 20 + 20/s, give or take a second's refill.
    expect(admitted).toBeGreaterThanOrEqual(SYMMETRIC_RPS * (1 + elapsedS) - SYMMETRIC_RPS);
    expect(admitted).toBeLessThanOrEqual(SYMMETRIC_RPS * (1 + elapsedS) + 2);
    for (const count of perClient) expect(count).toBeGreaterThan(0);
    const metrics = await scrape(server);
    expect(sample(metrics, 'kms_request_duration_seconds_count',
      { operation: 'GenerateDataKey', key_spec: 'SYMMETRIC_DEFAULT', outcome: 'ThrottlingException' })).toBeGreaterThanOrEqual(throttled);
    expect(sample(metrics, 'kms_throttled_requests_total', { quota_class: 'symmetric' })).toBeGreaterThanOrEqual(throttled);
  });
});

describe('KMS_LATENCY measured over the wire', () => {
  let server: TestServer;
  let keyId: string;

  beforeAll(async () => {
    server = await startServer({ env: { KMS_LATENCY: 'DescribeKey=lognormal:p50=25ms,p99=100ms;Encrypt=uniform:10ms..30ms' } });
    keyId = (await server.client().send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  });
  afterAll(async () => {
    await server?.remove();
  });

  /** Sends `count` calls, 8 at a time. */
  const run = async (count: number, call: () => Promise<unknown>): Promise<void> => {
    let sent = 0;
    const loop = async () => {
      while (sent++ < count) await call();
    };
    await Promise.all(Array.from({ length: 8 }, loop));
  };
  /**
   * The share of `operation`'s answers the server's histogram has within `le` seconds. Measured by the engine from
   * receipt to answer, so the client's own CPU (signing, parsing) on a shared machine does not blur the draw.
   */
  const shareWithin = (metrics: string, operation: string, keySpec: string, le: string): number => {
    const labels = { operation, key_spec: keySpec, outcome: 'ok' };
    return sample(metrics, 'kms_request_duration_seconds_bucket', { ...labels, le })!
      / sample(metrics, 'kms_request_duration_seconds_count', labels)!;
  };

  // A timer never fires early, so a share within a bound is at most the draws' (upper bounds hold however busy the
  // machine); a busy machine holds answers longer, so the lower bounds are wide. Binomial standard errors at
  // n = 1,000 are 1.6% at the median and 0.3% at p99.
  it('lognormal:p50=25ms,p99=100ms: about half of 1,000 calls within 25 ms, nearly all within 100 ms', async () => {
    const kms = server.client();
    await run(1_000, () => kms.send(new DescribeKeyCommand({ KeyId: keyId })));
    const metrics = await scrape(server);
    const within = (le: string) => shareWithin(metrics, 'DescribeKey', 'SYMMETRIC_DEFAULT', le);
    // sigma = ln(4) / 2.326: P(X < 10 ms) = 0.06, P(X < 25 ms) = 0.5, P(X < 50 ms) = 0.88, P(X < 100 ms) = 0.99
    expect(within('0.01')).toBeLessThan(0.12);
    expect(within('0.025')).toBeGreaterThan(0.25);
    expect(within('0.025')).toBeLessThan(0.58);
    expect(within('0.05')).toBeLessThan(0.94);
    expect(within('0.1')).toBeGreaterThan(0.9);
    expect(within('0.1')).toBeLessThan(0.999);
  });

  it('uniform:10ms..30ms: none within 10 ms, about three quarters within 25 ms, all within 50 ms', async () => {
    const kms = server.client();
    await run(800, () => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    const metrics = await scrape(server);
    const within = (le: string) => shareWithin(metrics, 'Encrypt', 'SYMMETRIC_DEFAULT', le);
    expect(within('0.01')).toBeLessThan(0.02);
    expect(within('0.025')).toBeGreaterThan(0.35);
    expect(within('0.025')).toBeLessThan(0.82);
    expect(within('0.05')).toBeGreaterThan(0.85);
  });
});

describe('KMS_FAULTS on cryptographic operations, audited and counted like real errors', () => {
  let server: TestServer;
  let symmetricArn: string;
  let eccArn: string;

  beforeAll(async () => {
    server = await startServer({ env: { KMS_FAULTS: 'KMSInternalException=1@Encrypt;ThrottlingException=1@Sign' } });
    const kms = server.client();
    symmetricArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    eccArn = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!;
  });
  afterAll(async () => {
    await server?.remove();
  });

  it('the SDK retries each attempt; every attempt\'s record names the key and /metrics its key spec, as a quota throttle\'s does', async () => {
    const kms = server.client({ maxAttempts: 3 });
    const encrypt = await caught(kms.send(new EncryptCommand({ KeyId: symmetricArn, Plaintext: Buffer.from('x') })));
    expect(encrypt).toMatchObject({ name: 'KMSInternalException', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3 } });
    const sign = await caught(kms.send(new SignCommand({ KeyId: eccArn, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(sign).toMatchObject({ name: 'ThrottlingException', message: THROTTLING_MESSAGE, $metadata: { httpStatusCode: 400, attempts: 3 } });

    const records = auditRecords(server);
    for (const [eventName, errorCode, arn] of [['Encrypt', 'KMSInternalException', symmetricArn], ['Sign', 'ThrottlingException', eccArn]]) {
      const failed = records.filter((record) => record.eventName === eventName);
      expect(failed).toHaveLength(3);
      for (const record of failed) {
        expect(record).toMatchObject({ errorCode, responseElements: null, resources: [{ type: 'AWS::KMS::Key', ARN: arn }] });
      }
    }
    const metrics = await scrape(server);
    expect(sample(metrics, 'kms_request_duration_seconds_count',
      { operation: 'Encrypt', key_spec: 'SYMMETRIC_DEFAULT', outcome: 'KMSInternalException' })).toBe(3);
    expect(sample(metrics, 'kms_request_duration_seconds_count',
      { operation: 'Sign', key_spec: 'ECC_NIST_P256', outcome: 'ThrottlingException' })).toBe(3);
  }, 20_000);

  it('still answers the fault to a call that names no existing key, as every draw that hits is answered', async () => {
    const error = await caught(server.client().send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: Buffer.from('x') })));
    expect(error).toMatchObject({ name: 'KMSInternalException', $metadata: { httpStatusCode: 500 } });
  });
});
