// KMS_LATENCY on the wire, against a real server: the drawn latency stands for AWS's network and service time,
// so every answer to the operation waits it, not only successes: a quota's ThrottlingException, an injected
// fault and a refused request wait too (the server's own kms_request_duration_seconds shows each wait).
import { GenerateRandomCommand, ListAliasesCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { startServer, type TestServer } from '../support/server.js';
import { sample, scrape } from '../e2e-quotas/flood.js';

const DELAY_SECONDS = 0.4;

describe('KMS_LATENCY holds every answer of the operation', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({
      env: {
        KMS_LATENCY: `ListAliases=fixed:${DELAY_SECONDS}s;GenerateRandom=fixed:${DELAY_SECONDS}s;ListKeys=fixed:${DELAY_SECONDS}s`,
        // ListAliases=0.01: one token, so the second call is throttled.
        KMS_QUOTAS: 'ListAliases=0.01',
        KMS_FAULTS: 'ThrottlingException=1@GenerateRandom',
      },
    });
  });
  afterAll(async () => { await server?.remove(); });

  it('successes, quota throttles, injected faults and validation errors alike', async () => {
    const client = server.client();
    await client.send(new ListAliasesCommand({}));
    expect(await failure(client.send(new ListAliasesCommand({})))).toMatchObject({ name: 'ThrottlingException', status: 400 });
    expect(await failure(client.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))).toMatchObject({ name: 'ThrottlingException' });
    expect(await failure(client.send(new ListKeysCommand({ Limit: 0 })))).toMatchObject({ name: 'ValidationException' });

    const metrics = await scrape(server);
    for (const [operation, outcome] of [
      ['ListAliases', 'ok'], ['ListAliases', 'ThrottlingException'], ['GenerateRandom', 'ThrottlingException'],
      ['ListKeys', 'ValidationException'],
    ] as const) {
      const labels = { operation, key_spec: '', outcome };
      expect(sample(metrics, 'kms_request_duration_seconds_count', labels), `${operation} ${outcome}`).toBe(1);
      // A lower bound only: the server held the answer at least the fixed delay, however busy the machine.
      expect(sample(metrics, 'kms_request_duration_seconds_sum', labels), `${operation} ${outcome}`).toBeGreaterThanOrEqual(DELAY_SECONDS);
    }
  });
});
