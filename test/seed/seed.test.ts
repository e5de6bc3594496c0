// Seed files (seed-format.md) end to end: `kms-engine seed FILE` before any server ran, and KMS_SEED_FILE at
// start, on two stores with different root keys. Fixed material means the same keys everywhere: ciphertexts
// cross between the stores (and a ciphertext built offline from the material decrypts), MACs and public keys
// are what the material implies, aliases, tags and descriptions are applied, and applying again changes nothing.
import {
  DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateMacCommand, GetPublicKeyCommand, ListAliasesCommand,
  ListKeysCommand, ListResourceTagsCommand, SignCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { spawnSync } from 'node:child_process';
import {
  createCipheriv, createHash, createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify,
} from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OVERHEAD_BYTES, encodeHeader, HEADER_BYTES, IV_BYTES } from '../../src/contract/ciphertext-blob.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { startServer, type TestServer } from '../support/server.js';

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const work = mkdtempSync(join(tmpdir(), 'kms-seed-'));

const SYMMETRIC_ID = 'a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a01';
const HMAC_ID = 'a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a02';
const EC_ID = 'a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a03';
const GENERATED_ID = 'a3c1e6b0-5d2f-4e8a-9b71-0c4d2e6f8a04';

const symmetricMaterial = randomBytes(32);
const hmacMaterial = randomBytes(32);
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecPkcs8 = ec.privateKey.export({ format: 'der', type: 'pkcs8' });
const ecSpki = ec.publicKey.export({ format: 'der', type: 'spki' });
const TAGS = [{ TagKey: 'team', TagValue: 'payments' }, { TagKey: 'empty', TagValue: '' }];

const seedFile = writeJson('seed.json', {
  keys: [
    { keyId: SYMMETRIC_ID, material: symmetricMaterial.toString('base64'), aliases: ['alias/fixture/symmetric'], tags: TAGS, description: 'fixed symmetric key' },
    { keyId: HMAC_ID, keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC', material: hmacMaterial.toString('base64'), aliases: ['alias/fixture/hmac'] },
    { keyId: EC_ID, keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', material: ecPkcs8.toString('base64') },
    { keyId: GENERATED_ID },
  ],
});

function writeJson(name: string, document: unknown): string {
  const path = join(work, name);
  writeFileSync(path, typeof document === 'string' ? document : JSON.stringify(document));
  return path;
}

/** `kms-engine seed FILE` as a user runs it: its own process, the server's environment. */
function seedCommand(dataDir: string, file: string) {
  const result = spawnSync(process.execPath, [BIN, 'seed', file], {
    env: { ...process.env, KMS_DATA_DIR: dataDir, KMS_WORKERS: '1' }, encoding: 'utf8', timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const derivedMaterialId = (keyId: string, material: Uint8Array): string =>
  createHash('sha256').update('kms-engine/material-id/v1|').update(keyId).update('|').update(material).digest('hex');

let storeA: TestServer;
let storeB: TestServer;
let a: KMSClient;
let b: KMSClient;
const dirA = join(work, 'a');
let seeded: ReturnType<typeof seedCommand>;
let credentialsAfterSeed: boolean;

beforeAll(async () => {
  // Store A is seeded by the command before its server ever started; store B by KMS_SEED_FILE at start.
  seeded = seedCommand(dirA, seedFile);
  expect(seeded.status, seeded.output).toBe(0);
  credentialsAfterSeed = existsSync(join(dirA, 'credentials'));
  storeA = await startServer({ dataDir: dirA });
  storeB = await startServer({ env: { KMS_SEED_FILE: seedFile } });
  a = storeA.client();
  b = storeB.client();
});

afterAll(async () => {
  a?.destroy();
  b?.destroy();
  await storeA?.remove();
  await storeB?.remove();
  rmSync(work, { recursive: true, force: true });
});

describe('two stores seeded from one file', () => {
  it('the seed command leaves the root credentials to the server\'s first start, which makes and prints them once', () => {
    expect(seeded.output).not.toContain('AWS_SECRET_ACCESS_KEY');
    expect(credentialsAfterSeed, 'credentials made by the seed command').toBe(false);
    expect(storeA.output().match(/AWS_SECRET_ACCESS_KEY=/g)).toHaveLength(1);
    expect(storeA.output()).toContain(`AWS_SECRET_ACCESS_KEY=${storeA.credentials.secretAccessKey}`);
  });

  it('decrypt each other\'s ciphertexts under the fixed symmetric key', async () => {
    const fromA = await a.send(new EncryptCommand({ KeyId: 'alias/fixture/symmetric', Plaintext: Buffer.from('made on A') }));
    const onB = await b.send(new DecryptCommand({ CiphertextBlob: fromA.CiphertextBlob }));
    expect(Buffer.from(onB.Plaintext!).toString()).toBe('made on A');
    expect(onB.KeyMaterialId).toBe(derivedMaterialId(SYMMETRIC_ID, symmetricMaterial));
    const fromB = await b.send(new EncryptCommand({ KeyId: SYMMETRIC_ID, Plaintext: Buffer.from('made on B'), EncryptionContext: { k: 'v' } }));
    const onA = await a.send(new DecryptCommand({ CiphertextBlob: fromB.CiphertextBlob, EncryptionContext: { k: 'v' } }));
    expect(Buffer.from(onA.Plaintext!).toString()).toBe('made on B');
  });

  it('decrypt a ciphertext built offline from the material (what a test can hard-code)', async () => {
    const blob = Buffer.alloc(OVERHEAD_BYTES + 9);
    encodeHeader(SYMMETRIC_ID, derivedMaterialId(SYMMETRIC_ID, symmetricMaterial), blob);
    const iv = randomBytes(IV_BYTES);
    iv.copy(blob, HEADER_BYTES);
    const cipher = createCipheriv('aes-256-gcm', symmetricMaterial, iv).setAAD(blob.subarray(0, HEADER_BYTES));
    Buffer.concat([cipher.update('hardcoded'), cipher.final()]).copy(blob, OVERHEAD_BYTES);
    cipher.getAuthTag().copy(blob, HEADER_BYTES + IV_BYTES);
    for (const client of [a, b]) {
      const { Plaintext } = await client.send(new DecryptCommand({ CiphertextBlob: blob }));
      expect(Buffer.from(Plaintext!).toString()).toBe('hardcoded');
    }
  });

  it('compute the HMAC the material implies', async () => {
    const message = Buffer.from('seeded mac');
    const expected = createHmac('sha256', hmacMaterial).update(message).digest();
    for (const client of [a, b]) {
      const { Mac } = await client.send(new GenerateMacCommand({ KeyId: 'alias/fixture/hmac', MacAlgorithm: 'HMAC_SHA_256', Message: message }));
      expect(Buffer.from(Mac!).equals(expected)).toBe(true);
    }
  });

  it('publish the public key the material implies, and sign with its private key', async () => {
    const message = Buffer.from('seeded signature');
    for (const client of [a, b]) {
      const { PublicKey } = await client.send(new GetPublicKeyCommand({ KeyId: EC_ID }));
      expect(Buffer.from(PublicKey!).equals(ecSpki)).toBe(true);
      const { Signature } = await client.send(new SignCommand({ KeyId: EC_ID, SigningAlgorithm: 'ECDSA_SHA_256', Message: message }));
      expect(verify('sha256', message, createPublicKey({ key: ecSpki, format: 'der', type: 'spki' }), Buffer.from(Signature!))).toBe(true);
    }
  });

  it('apply ids, description, aliases and tags; keys without material are generated per store', async () => {
    for (const client of [a, b]) {
      const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: SYMMETRIC_ID }));
      expect(KeyMetadata).toMatchObject({ KeyId: SYMMETRIC_ID, KeyState: 'Enabled', Description: 'fixed symmetric key', Origin: 'AWS_KMS' });
      const { Tags } = await client.send(new ListResourceTagsCommand({ KeyId: SYMMETRIC_ID }));
      expect(Tags).toEqual(expect.arrayContaining(TAGS));
      expect(Tags).toHaveLength(2);
      const { Aliases } = await client.send(new ListAliasesCommand({ KeyId: HMAC_ID }));
      expect(Aliases!.map((alias) => alias.AliasName)).toEqual(['alias/fixture/hmac']);
      expect((await client.send(new DescribeKeyCommand({ KeyId: GENERATED_ID }))).KeyMetadata!.KeySpec).toBe('SYMMETRIC_DEFAULT');
    }
    // Generated material differs between stores: a ciphertext from A does not open on B.
    const fromA = await a.send(new EncryptCommand({ KeyId: GENERATED_ID, Plaintext: Buffer.from('x') }));
    await expect(b.send(new DecryptCommand({ CiphertextBlob: fromA.CiphertextBlob }))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('is idempotent: applying the file again exits 0 and changes nothing', async () => {
    const snapshot = async (client: KMSClient) => ({
      keys: (await client.send(new ListKeysCommand({}))).Keys,
      aliases: (await client.send(new ListAliasesCommand({}))).Aliases!.map((alias) => [alias.AliasName, alias.TargetKeyId, alias.CreationDate]),
      tags: (await client.send(new ListResourceTagsCommand({ KeyId: SYMMETRIC_ID }))).Tags,
      metadata: (await client.send(new DescribeKeyCommand({ KeyId: SYMMETRIC_ID }))).KeyMetadata,
    });
    const before = await snapshot(a);
    a.destroy();
    await storeA.stop();
    const again = seedCommand(dirA, seedFile);
    expect(again.status, again.output).toBe(0);
    expect(again.output).toMatch(/4 keys, 0 created/);
    storeA = await startServer({ dataDir: dirA });
    a = storeA.client();
    expect(await snapshot(a)).toEqual(before);
  });
});

describe('invalid seed files', () => {
  const validEntry = { keyId: 'b0000000-0000-4000-8000-000000000001', material: randomBytes(32).toString('base64') };
  const rsaPkcs8 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'der', type: 'pkcs8' });
  const badId = 'b0000000-0000-4000-8000-00000000000f';
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{"keys": [', /not valid JSON/],
    ['a keyId that is not a UUID', { keys: [{ keyId: 'NOT-A-UUID' }] }, /NOT-A-UUID.*field keyId/],
    ['an unknown keySpec', { keys: [{ keyId: badId, keySpec: 'AES_512' }] }, new RegExp(`${badId}.*field keySpec`)],
    ['a keyUsage not valid for the spec', { keys: [{ keyId: badId, keySpec: 'HMAC_256', keyUsage: 'SIGN_VERIFY' }] }, new RegExp(`${badId}.*field keyUsage`)],
    ['symmetric material of the wrong size', { keys: [{ keyId: badId, material: randomBytes(16).toString('base64') }] }, new RegExp(`${badId}.*field material`)],
    ['material of the wrong type (RSA for an EC spec)', {
      keys: [validEntry, { keyId: badId, keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', material: rsaPkcs8.toString('base64') }],
    }, new RegExp(`${badId}.*field material`)],
    ['a bad alias name', { keys: [{ keyId: badId, aliases: ['not-an-alias'] }] }, new RegExp(`${badId}.*field aliases`)],
    // OpenSSL's PKCS#8 decoder stops at the end of the PrivateKeyInfo: what follows it must not pass as part of the key.
    ['PKCS#8 material with bytes after the PrivateKeyInfo', {
      keys: [validEntry, { keyId: badId, keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', material: Buffer.concat([ecPkcs8, Buffer.from([0])]).toString('base64') }],
    }, new RegExp(`${badId}.*field material`)],
  ];

  it.each(cases)('%s: exits non-zero with a line naming the key and the field, and writes nothing', async (name, document, message) => {
    const dataDir = mkdtempSync(join(work, 'invalid-'));
    const result = seedCommand(dataDir, writeJson(`${name.replaceAll(' ', '-')}.json`, document));
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(message);
    // The file is validated whole before anything is written: the valid entry beside a bad one is not created.
    const store = new SqliteStore(join(dataDir, 'kms.sqlite'));
    try {
      expect(await store.listKeyIds(undefined, 10)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
