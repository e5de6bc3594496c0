// The pool histograms' `operation` label is the KMS operation a job served (README "Metrics, quotas and the
// dashboard"), so they line up with kms_request_duration_seconds per operation: the *WithoutPlaintext data key
// operations run the same worker jobs as their plaintext siblings but are their own operations.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateKeyCommand, GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { startServer, type TestServer } from '../support/server.js';
import { sample, scrape } from '../e2e-quotas/flood.js';

const CALLS: Record<string, number> = {
  GenerateDataKey: 2, GenerateDataKeyWithoutPlaintext: 3, GenerateDataKeyPair: 1, GenerateDataKeyPairWithoutPlaintext: 2,
};

describe('pool job histograms by the operation each job served', () => {
  let server: TestServer;
  let exposition: string;

  beforeAll(async () => {
    server = await startServer({ env: { KMS_WORKERS: '1' } });
    const kms: KMSClient = server.client();
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (let i = 0; i < CALLS.GenerateDataKey!; i++) await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    for (let i = 0; i < CALLS.GenerateDataKeyWithoutPlaintext!; i++) {
      await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    }
    for (let i = 0; i < CALLS.GenerateDataKeyPair!; i++) await kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    for (let i = 0; i < CALLS.GenerateDataKeyPairWithoutPlaintext!; i++) {
      await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    }
    exposition = await scrape(server);
  }, 60_000);

  afterAll(async () => {
    await server?.remove();
  });

  it('counts each job under its own operation, as many as the requests of that operation', () => {
    for (const [operation, calls] of Object.entries(CALLS)) {
      expect(sample(exposition, 'kms_request_duration_seconds_count', { operation, key_spec: 'SYMMETRIC_DEFAULT', outcome: 'ok' }), operation).toBe(calls);
      expect(sample(exposition, 'kms_pool_job_wait_seconds_count', { operation }), operation).toBe(calls);
      expect(sample(exposition, 'kms_pool_job_run_seconds_count', { operation }), operation).toBe(calls);
    }
  });
});
