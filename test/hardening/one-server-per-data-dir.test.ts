// Two replicas started on one KMS_DATA_DIR by mistake (one volume given to both): the second must not serve it.
// Both used to start, and both appended to the one audit log, each with its own hash chain, so `audit verify`
// found it broken at the second server's first record. The second now stops at start with one line naming
// KMS_DATA_DIR (exit 2); the first serves on with an intact log, and the directory is free again once the
// first has stopped, however it stopped (the lock dies with the process: SIGKILL leaves nothing to clear).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startServer, type TestServer } from '../support/server.js';

const servers: TestServer[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop('SIGKILL');
  if (servers[0] !== undefined) rmSync(servers[0].dataDir, { recursive: true, force: true });
});

describe('one server per data directory', () => {
  it('refuses a second server on a data directory a running server holds, and keeps its audit log intact', async () => {
    const first = await startServer({ env: { KMS_WORKERS: '1' } });
    servers.push(first);
    const client = first.client();
    const { KeyMetadata } = await client.send(new CreateKeyCommand({}));

    // Started after the first has listened for a while: a lock that is let go of (e.g. collected) would be gone.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const second = runCli(['serve'], { KMS_DATA_DIR: first.dataDir, PORT: '0', HOST: '127.0.0.1' }, { timeoutMs: 20_000 });
    expect(second.status, second.output).toBe(2);
    expect(second.lines).toEqual([
      `kms-engine: KMS_DATA_DIR: ${first.dataDir} is in use by another kms-engine server (one server per data directory)`,
    ]);

    await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('after the refusal') }));
    expect(await first.stop()).toBe(0);
    const verify = runCli(['audit', 'verify', join(first.dataDir, 'audit.jsonl')]);
    expect(verify.status, verify.output).toBe(0);
  }, 60_000);

  it('lets the next server start once the holder has gone, even killed', async () => {
    const dataDir = servers[0]!.dataDir;
    const killed = await startServer({ dataDir, env: { KMS_WORKERS: '1' } });
    servers.push(killed);
    await killed.stop('SIGKILL');
    const next = await startServer({ dataDir, env: { KMS_WORKERS: '1' } });
    servers.push(next);
    const { KeyMetadata } = await next.client().send(new CreateKeyCommand({}));
    expect(KeyMetadata!.KeyId).toBeDefined();
    expect(await next.stop()).toBe(0);
  }, 60_000);
});
