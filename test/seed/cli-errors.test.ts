// `kms-engine seed FILE` when the file and the store disagree, the file is not there or says more than the format
// defines: one line naming the file, the key and the field, a non-zero status, and nothing written. A key that exists with another spec or material,
// an alias that already names another key, a store whose material is under another root key: refused, never
// skipped, moved or mixed in. A mistyped file name creates no data directory. A seed beside a running server on
// the same data directory lands, and the server serves the seeded keys.
import { DescribeKeyCommand, EncryptCommand, DecryptCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite.js';
import { runCli, type CliRun } from '../support/cli.js';
import { startServer } from '../support/server.js';

const work = mkdtempSync(join(tmpdir(), 'kms-seed-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const K1 = 'd0000000-0000-4000-8000-000000000001';
const K2 = 'd0000000-0000-4000-8000-000000000002';
let files = 0;

function seedFile(document: unknown): string {
  const path = join(work, `seed-${++files}.json`);
  writeFileSync(path, JSON.stringify(document));
  return path;
}

const seed = (dataDir: string, file: string, env: Record<string, string> = {}): CliRun =>
  runCli(['seed', file], { KMS_DATA_DIR: dataDir, ...env });

/** Key ids and alias -> key id of a data directory's store. */
async function storeContents(dataDir: string) {
  const store = new SqliteStore(join(dataDir, 'kms.sqlite'));
  try {
    const keys = await store.listKeyIds(undefined, 100);
    const aliases = Object.fromEntries((await store.listAliases()).map((alias) => [alias.name, alias.keyId]));
    return { keys, aliases };
  } finally {
    await store.close();
  }
}

function expectRefused(run: CliRun, file: string, pattern: RegExp): void {
  expect(run.status, run.output).toBe(2);
  expect(run.lines, run.output).toHaveLength(1);
  expect(run.lines[0]!.startsWith(`kms-engine: ${file}: `), run.output).toBe(true);
  expect(run.lines[0]).toMatch(pattern);
}

/** A data directory seeded with K1 (fixed material, alias/taken). */
function seededDataDir(material = randomBytes(32)) {
  const dataDir = mkdtempSync(join(work, 'data-'));
  const first = seed(dataDir, seedFile({ keys: [{ keyId: K1, material: material.toString('base64'), aliases: ['alias/taken'] }] }));
  expect(first.status, first.output).toBe(0);
  return dataDir;
}

describe('seed refuses what it cannot apply as written, and writes nothing', () => {
  it('an alias that already names another key: it stays where it points, the new key is not created', async () => {
    const dataDir = seededDataDir();
    const file = seedFile({ keys: [{ keyId: K2, aliases: ['alias/mine', 'alias/taken'] }] });
    expectRefused(seed(dataDir, file), file, new RegExp(`keys\\[0\\] \\(${K2}\\): field aliases: alias/taken already exists and names key ${K1}`));
    expect(await storeContents(dataDir)).toEqual({ keys: [K1], aliases: { 'alias/taken': K1 } });
  });

  it('a key that exists with another keySpec', async () => {
    const dataDir = seededDataDir();
    const file = seedFile({ keys: [{ keyId: K2 }, { keyId: K1, keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' }] });
    expectRefused(seed(dataDir, file), file, new RegExp(`keys\\[1\\] \\(${K1}\\): field keySpec: the key exists with keySpec SYMMETRIC_DEFAULT`));
    expect((await storeContents(dataDir)).keys).toEqual([K1]);
  });

  it('a key that exists with other material, without printing either', async () => {
    const dataDir = seededDataDir();
    const other = randomBytes(32).toString('base64');
    const file = seedFile({ keys: [{ keyId: K1, material: other }] });
    const run = seed(dataDir, file);
    expectRefused(run, file, new RegExp(`keys\\[0\\] \\(${K1}\\): field material: the key exists with other key material`));
    expect(run.output).not.toContain(other);
  });

  it('a root key other than the one the store\'s material is under; the right one then applies the file', async () => {
    const dataDir = seededDataDir();
    const otherRootKey = join(work, 'other-root.key');
    writeFileSync(otherRootKey, randomBytes(32), { mode: 0o600 });
    const file = seedFile({ keys: [{ keyId: K2, aliases: ['alias/second'] }] });
    expectRefused(seed(dataDir, file, { KMS_ROOT_KEY_FILE: otherRootKey }), file, /wrapped under root key [0-9a-f]{16}, but KMS_ROOT_KEY_FILE holds root key [0-9a-f]{16}/);
    expect((await storeContents(dataDir)).keys).toEqual([K1]);
    const right = seed(dataDir, file);
    expect(right.status, right.output).toBe(0);
    expect(await storeContents(dataDir)).toEqual({ keys: [K1, K2], aliases: { 'alias/taken': K1, 'alias/second': K2 } });
  });

  it.each([
    ['a file that does not exist', join(work, 'no-such-seed.json'), /cannot be read \(ENOENT\)/],
    ['a directory', work, /cannot be read \(EISDIR\)/],
    ['a file that is not JSON', join(work, 'not-json.json'), /not valid JSON/],
  ])('%s: one line, and no data directory, store or root key made', (_name, file, pattern) => {
    writeFileSync(join(work, 'not-json.json'), '{"keys": [');
    const dataDir = join(work, `never-made-${++files}`);
    expectRefused(seed(dataDir, file), file, pattern);
    expect(existsSync(dataDir)).toBe(false);
  });

  it.each([
    ['HMAC_256 material of 4 bytes', 'HMAC_256', 'GENERATE_VERIFY_MAC', Buffer.alloc(4), /must be between 32 and 64 bytes long/],
    ['a P-256 key in SEC1, not PKCS#8', 'ECC_NIST_P256', 'SIGN_VERIFY',
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'der', type: 'sec1' }), /PKCS#8/],
  ])('%s: one line naming the field, and no data directory, store or root key made', (_name, keySpec, keyUsage, material, pattern) => {
    const file = seedFile({ keys: [{ keyId: K1, keySpec, keyUsage, material: material.toString('base64') }] });
    const dataDir = join(work, `never-made-${++files}`);
    expectRefused(seed(dataDir, file), file, new RegExp(`keys\\[0\\] \\(${K1}\\): field material: .*${pattern.source}`));
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('seed applies the file as written or not at all', () => {
  it.each([
    ['a misspelt key field', { keys: [{ keyId: K1, keyspec: 'HMAC_256' }] }, new RegExp(`keys\\[0\\] \\(${K1}\\): field keyspec is not a seed key field \\(keyId, keySpec,`)],
    ['a member beside "keys"', { keys: [{ keyId: K1 }], aliases: ['alias/top'] }, /: "aliases" is not a seed file member/],
  ])('%s: refused, no key created', async (_name, document, pattern) => {
    const dataDir = seededDataDir();
    const file = seedFile(document);
    expectRefused(seed(dataDir, file), file, pattern);
    expect(await storeContents(dataDir)).toEqual({ keys: [K1], aliases: { 'alias/taken': K1 } });
  });

  it('a file that starts with a byte order mark applies', async () => {
    const dataDir = mkdtempSync(join(work, 'data-'));
    const file = join(work, 'bom.json');
    writeFileSync(file, `\uFEFF${JSON.stringify({ keys: [{ keyId: K2, aliases: ['alias/bom'] }] })}`);
    const run = seed(dataDir, file);
    expect(run.status, run.output).toBe(0);
    expect(await storeContents(dataDir)).toEqual({ keys: [K2], aliases: { 'alias/bom': K2 } });
  });
});

describe('seed beside a running server on the same data directory', () => {
  it('applies, and the server serves the seeded keys by id and alias', async () => {
    const server = await startServer();
    const client = server.client();
    try {
      const material = randomBytes(32);
      const run = seed(server.dataDir, seedFile({ keys: [{ keyId: K1, material: material.toString('base64'), aliases: ['alias/live'] }, { keyId: K2 }] }));
      expect(run.status, run.output).toBe(0);
      expect(run.lines).toEqual([expect.stringMatching(/2 keys, 2 created$/)]);
      const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: 'alias/live', Plaintext: Buffer.from('seeded while serving') }));
      const { Plaintext, KeyId } = await client.send(new DecryptCommand({ CiphertextBlob }));
      expect([Buffer.from(Plaintext!).toString(), KeyId]).toEqual(['seeded while serving', expect.stringContaining(K1)]);
      expect((await client.send(new DescribeKeyCommand({ KeyId: K2 }))).KeyMetadata!.KeyState).toBe('Enabled');
    } finally {
      client.destroy();
      await server.remove();
    }
  });

  // The server had already read what the seed then changed: an alias it found missing, a key's tags. It used to
  // keep both from its caches for as long as it ran (NotFoundException for an alias ListAliases listed). The
  // file's new description is the key's too, as its tags are (it was left as first seeded).
  it('what the server had read before the seed changed it is served as the seed left it', async () => {
    const dataDir = seededDataDir();
    const server = await startServer({ dataDir });
    const client = server.client();
    try {
      const tagsOfK1 = async () => (await client.send(new ListResourceTagsCommand({ KeyId: K1 }))).Tags;
      await expect(client.send(new DescribeKeyCommand({ KeyId: 'alias/later' }))).rejects.toMatchObject({ name: 'NotFoundException' });
      expect(await tagsOfK1()).toEqual([]);
      const run = seed(dataDir, seedFile({ keys: [
        { keyId: K1, aliases: ['alias/taken', 'alias/later'], tags: [{ TagKey: 'team', TagValue: 'payments' }], description: 'seeded again' },
      ] }));
      expect(run.status, run.output).toBe(0);
      const wanted = { alias: K1, description: 'seeded again', tags: [{ TagKey: 'team', TagValue: 'payments' }] };
      const served = await eventually(async () => {
        const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: 'alias/later' }));
        return { alias: KeyMetadata!.KeyId, description: KeyMetadata!.Description, tags: await tagsOfK1() };
      }, wanted);
      expect(served).toEqual(wanted);
    } finally {
      client.destroy();
      await server.remove();
    }
  });
});

/**
 * What `read` answers once it succeeds and equals `wanted`: the server drops its caches within a second of the
 * seed's writes. After 10 s, the last answer or error, which the assertion then shows.
 */
async function eventually<T>(read: () => Promise<T>, wanted: T): Promise<T | unknown> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let last: T | unknown;
    try {
      last = await read();
      if (JSON.stringify(last) === JSON.stringify(wanted)) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
