// `kms-engine rotate-root-key` when the operator gets a root key wrong: one line naming the variable, exit 2,
// nothing re-wrapped or created, and never the advice to destroy the old root key when the "new" one is the same
// key (a copy of the file, or the file itself). A current root key file that is missing is not made up, and one
// that is not the store's is refused before anything changes. The store's material stays under the current root
// key and opens. In a store that mixes root keys, the key whose material will not open is named (exit 1).
import { createSecretKey, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RootKeyRing, rootKeyIdOfSecret, rootKeyIdOfWrapped } from '../../src/root-key/ring.js';
import { copyKeyRecord } from '../../src/store/types.js';
import { FileRootKey } from '../../workers/root-key.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { runCli, type CliRun } from '../support/cli.js';
import { createSoftHsmToken } from '../support/softhsm.js';
import { startServer } from '../support/server.js';

const KEY_ID = 'c0000000-0000-4000-8000-000000000001';
const work = mkdtempSync(join(tmpdir(), 'kms-rotate-errors-'));
const dataDir = join(work, 'data');
const rootKeyFile = join(dataDir, 'root.key');

const rotate = (env: Record<string, string>, dir = dataDir): CliRun => runCli(['rotate-root-key'], { KMS_DATA_DIR: dir, ...env });

function seedInto(dir: string, keys: object[]): void {
  const seedFile = join(work, `seed-${keys.length}.json`);
  writeFileSync(seedFile, JSON.stringify({ keys }));
  const seeded = runCli(['seed', seedFile], { KMS_DATA_DIR: dir });
  expect(seeded.status, seeded.output).toBe(0);
}

function newKeyFile(name: string): string {
  const path = join(work, name);
  writeFileSync(path, randomBytes(32), { mode: 0o600 });
  return path;
}

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
  seedInto(dataDir, [{ keyId: KEY_ID, aliases: ['alias/rotate-errors'] }]);
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

  it('a current root key file that does not exist, without creating it', () => {
    const missing = join(work, 'no-such-root.key');
    expectRefused(rotate({ KMS_ROOT_KEY_FILE: missing, KMS_NEW_ROOT_KEY_FILE: newKeyFile('new-1.key') }), 'KMS_ROOT_KEY_FILE', /ENOENT/);
    expect(existsSync(missing)).toBe(false);
  });

  it('a current root key file that is not the store\'s', () => {
    expectRefused(rotate({ KMS_ROOT_KEY_FILE: newKeyFile('stranger.key'), KMS_NEW_ROOT_KEY_FILE: newKeyFile('new-2.key') }),
      'KMS_ROOT_KEY_FILE', /is not the root key this store's material is under \(root key [0-9a-f]{16}; given: /);
  });

  it('a refused run leaves no new root key file behind when it made one', () => {
    const unmade = join(work, 'not-yet-made.key');
    expectRefused(rotate({ KMS_ROOT_KEY_FILE: newKeyFile('stranger-2.key'), KMS_NEW_ROOT_KEY_FILE: unmade }),
      'KMS_ROOT_KEY_FILE', /is not the root key this store's material is under/);
    expect(existsSync(unmade)).toBe(false);
    expectRefused(rotate({ KMS_ROOT_KEY_FILE: join(work, 'no-such-root-2.key'), KMS_NEW_ROOT_KEY_FILE: unmade }), 'KMS_ROOT_KEY_FILE', /ENOENT/);
    expect(existsSync(unmade)).toBe(false);
  });

  it('a refused run leaves no new token key behind when it made one, and keeps one it did not make', async () => {
    const token = createSoftHsmToken('kms-rotate-refused');
    try {
      const intoToken = (current: Record<string, string>, object: string) =>
        rotate({ ...token.env, ...current, KMS_NEW_ROOT_KEY: token.uri(object) });
      expectRefused(intoToken({ KMS_ROOT_KEY_FILE: newKeyFile('stranger-3.key') }, 'not-yet-made'),
        'KMS_ROOT_KEY_FILE', /is not the root key this store's material is under/);
      expect(token.countKeys('not-yet-made')).toBe(0);
      expectRefused(intoToken({ KMS_ROOT_KEY_FILE: join(work, 'no-such-root-3.key') }, 'not-yet-made'), 'KMS_ROOT_KEY_FILE', /ENOENT/);
      expect(token.countKeys('not-yet-made')).toBe(0);
      // A key that was there before the run (step 1: a server restarted with KMS_NEW_ROOT_KEY made it) stays.
      const server = await startServer({ env: { ...token.env, KMS_ROOT_KEY: token.uri('made-before') } });
      await server.remove();
      expect(token.countKeys('made-before')).toBe(1);
      expectRefused(intoToken({ KMS_ROOT_KEY_FILE: newKeyFile('stranger-4.key') }, 'made-before'),
        'KMS_ROOT_KEY_FILE', /is not the root key this store's material is under/);
      expect(token.countKeys('made-before')).toBe(1);
    } finally {
      token.remove();
    }
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

describe('rotate-root-key on a store that mixes root keys', () => {
  it('names the key whose material no given root key opens, exit 1', async () => {
    const dir = join(work, 'mixed');
    const [first, second] = ['c0000000-0000-4000-8000-00000000000a', 'c0000000-0000-4000-8000-00000000000b'];
    seedInto(dir, [{ keyId: first }, { keyId: second }]);
    // The second key's material re-wrapped under a root key nobody was given (as a seed run with the wrong
    // KMS_ROOT_KEY_FILE once left it); the first key, the one a check looks at first, is under the right one.
    const strangerBytes = randomBytes(32);
    const stranger = new RootKeyRing({ id: rootKeyIdOfSecret(createSecretKey(strangerBytes)), key: new FileRootKey(strangerBytes), description: 'stranger' });
    const right = readFileSync(join(dir, 'root.key'));
    const current = new RootKeyRing({ id: rootKeyIdOfSecret(createSecretKey(right)), key: new FileRootKey(right), description: 'current' });
    const store = new SqliteStore(join(dir, 'kms.sqlite'));
    try {
      const record = (await store.getKey(second))!;
      const draft = copyKeyRecord(record);
      for (const material of draft.materials) {
        material.wrapped = stranger.wrap(second, material.materialId, current.unwrap(second, material.materialId, material.wrapped!));
      }
      draft.version = record.version + 1;
      await store.updateKey(draft, record.version);
    } finally {
      await store.close();
    }
    const run = rotate({ KMS_NEW_ROOT_KEY_FILE: newKeyFile('new-3.key') }, dir);
    expect(run.status, run.output).toBe(1);
    expect(run.lines.at(-1)).toMatch(new RegExp(`^kms-engine: key ${second}: cannot unwrap key material: it is wrapped under root key ${stranger.wrapWith.id}`));
    expect(run.output).not.toMatch(/destroy/);
  });
});
