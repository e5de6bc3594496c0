// SIGTERM: the server stops accepting connections, lets the requests it has started finish with 2xx, closes
// idle keep-alive connections instead of waiting for them, and exits 0 within 10 seconds, also right after a
// load run whose clients keep their connections warm. What it answered while draining is durable.
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { call, post } from './raw-client.js';

const EXIT_BOUND_MS = 10_000;
const servers: TestServer[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const server of servers.splice(0)) await server.remove();
});

async function start(env: Record<string, string> = {}, dataDir?: string): Promise<TestServer> {
  const server = await startServer({ env, dataDir });
  servers.push(server);
  return server;
}

/** SIGTERM and wait for exit: exit code and milliseconds taken. */
async function terminate(server: TestServer): Promise<{ code: number | null; ms: number }> {
  const startedAt = Date.now();
  const code = await server.stop('SIGTERM');
  const ms = Date.now() - startedAt;
  // Draining ended because nothing was left open, not because the deadline cut connections.
  expect(server.output()).not.toMatch(/still open after/);
  return { code, ms };
}

const refusesConnections = (port: number): Promise<boolean> => new Promise((resolve) => {
  const socket = connect({ host: '127.0.0.1', port });
  socket.once('connect', () => { socket.destroy(); resolve(false); });
  socket.once('error', () => resolve(true));
});

describe('SIGTERM', () => {
  it('finishes in-flight requests with 2xx, refuses new connections, closes idle keep-alive ones and exits 0', async () => {
    // Encrypt held 1.5 s in the pipeline: every one of them is mid-request when SIGTERM arrives.
    const server = await start({ KMS_LATENCY: 'Encrypt=fixed:1500ms' });
    const idleAgent = new Agent({ keepAlive: true, maxSockets: 4 });
    const keyId = ((await call(server, 'CreateKey', {}, idleAgent)).KeyMetadata as { KeyId: string }).KeyId;
    // Four keep-alive connections left open and idle.
    await Promise.all(Array.from({ length: 4 }, () => call(server, 'DescribeKey', { KeyId: keyId }, idleAgent)));
    const idleSockets = Object.values(idleAgent.freeSockets).flat();
    expect(idleSockets.length).toBe(4);
    const idleClosed = Promise.all(idleSockets.map((socket) => new Promise((resolve) => socket!.once('close', resolve))));

    const client = server.client();
    const plaintexts = Array.from({ length: 12 }, (_, i) => Buffer.from(`drained ${i}`));
    const inFlight = plaintexts.map((plaintext) => client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })));
    await sleep(500); // let every request reach the server (loopback: milliseconds)
    const stopped = terminate(server);
    await sleep(200);
    expect(await refusesConnections(server.port)).toBe(true);

    const encrypted = await Promise.all(inFlight);
    for (const response of encrypted) expect(response.$metadata.httpStatusCode).toBe(200);
    await idleClosed;
    const { code, ms } = await stopped;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(EXIT_BOUND_MS);
    idleAgent.destroy();
    client.destroy();

    // What was answered while draining was recorded and stays decryptable.
    const restarted = await start({}, server.dataDir);
    const again = restarted.client();
    for (const [i, response] of encrypted.entries()) {
      const { Plaintext } = await again.send(new DecryptCommand({ CiphertextBlob: response.CiphertextBlob }));
      expect(Buffer.from(Plaintext!).equals(plaintexts[i]!)).toBe(true);
    }
    again.destroy();
  });

  it('ends the process promptly after a load run whose clients keep sending on warm connections', async () => {
    const server = await start();
    const client = server.client();
    const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
    let exited = false;
    let ok = 0;
    const loop = async () => {
      while (!exited) {
        try {
          await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('load') }));
          ok++;
        } catch {
          await sleep(5); // refused or cut while the server stops: keep trying until it is gone
        }
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    while (ok < 300) await sleep(20);
    const { code, ms } = await terminate(server);
    exited = true;
    await Promise.all(loops);
    client.destroy();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(EXIT_BOUND_MS);
  });

  it('exits promptly with an idle keep-alive connection and no traffic', async () => {
    const server = await start();
    const agent = new Agent({ keepAlive: true });
    const response = await post(server, 'ListKeys', '{}', { agent });
    expect(response.status).toBe(200);
    const { code, ms } = await terminate(server);
    agent.destroy();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(EXIT_BOUND_MS);
  });
});
