// `kms-engine rotate-root-key` when the operator gets the new root key wrong: one line naming the variable, exit 2,
// nothing re-wrapped, and never the advice to destroy the old root key when the "new" one is the same key (a
// copy of the file, or the file itself). The store's material stays under the current root key and opens.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootKeyIdOfWrapped } from '../../src/root-key/ring.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { runCli, type CliRun } from '../support/cli.js';
import { startServer } from '../support/server.js';

const KEY_ID = 'c0000000-0000-4000-8000-000000000001';
const work = mkdtempSync(join(tmpdir(), 'kms-rotate-errors-'));
const dataDir = join(work, 'data');
const rootKeyFile = join(dataDir, 'root.key');

const rotate = (env: Record<string, string>): CliRun => runCli(['rotate-root-key'], { KMS_DATA_DIR: dataDir, ...env });

async function storedRootKeyIds(): Promise<Array<string | undefined>> {
  const store = new SqliteStore(join(dataDir, 'kms.sqlite'));
  try {
    return (await store.getKey(KEY_ID))!.materials.map((material) => rootKeyIdOfWrapped(material.wrapped!));
  } finally {
    await store.close();
  }
}

let before: Array<string | undefined>;

beforeAll(async () => {
  const seedFile = join(work, 'seed.json');
  writeFileSync(seedFile, JSON.stringify({ keys: [{ keyId: KEY_ID, aliases: ['alias/rotate-errors'] }] }));
  const seeded = runCli(['seed', seedFile], { KMS_DATA_DIR: dataDir });
  expect(seeded.status, seeded.output).toBe(0);
  before = await storedRootKeyIds();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function expectRefused(run: CliRun, variable: string, reason: RegExp): void {
  expect(run.status, run.output).toBe(2);
  expect(run.lines, run.output).toHaveLength(1);
  expect(run.lines[0]).toMatch(new RegExp(`^kms-engine: ${variable}`));
  expect(run.lines[0]).toMatch(reason);
  expect(run.output).not.toMatch(/destroy/);
  const rootKey = readFileSync(rootKeyFile);
  for (const encoding of ['hex', 'base64'] as const) expect(run.output).not.toContain(rootKey.toString(encoding));
}

describe('rotate-root-key refuses', () => {
  it('a "new" root key that is the current root key file itself', () => {
    expectRefused(rotate({ KMS_NEW_ROOT_KEY_FILE: rootKeyFile }), 'KMS_NEW_ROOT_KEY_FILE', /holds the current root key/);
  });

  it('a "new" root key file that is a copy of the current one', () => {
    const copy = join(work, 'copy.key');
    copyFileSync(rootKeyFile, copy);
    expectRefused(rotate({ KMS_NEW_ROOT_KEY_FILE: copy }), 'KMS_NEW_ROOT_KEY_FILE', /holds the current root key/);
  });

  it('a new root key file of the wrong size', () => {
    const short = join(work, 'short.key');
    writeFileSync(short, Buffer.alloc(16, 7), { mode: 0o600 });
    expectRefused(rotate({ KMS_NEW_ROOT_KEY_FILE: short }), 'KMS_NEW_ROOT_KEY_FILE', /exactly 32 bytes/);
  });

  it('a run without the new root key', () => {
    expectRefused(rotate({}), 'rotate-root-key needs the new root key', /KMS_NEW_ROOT_KEY_FILE or KMS_NEW_ROOT_KEY/);
  });

  it('and leaves every material under the current root key, where a server opens it', async () => {
    expect(await storedRootKeyIds()).toEqual(before);
    const server = await startServer({ dataDir });
    const client = server.client();
    try {
      const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: 'alias/rotate-errors', Plaintext: Buffer.from('still here') }));
      const { Plaintext } = await client.send(new DecryptCommand({ CiphertextBlob }));
      expect(Buffer.from(Plaintext!).toString()).toBe('still here');
    } finally {
      client.destroy();
      await server.stop();
    }
  });
});
