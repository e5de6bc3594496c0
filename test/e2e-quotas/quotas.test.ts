// Request quotas on the real server (issue 5): KMS_QUOTAS with the `aws` preset and overrides, floods of
// signed requests from concurrent loops, the exact ThrottlingException AWS answers, the limits /metrics
// publishes per Region, and how the JS SDK's standard retry mode behaves against them.

import { KMSClient, DescribeKeyCommand, ListAliasesCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { auditRecords, countByCode, flood, rawCaller, sample, scrape, type Caller } from './flood.js';

/** kms-api.md section 9, word for word. */
const THROTTLING_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';
const ECC_RPS = 300;
const FLOOD_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const keyIdOf = (body: Record<string, unknown>): string => (body.KeyMetadata as { KeyId: string }).KeyId;

describe('KMS_QUOTAS=aws,ecc=300 on a real server', () => {
  let server: TestServer;
  let call: Caller;
  let eccKeyId: string;
  let symmetricKeyId: string;

  beforeAll(async () => {
    // ListAliases and DescribeKey get tiny quotas so the SDK retry tests are deterministic.
    server = await startServer({ env: { KMS_QUOTAS: `aws,ecc=${ECC_RPS},ListAliases=0.01,DescribeKey=1` } });
    call = rawCaller(server);
    eccKeyId = keyIdOf((await call('CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).body);
    symmetricKeyId = keyIdOf((await call('CreateKey', {})).body);
  });

  afterAll(async () => {
    await server?.remove();
  });

  it('admits an ECC_NIST_P256 Sign flood at about 300/s and throttles the rest, while Encrypt is never throttled', async () => {
    const started = performance.now();
    const [signs, encrypts] = await Promise.all([
      flood(call, {
        operation: 'Sign', loops: 32, durationMs: FLOOD_MS,
        input: (i) => ({ KeyId: eccKeyId, SigningAlgorithm: 'ECDSA_SHA_256', Message: Buffer.from(`message ${i}`).toString('base64') }),
      }),
      flood(call, {
        operation: 'Encrypt', loops: 2, durationMs: FLOOD_MS,
        input: () => ({ KeyId: symmetricKeyId, Plaintext: Buffer.alloc(1024, 7).toString('base64') }),
      }),
    ]);
    const elapsedSeconds = (performance.now() - started) / 1000;
    const signCounts = countByCode(signs);
    const admitted = signCounts.ok ?? 0;
    const throttled = signs.filter((answer) => answer.code === 'ThrottlingException');
    console.log(`ECC Sign flood: ${admitted} admitted, ${throttled.length} throttled in ${elapsedSeconds.toFixed(2)} s `
      + `(${(admitted / elapsedSeconds).toFixed(0)}/s admitted); Encrypt alongside: ${encrypts.length} ok`);

    // Only two outcomes, and the throttled ones are exactly what AWS answers.
    expect(Object.keys(signCounts).sort()).toEqual(['ThrottlingException', 'ok']);
    for (const answer of throttled) {
      expect(answer.status).toBe(400);
      expect(answer.message).toBe(THROTTLING_MESSAGE);
    }
    // A full bucket of 300 to start, then 300 per second: never more, and (the flood offering far more) not much less.
    expect(admitted).toBeLessThanOrEqual(ECC_RPS + ECC_RPS * elapsedSeconds + 5);
    expect(admitted).toBeGreaterThanOrEqual(0.8 * ECC_RPS * (FLOOD_MS / 1000));
    expect(throttled.length).toBeGreaterThan(0);
    // The symmetric quota (100,000/s in us-east-1) is separate: Encrypt in the same seconds always succeeds.
    expect(countByCode(encrypts)).toEqual({ ok: encrypts.length });
    expect(encrypts.length).toBeGreaterThan(10);

    // The server counted the same: throttles by class, and requests by operation, key spec and outcome.
    const metrics = await scrape(server);
    expect(sample(metrics, 'kms_throttled_requests_total', { quota_class: 'ecc' })).toBe(throttled.length);
    expect(sample(metrics, 'kms_throttled_requests_total', { quota_class: 'symmetric' })).toBe(0);
    expect(sample(metrics, 'kms_request_duration_seconds_count', { operation: 'Sign', key_spec: 'ECC_NIST_P256', outcome: 'ok' }))
      .toBe(admitted);
    expect(sample(metrics, 'kms_request_duration_seconds_count', { operation: 'Sign', key_spec: 'ECC_NIST_P256', outcome: 'ThrottlingException' }))
      .toBe(throttled.length);
    expect(sample(metrics, 'kms_request_duration_seconds_count', { operation: 'Encrypt', key_spec: 'SYMMETRIC_DEFAULT', outcome: 'ok' }))
      .toBe(encrypts.length);
  });

  it('throttles CreateKey above the aws preset\'s 5/s', async () => {
    await sleep(1_100); // the CreateKey bucket refills to its 5 tokens
    const burst = await Promise.all(Array.from({ length: 15 }, () => call('CreateKey', {})));
    const counts = countByCode(burst);
    // 5 tokens, plus at most one refilled while the burst is in flight.
    expect(counts.ok).toBeGreaterThanOrEqual(5);
    expect(counts.ok).toBeLessThanOrEqual(6);
    expect(counts.ThrottlingException).toBe(15 - counts.ok!);
    expect(burst.filter((answer) => answer.code !== 'ok').every((answer) => answer.status === 400 && answer.message === THROTTLING_MESSAGE)).toBe(true);
    const metrics = await scrape(server);
    expect(sample(metrics, 'kms_throttled_requests_total', { quota_class: 'CreateKey' })).toBe(counts.ThrottlingException);
  });

  it('publishes the aws preset\'s limits (kms-api.md section 9) with the overrides applied', async () => {
    const metrics = await scrape(server);
    const limit = (quotaClass: string) => sample(metrics, 'kms_quota_limit_requests_per_second', { quota_class: quotaClass });
    expect(limit('symmetric')).toBe(100_000); // us-east-1
    expect(limit('rsa')).toBe(1_000);
    expect(limit('ml_dsa')).toBe(1_000);
    expect(limit('ecc')).toBe(ECC_RPS); // the override wins over the preset's 1,000
    expect(limit('CreateKey')).toBe(5);
    expect(limit('CreateGrant')).toBe(50);
    expect(limit('GetPublicKey')).toBe(2_000);
    expect(limit('ScheduleKeyDeletion')).toBe(15);
    expect(limit('GetParametersForImport')).toBe(1);
    expect(limit('datakeypair:ECC_NIST_P256')).toBe(100);
    expect(limit('datakeypair:RSA_2048')).toBe(20);
    expect(limit('datakeypair:RSA_4096')).toBe(1);
    expect(limit('ListAliases')).toBe(0.01);
    expect(limit('DescribeKey')).toBe(1);
  });

  /** A client in the SDK's standard retry mode (the default, named here so the test says what it tests). */
  const standardClient = (maxAttempts: number): KMSClient => new KMSClient({
    region: server.region, endpoint: server.url, credentials: server.credentials, retryMode: 'standard', maxAttempts,
  });
  const throttledRecords = (eventName: string): number => auditRecords(server)
    .filter((record) => record.eventName === eventName && record.errorCode === 'ThrottlingException').length;

  it('the JS SDK\'s standard mode retries ThrottlingException: every attempt reaches the server and is throttled', async () => {
    // ListAliases=0.01: one token, refilled after 100 s. The first call takes it; every later attempt is throttled.
    await standardClient(1).send(new ListAliasesCommand({}));
    const error = await standardClient(3).send(new ListAliasesCommand({})).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'ThrottlingException', message: THROTTLING_MESSAGE, $metadata: { httpStatusCode: 400, attempts: 3 } });
    expect(throttledRecords('ListAliases')).toBe(3);
    expect(sample(await scrape(server), 'kms_throttled_requests_total', { quota_class: 'ListAliases' })).toBe(3);
  });

  it('the JS SDK\'s standard mode gets through once the quota refills, and the server saw each attempt', async () => {
    // DescribeKey=1: one token per second; the retries (waits of up to 1 s, then 2 s, for throttles) wait for it.
    await standardClient(1).send(new DescribeKeyCommand({ KeyId: eccKeyId }));
    const answer = await standardClient(8).send(new DescribeKeyCommand({ KeyId: eccKeyId }));
    expect(answer.KeyMetadata?.KeyId).toBe(eccKeyId);
    const attempts = answer.$metadata.attempts!;
    expect(attempts).toBeGreaterThan(1);
    expect(throttledRecords('DescribeKey')).toBe(attempts - 1);
  });
});

describe('KMS_REGION and the aws preset', () => {
  it('a Region outside the large ones gets the 10,000/s symmetric quota', async () => {
    const server = await startServer({ env: { KMS_QUOTAS: 'aws', KMS_REGION: 'eu-north-1' } });
    try {
      const metrics = await scrape(server);
      expect(sample(metrics, 'kms_quota_limit_requests_per_second', { quota_class: 'symmetric' })).toBe(10_000);
      expect(sample(metrics, 'kms_quota_limit_requests_per_second', { quota_class: 'ecc' })).toBe(1_000);
    } finally {
      await server.remove();
    }
  });
});

describe('KMS_QUOTAS=symmetric=1000,Encrypt=5,GenerateRandom=1: an operation limit on top of its class quota', () => {
  const ENCRYPT_RPS = 5;
  let server: TestServer;
  let call: Caller;
  let keyId: string;

  beforeAll(async () => {
    server = await startServer({ env: { KMS_QUOTAS: `symmetric=1000,Encrypt=${ENCRYPT_RPS},GenerateRandom=1` } });
    call = rawCaller(server);
    keyId = keyIdOf((await call('CreateKey', {})).body);
  });

  afterAll(async () => {
    await server?.remove();
  });

  it('admits an Encrypt flood at about 5/s while Decrypt on the same symmetric key is not held to 5', async () => {
    const ciphertext = (await call('Encrypt', { KeyId: keyId, Plaintext: Buffer.from('hello').toString('base64') })).body.CiphertextBlob;
    await sleep(1_100); // the Encrypt bucket full again
    const started = performance.now();
    const [encrypts, decrypts] = await Promise.all([
      flood(call, {
        operation: 'Encrypt', loops: 8, durationMs: FLOOD_MS,
        input: () => ({ KeyId: keyId, Plaintext: Buffer.from('hello').toString('base64') }),
      }),
      // Held well under symmetric's 1,000/s (at most ~330/s: one loop, 3 ms between calls) on any machine, so only
      // refused Encrypts wrongly charged to symmetric could throttle it.
      flood(call, { operation: 'Decrypt', loops: 1, pauseMs: 3, durationMs: FLOOD_MS, input: () => ({ CiphertextBlob: ciphertext }) }),
    ]);
    const elapsedSeconds = (performance.now() - started) / 1000;
    const encryptCounts = countByCode(encrypts);
    const admitted = encryptCounts.ok ?? 0;
    const throttled = encrypts.filter((answer) => answer.code === 'ThrottlingException');
    console.log(`Encrypt=5 flood: ${admitted} admitted, ${throttled.length} throttled in ${elapsedSeconds.toFixed(2)} s; `
      + `Decrypt alongside: ${decrypts.length} ok`);
    expect(Object.keys(encryptCounts).sort()).toEqual(['ThrottlingException', 'ok']);
    for (const answer of throttled) expect(answer.message).toBe(THROTTLING_MESSAGE);
    // A full bucket of 5, then 5 per second.
    expect(admitted).toBeLessThanOrEqual(ENCRYPT_RPS + ENCRYPT_RPS * elapsedSeconds + 1);
    expect(admitted).toBeGreaterThanOrEqual(0.8 * ENCRYPT_RPS * (FLOOD_MS / 1000));
    // The thousands of refused Encrypts took nothing from symmetric: Decrypt, paced far under 1,000/s, always passes.
    expect(countByCode(decrypts)).toEqual({ ok: decrypts.length });
    expect(decrypts.length).toBeGreaterThan(10 * ENCRYPT_RPS * (FLOOD_MS / 1000));

    const metrics = await scrape(server);
    expect(sample(metrics, 'kms_throttled_requests_total', { quota_class: 'Encrypt' })).toBe(throttled.length);
    expect(sample(metrics, 'kms_throttled_requests_total', { quota_class: 'symmetric' })).toBe(0);
    expect(sample(metrics, 'kms_quota_limit_requests_per_second', { quota_class: 'Encrypt' })).toBe(ENCRYPT_RPS);
  });

  it('holds GenerateRandom to its own 1/s', async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, () => call('GenerateRandom', { NumberOfBytes: 16 })));
    const counts = countByCode(answers);
    expect(counts.ok, JSON.stringify(counts)).toBeGreaterThanOrEqual(1);
    expect(counts.ok, JSON.stringify(counts)).toBeLessThanOrEqual(2);
    expect(counts.ThrottlingException, JSON.stringify(counts)).toBeGreaterThanOrEqual(3);
  });
});
