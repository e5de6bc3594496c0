// A full disk under the data directory while the server runs (a small tmpfs, filled by a file beside the store):
// calls that must write fail with an AWS-shaped KMSInternalException, the server stays up, and its log says why,
// once (the audit log's errno, SQLite's SQLITE_FULL), never the clients' data; when space returns, calls succeed
// again, the log says so, a restart opens the store and the audit log verifies. Root mounts the tmpfs, and the
// test unmounts it.
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSServiceException } from '@aws-sdk/client-kms';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startServer, type TestServer } from '../support/server.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'kms-full-disk-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop('SIGKILL');
  execFileSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Fills the volume: writes 64 KB blocks until the system refuses one. */
function fill(path: string): void {
  const block = Buffer.alloc(64 * 1024);
  const chunks: Buffer[] = [];
  for (;;) {
    chunks.push(block);
    try {
      writeFileSync(path, Buffer.concat(chunks));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw error;
    }
  }
}

async function failure(call: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  const error = await call.then(() => undefined, (thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(KMSServiceException);
  return { name: (error as KMSServiceException).name, status: (error as KMSServiceException).$metadata.httpStatusCode };
}

describe('a full disk under KMS_DATA_DIR', () => {
  it('fails writes with KMSInternalException, logs the cause once, and recovers when space returns', async () => {
    const dataDir = join(mountPoint, 'data');
    server = await startServer({ dataDir });
    const client = server.client();
    const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }));

    const filler = join(mountPoint, 'filler');
    fill(filler);
    for (let i = 0; i < 5; i++) {
      expect(await failure(client.send(new CreateKeyCommand({})))).toEqual({ name: 'KMSInternalException', status: 500 });
      expect(await failure(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('during') }))))
        .toEqual({ name: 'KMSInternalException', status: 500 });
    }
    const log = join(dataDir, 'audit.jsonl');
    const during = server.output();
    expect(during.split('\n').filter((line) => line.includes(`audit log ${log}`))).toEqual([
      `kms-engine: audit log ${log} cannot be written (ENOSPC): calls fail with KMSInternalException until it can`,
    ]);
    expect(during).toContain('kms-engine: internal error: SqliteError (SQLITE_FULL)');
    expect(during).not.toContain('during');

    rmSync(filler);
    const { KeyMetadata: after } = await client.send(new CreateKeyCommand({}));
    await client.send(new EncryptCommand({ KeyId: after!.KeyId, Plaintext: Buffer.from('after') }));
    const { Plaintext } = await client.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext!).toString()).toBe('before');
    expect(server.output()).toContain(`kms-engine: audit log ${log} is written again\n`);
    client.destroy();
    expect(await server.stop()).toBe(0);

    const verified = runCli(['audit', 'verify', log]);
    expect(verified.status, verified.output).toBe(0);
    server = await startServer({ dataDir });
    const again = server.client();
    const { Plaintext: still } = await again.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(still!).toString()).toBe('before');
    again.destroy();
  });
});
