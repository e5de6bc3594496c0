// KMS_QUOTAS with the in-memory quota store and KMS_FRONTENDS=2: the primary keeps the token buckets and the
// two front ends lease from them over the cluster IPC, so a Sign flood spread over both front ends admits what
// one 300/s bucket admits (not 300/s per front end), throttles the rest with ThrottlingException, and both
// front ends serve part of what is admitted.
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/harness/load.js';
import { freePort } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';
import { auditFiles, childPids, freshConnectionClient, metricSum, outcome, sleep } from './support.js';

const ECC_LIMIT = 300;
const FRONT_ENDS = 2;
/** A front end's lease: 5% of a second's quota. */
const BATCH = Math.ceil(ECC_LIMIT * 0.05);
const CONNECTIONS = 16;

let server: TestServer;
let keyId: string;

beforeAll(async () => {
  server = await startServer({ env: { KMS_FRONTENDS: String(FRONT_ENDS), KMS_WORKERS: '2', KMS_QUOTAS: `aws,ecc=${ECC_LIMIT}` } });
  keyId = (await server.client().send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
});

afterAll(async () => {
  await server?.remove();
});

/**
 * Sign load over `connections` connections for `seconds` (the bench harness's autocannon loader with pre-signed
 * requests); the primary hands the connections to the front ends in turn, so both serve.
 */
async function signFlood(seconds: number, connections = CONNECTIONS) {
  const body = JSON.stringify({ KeyId: keyId, Message: Buffer.from('quota').toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' });
  const result = await runLoad({
    target: { endpoint: server.url, region: server.region, credentials: server.credentials },
    workload: { label: 'sign', keys: {}, items: [{ scenario: 'sign', weight: 1, operation: 'Sign', bodies: [body] }] },
    connections, durationSeconds: seconds, timeoutSeconds: 10,
  });
  const throttled = result.errorCodes.ThrottlingException ?? 0;
  return {
    admitted: result.ok,
    throttled,
    other: result.non2xx + result.transportErrors - throttled,
    status400: result.statusCounts['400'] ?? 0,
    seconds: result.elapsedMs / 1000,
  };
}

/** Sign requests each front end audited as answered (no error code), by front-end index. */
function admittedSignsByFrontEnd(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [index, path] of auditFiles(server.dataDir)) {
    if (!existsSync(path)) continue;
    let count = 0;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.includes('"eventName":"Sign"')) continue;
      try {
        const record = JSON.parse(line) as { eventName?: string; errorCode?: string };
        if (record.eventName === 'Sign' && record.errorCode === undefined) count++;
      } catch {
        // a line being written right now
      }
    }
    counts.set(index, count);
  }
  return counts;
}

describe('KMS_QUOTAS with the in-memory store and KMS_FRONTENDS=2', () => {
  it('admits about what one 300/s bucket admits over both front ends, throttles the rest, and both front ends serve', async () => {
    expect(childPids(server.process.pid!)).toHaveLength(FRONT_ENDS);
    const flood = await signFlood(3);
    // What one bucket of 300/s (holding one second's worth) admits in the run, and on top of it what the leases
    // can add: each front end's lease in hand and the one it advanced before its first lease.
    const exact = ECC_LIMIT * (1 + flood.seconds);
    const upper = exact + FRONT_ENDS * 2 * BATCH;
    const summary = JSON.stringify({ ...flood, exact, upper });
    expect(flood.other, summary).toBe(0);
    expect(flood.status400, summary).toBe(flood.throttled); // every refusal is a 400 ThrottlingException
    // The offered load must be well over what even one bucket per front end would admit, or the bound below
    // would prove nothing.
    expect(flood.admitted + flood.throttled, `offered load (is the machine saturated?) ${summary}`).toBeGreaterThan(FRONT_ENDS * upper);
    expect(flood.admitted, summary).toBeLessThanOrEqual(upper);
    // Not starved either. Loose, as in test/cluster/quotas.test.ts: the elapsed time includes ramp-up and tail.
    expect(flood.admitted, summary).toBeGreaterThan(exact * 0.7);

    // Both front ends admitted part of it (their audit chains). The server counts a few more than the client
    // saw: requests still in flight when the loader stopped (at most one per connection).
    let byFrontEnd = new Map<number, number>();
    let audited = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      await sleep(100);
      byFrontEnd = admittedSignsByFrontEnd();
      const total = (byFrontEnd.get(1) ?? 0) + (byFrontEnd.get(2) ?? 0);
      if (total === audited && total >= flood.admitted) break;
      audited = total;
    }
    const served = JSON.stringify({ ...flood, exact, upper, byFrontEnd: [...byFrontEnd] });
    expect(audited, served).toBeGreaterThanOrEqual(flood.admitted);
    expect(audited, served).toBeLessThanOrEqual(flood.admitted + CONNECTIONS);
    expect(audited, served).toBeLessThanOrEqual(upper);
    for (const index of [1, 2]) expect(byFrontEnd.get(index) ?? 0, served).toBeGreaterThan(exact / 10);

    // /metrics, summed over the front ends, counts what the audit chains hold, and neither front end lost the primary.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metricSum(metrics, 'kms_request_duration_seconds_count', { operation: 'Sign', outcome: 'ok' })).toBe(audited);
    const throttled = metricSum(metrics, 'kms_throttled_requests_total', { quota_class: 'ecc' });
    expect(throttled).toBeGreaterThanOrEqual(flood.throttled);
    expect(throttled).toBeLessThanOrEqual(flood.throttled + CONNECTIONS);
    expect(metricSum(metrics, 'kms_quota_store_degraded')).toBe(0);
    expect(server.output()).not.toMatch(/unreachable/);
  });

  it('sustains 300/s over both front ends once the first second\'s bucket is spent', async () => {
    await signFlood(2); // drains the bucket
    const flood = await signFlood(3);
    // No full bucket to start from: about the rate alone over the run, plus the leases.
    const exact = ECC_LIMIT * flood.seconds;
    const summary = JSON.stringify({ ...flood, exact });
    expect(flood.other, summary).toBe(0);
    expect(flood.admitted, summary).toBeLessThanOrEqual(exact + ECC_LIMIT * 0.2 + FRONT_ENDS * 2 * BATCH);
    expect(flood.admitted, summary).toBeGreaterThan(exact * 0.7);
  });

  it('AWS\'s CreateKey quota (5/s): five CreateKey calls one after the other from one client all succeed', async () => {
    await sleep(1_100); // the bucket refills after beforeAll's CreateKey
    const client = server.client();
    for (let call = 1; call <= 5; call++) {
      // A batch of one token (5% of 5/s, rounded up) used to be asked for only by the next call, which it refused.
      const created = await client.send(new CreateKeyCommand({})).then(() => 'created', (error: Error) => `call ${call}: ${error.name}`);
      expect(created).toBe('created');
    }
  });
});

describe('KMS_QUOTAS=symmetric=300,Encrypt=5 with KMS_FRONTENDS=2: an operation limit on top of its class quota', () => {
  const ENCRYPT_RPS = 5;
  const SYMMETRIC_RPS = 300;
  const DECRYPT_RATE = 100;
  let opServer: TestServer;
  let symmetricKeyId: string;

  beforeAll(async () => {
    opServer = await startServer({ env: { KMS_FRONTENDS: String(FRONT_ENDS), KMS_WORKERS: '2', KMS_QUOTAS: `symmetric=${SYMMETRIC_RPS},Encrypt=${ENCRYPT_RPS}` } });
    symmetricKeyId = (await opServer.client().send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  });

  afterAll(async () => {
    await opServer?.remove();
  });

  const load = (operation: 'Encrypt' | 'Decrypt', body: object, seconds: number, rate?: number) => runLoad({
    target: { endpoint: opServer.url, region: opServer.region, credentials: opServer.credentials },
    workload: {
      label: operation, keys: {},
      items: [{ scenario: operation === 'Encrypt' ? 'encrypt' : 'decrypt', weight: 1, operation, bodies: [JSON.stringify(body)] }],
    },
    connections: 8, rate, durationSeconds: seconds, timeoutSeconds: 10,
  });

  it('holds Encrypt to about 5/s over both front ends, and its refusals leave the symmetric quota to Decrypt', async () => {
    const plaintext = Buffer.from('quota').toString('base64');
    const { CiphertextBlob } = await opServer.client().send(new EncryptCommand({ KeyId: symmetricKeyId, Plaintext: Buffer.from('quota') }));
    await sleep(1_100); // the Encrypt bucket full again
    const [encrypts, decrypts] = await Promise.all([
      load('Encrypt', { KeyId: symmetricKeyId, Plaintext: plaintext }, 3),
      load('Decrypt', { CiphertextBlob: Buffer.from(CiphertextBlob!).toString('base64') }, 3, DECRYPT_RATE),
    ]);
    const seconds = encrypts.elapsedMs / 1000;
    const summary = JSON.stringify({ encrypts: { ok: encrypts.ok, errors: encrypts.errorCodes, seconds }, decrypts: { ok: decrypts.ok, errors: decrypts.errorCodes } });
    // One bucket of 5 for the engine: 5 to start, 5 per second, and a lease of one in hand per front end.
    expect(encrypts.ok, summary).toBeLessThanOrEqual(ENCRYPT_RPS * (1 + seconds) + FRONT_ENDS * 2);
    expect(encrypts.ok, summary).toBeGreaterThan(ENCRYPT_RPS * seconds * 0.7);
    // Encrypt attempts far over the symmetric quota: had the refused ones spent symmetric tokens, Decrypt at a third
    // of that quota would be throttled too.
    expect(encrypts.errorCodes.ThrottlingException ?? 0, `offered load (is the machine saturated?) ${summary}`)
      .toBeGreaterThan(1.2 * SYMMETRIC_RPS * seconds);
    // Decrypt shares the symmetric class with Encrypt; the refused Encrypts spent none of it.
    expect(decrypts.errorCodes, summary).toEqual({});
    expect(decrypts.ok, summary).toBeGreaterThan(0.7 * DECRYPT_RATE * seconds);
    const metrics = await (await fetch(`${opServer.url}/metrics`)).text();
    expect(metricSum(metrics, 'kms_throttled_requests_total', { quota_class: 'symmetric' }), summary).toBe(0);
    console.log(`Encrypt=5 over ${FRONT_ENDS} front ends: ${summary}`);
  });
});

describe('KMS_FRONTENDS=2 with a Redis quota store that does not answer at start', () => {
  const ENCRYPT_RPS = 10;
  let redisless: TestServer;

  beforeAll(async () => {
    redisless = await startServer({ env: {
      KMS_FRONTENDS: String(FRONT_ENDS), KMS_WORKERS: '2', KMS_QUOTAS: `Encrypt=${ENCRYPT_RPS}`,
      KMS_QUOTA_STORE: `redis://127.0.0.1:${await freePort()}`, // nothing listens there
    } });
  });

  afterAll(async () => {
    await redisless?.remove();
  });

  it('counts each front end locally at its share of the node (1/2), not at the whole limit each', async () => {
    const lines = redisless.output().split('\n').filter((line) => line.includes('quota store unreachable'));
    expect(lines).toEqual(Array.from({ length: FRONT_ENDS },
      () => 'kms-engine: quota store unreachable; counting quotas locally at 1/2 of each limit until it is back'));
    // A burst over fresh connections (both front ends): the node admits about one second's Encrypt quota, as one
    // bucket would, not one per front end.
    const client = freshConnectionClient(redisless);
    const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const outcomes = await Promise.all(Array.from({ length: 3 * ENCRYPT_RPS }, () =>
      outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('burst') })))));
    const admitted = outcomes.filter((result) => result === 'ok').length;
    expect(outcomes.filter((result) => result !== 'ok' && result !== 'ThrottlingException')).toEqual([]);
    expect(admitted).toBeGreaterThanOrEqual(ENCRYPT_RPS * 0.7);
    expect(admitted).toBeLessThanOrEqual(ENCRYPT_RPS * 1.5);
  });
});
