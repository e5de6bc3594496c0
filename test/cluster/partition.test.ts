// One node cut off from the shared PostgreSQL while the others still reach it. It cannot hear their changes,
// and cannot tell this apart from PostgreSQL being down for every node (a restart, when nothing can change and
// its caches stay right): it keeps answering from its caches for KMS_STALE_CACHE_MS, then drops them, so a key
// disabled or a grant revoked meanwhile on another node is not honoured past that bound (AWS KMS documents
// minutes for such a change to reach all of it). Once the store is back, the node serves what it holds.
import {
  CreateGrantCommand, CreateKeyCommand, DisableKeyCommand, EncryptCommand, RevokeGrantCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import type { TestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { APP_ARN, APP_CREDENTIALS, outcome, sleep, startCluster, type TestCluster } from './helpers.js';

let postgres: TestPostgres;
let proxy: TcpProxy;
let cluster: TestCluster;
let cutOff: TestServer;

beforeAll(async () => {
  postgres = await startPostgres();
  proxy = await startTcpProxy(postgres.port);
  cluster = await startCluster({ nodes: 1, storeUrl: postgres.url, env: { KMS_STALE_CACHE_MS: '2000' } });
  cutOff = await cluster.addNode({ KMS_STORE: postgres.url.replace(`:${postgres.port}/`, `:${proxy.port}/`) });
});

afterAll(async () => {
  await cluster?.remove();
  await proxy?.close();
  await postgres?.remove();
});

const plaintext = Buffer.from('partitioned');

const encrypt = (client: KMSClient, keyId: string) => outcome(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })));

/** The node's kms_store_change_log_age_seconds. */
async function changeLogAge(node: TestServer): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith('kms_store_change_log_age_seconds '));
  return Number(line?.split(' ')[1]);
}

/** The node's GET /healthz, as a load balancer's health check sees it. */
async function health(node: TestServer): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${node.url}/healthz`);
  return { status: response.status, body: await response.json() };
}
const HEALTHY = { status: 200, body: { status: 'ok' } };

/** Waits (up to 20 s) for the node to print `line`. */
async function printed(node: TestServer, line: RegExp): Promise<void> {
  for (let waited = 0; !line.test(node.output()); waited += 100) {
    if (waited > 20_000) throw new Error(`the node never printed ${line}:\n${node.output()}`);
    await sleep(100);
  }
}

describe('a node cut off from the shared store', () => {
  it('answers from its caches for KMS_STALE_CACHE_MS, then honours nothing changed elsewhere meanwhile', async () => {
    const a = cluster.nodes[0]!.client();
    const b = cutOff.client();
    const appOnB = cutOff.client({ credentials: APP_CREDENTIALS });
    const disabled = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const granted = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { GrantId } = await a.send(new CreateGrantCommand({ KeyId: granted, GranteePrincipal: APP_ARN, Operations: ['Encrypt'] }));
    // B caches both keys and the grant list.
    expect([await encrypt(b, disabled), await encrypt(appOnB, granted)]).toEqual(['ok', 'ok']);

    await proxy.cut();
    // A PostgreSQL restart looks the same from here: cached keys keep serving within the bound, and the node
    // stays in its load balancer's rotation.
    expect([await encrypt(b, disabled), await encrypt(appOnB, granted)]).toEqual(['ok', 'ok']);
    expect(await health(cutOff)).toEqual(HEALTHY);
    await a.send(new DisableKeyCommand({ KeyId: disabled }));
    await a.send(new RevokeGrantCommand({ KeyId: granted, GrantId }));

    await printed(cutOff, /store change log unreadable for over 2000 ms \(KMS_STALE_CACHE_MS\)/);
    expect([await encrypt(b, disabled), await encrypt(appOnB, granted)]).toEqual(['DependencyTimeoutException', 'DependencyTimeoutException']);
    // /metrics says how stale each node's view is: past the bound on the cut-off node, a poll's age on the other.
    expect(await changeLogAge(cutOff)).toBeGreaterThan(2);
    expect(await changeLogAge(cluster.nodes[0]!)).toBeLessThan(2);
    // It can serve no key now: /healthz takes it out of rotation (the other node stays in), so a load balancer
    // sends its share of the traffic to a node that can answer it.
    expect(await health(cutOff)).toEqual({ status: 503, body: { status: 'store unreachable' } });
    expect(await health(cluster.nodes[0]!)).toEqual(HEALTHY);

    await proxy.restore();
    await printed(cutOff, /store change log readable again/);
    expect(await changeLogAge(cutOff)).toBeLessThan(2);
    expect(await health(cutOff)).toEqual(HEALTHY);
    expect([await encrypt(b, disabled), await encrypt(appOnB, granted)]).toEqual(['DisabledException', 'AccessDeniedException']);
  });
});

describe('a store whose change log went back', () => {
  it('is heard again after a failover to a replica that had not caught up (the sequence restarts below what nodes saw)', async () => {
    const a = cluster.nodes[0]!.client();
    const b = cutOff.client();
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(await encrypt(b, keyId)).toBe('ok'); // B caches it, having seen every change so far
    // What an asynchronous replica promoted before it replayed the last changes holds: fewer changes, and a
    // sequence that hands out numbers B has already seen.
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query('TRUNCATE kms_changes');
      await admin.query(`SELECT setval(pg_get_serial_sequence('kms_changes', 'seq'), 1, false)`);
    } finally {
      await admin.end();
    }
    await a.send(new DisableKeyCommand({ KeyId: keyId }));
    let result = 'ok';
    for (let waited = 0; waited <= 10_000 && result === 'ok'; waited += 100) { // a change is heard within a second
      result = await encrypt(b, keyId);
      if (result === 'ok') await sleep(100);
    }
    expect(result).toBe('DisabledException');
    await printed(cutOff, /store change log went back/);
  });
});
