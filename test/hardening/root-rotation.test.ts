// Root key rotation: `kms-engine rotate-root-key` re-wraps every stored key material under the new root key
// (KMS_NEW_ROOT_KEY_FILE / KMS_NEW_ROOT_KEY) while a server that holds both keys keeps answering; afterwards a
// server with only the new key (the old file gone) decrypts, verifies and signs with every key. Then the same
// command moves the material from a root key file into a PKCS#11 token (SoftHSM2).
import { execFile } from 'node:child_process';
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, RotateKeyOnDemandCommand, SignCommand,
  VerifyCommand, type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { RootKeyRing, rootKeyIdOfSecret, rootKeyIdOfWrapped, type HeldRootKey } from '../../src/root-key/ring.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { FileRootKey } from '../../workers/root-key.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { startServer, type TestServer } from '../support/server.js';

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const run = promisify(execFile);

function heldFileKey(bytes: Buffer): HeldRootKey {
  return { id: rootKeyIdOfSecret(createSecretKey(bytes)), key: new FileRootKey(bytes), description: 'test' };
}

describe('root key ring', () => {
  const material = randomBytes(32);
  const oldBytes = randomBytes(32);
  const newBytes = randomBytes(32);

  it('names the wrapping root key in each blob and unwraps with whichever key the blob names', () => {
    const before = new RootKeyRing(heldFileKey(oldBytes));
    const during = new RootKeyRing(heldFileKey(newBytes), [heldFileKey(oldBytes)]);
    const after = new RootKeyRing(heldFileKey(newBytes));
    const oldBlob = before.wrap('key-1', 'm1', material);
    const newBlob = during.wrap('key-1', 'm1', material);
    expect(rootKeyIdOfWrapped(oldBlob)).toBe(rootKeyIdOfSecret(createSecretKey(oldBytes)));
    expect(rootKeyIdOfWrapped(newBlob)).toBe(rootKeyIdOfSecret(createSecretKey(newBytes)));
    expect(during.unwrap('key-1', 'm1', oldBlob).equals(material)).toBe(true);
    expect(during.unwrap('key-1', 'm1', newBlob).equals(material)).toBe(true);
    expect(() => after.unwrap('key-1', 'm1', oldBlob)).toThrow(/wrapped under root key [0-9a-f]{16}, which this process does not hold/);
    // Still bound to key id and material id.
    expect(() => during.unwrap('key-2', 'm1', newBlob)).toThrow();
  });

  it('unwraps blobs written before the header existed (plain FileRootKey output) by trying each key', () => {
    const legacy = new FileRootKey(oldBytes).wrap('key-1', 'm1', material);
    expect(rootKeyIdOfWrapped(legacy)).toBeUndefined();
    const during = new RootKeyRing(heldFileKey(newBytes), [heldFileKey(oldBytes)]);
    expect(during.unwrap('key-1', 'm1', legacy).equals(material)).toBe(true);
    expect(() => new RootKeyRing(heldFileKey(newBytes)).unwrap('key-1', 'm1', legacy)).toThrow(/no held root key opens it/);
  });
});

describe('rotate-root-key', () => {
  let dir: string;
  let dataDir: string;
  let newKeyFile: string;
  let server: TestServer | undefined;
  let token: SoftHsmToken;

  const rotate = (env: Record<string, string>) => run(process.execPath, [BIN, 'rotate-root-key'], {
    env: { ...process.env, KMS_DATA_DIR: dataDir, ...env }, timeout: 60_000,
  });
  const storedRootKeyIds = async (): Promise<Set<string | undefined>> => {
    const store = new SqliteStore(join(dataDir, 'kms.sqlite'));
    try {
      const ids = new Set<string | undefined>();
      for (const keyId of await store.listKeyIds(undefined, 1000)) {
        for (const material of (await store.getKey(keyId))!.materials) ids.add(rootKeyIdOfWrapped(material.wrapped!));
      }
      return ids;
    } finally {
      await store.close();
    }
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kms-rotation-'));
    dataDir = join(dir, 'data');
    newKeyFile = join(dir, 'new-root.key');
    token = createSoftHsmToken();
  });
  afterAll(async () => {
    await server?.stop();
    token?.remove();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('without a new root key it refuses, naming the variables', async () => {
    await expect(rotate({})).rejects.toMatchObject({
      code: 2, stderr: expect.stringMatching(/rotate-root-key needs the new root key: set KMS_NEW_ROOT_KEY_FILE or KMS_NEW_ROOT_KEY/),
    });
  });

  it('re-wraps every material while the server keeps serving; the old root key is then not needed', async () => {
    // Keys under the original root key (data/root.key): a rotated symmetric key (two materials) and a signing key.
    server = await startServer({ dataDir });
    let kms: KMSClient = server.client();
    const symmetric = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const first = (await kms.send(new EncryptCommand({ KeyId: symmetric, Plaintext: Buffer.from('one') }))).CiphertextBlob!;
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: symmetric }));
    const second = (await kms.send(new EncryptCommand({ KeyId: symmetric, Plaintext: Buffer.from('two') }))).CiphertextBlob!;
    const signing = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const message = Buffer.from('signed before the rotation');
    const signature = (await kms.send(new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
    await server.stop();
    const oldId = rootKeyIdOfSecret(createSecretKey(readFileSync(join(dataDir, 'root.key'))));

    // Restart with the new root key beside the old: old material still opens, new material goes under the new key.
    const transition = { KMS_NEW_ROOT_KEY_FILE: newKeyFile };
    server = await startServer({ dataDir, env: transition });
    kms = server.client();
    const newId = rootKeyIdOfSecret(createSecretKey(readFileSync(newKeyFile)));
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: first }))).Plaintext!).toString()).toBe('one');
    const third = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const fresh = (await kms.send(new EncryptCommand({ KeyId: third, Plaintext: Buffer.from('three') }))).CiphertextBlob!;
    expect(await storedRootKeyIds()).toEqual(new Set([oldId, newId]));

    // The rotation runs while requests keep flowing; none of them fails.
    let rotating = true;
    let served = 0;
    const traffic = (async () => {
      while (rotating) {
        const [opened] = await Promise.all([
          kms.send(new DecryptCommand({ CiphertextBlob: second })),
          kms.send(new GenerateDataKeyCommand({ KeyId: symmetric, KeySpec: 'AES_256' })),
          kms.send(new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
        ]);
        expect(Buffer.from(opened.Plaintext!).toString()).toBe('two');
        served += 3;
      }
    })();
    const rotation = await rotate(transition).finally(() => { rotating = false; });
    await traffic;
    expect(served).toBeGreaterThan(0);
    expect(rotation.stdout).toContain(`re-wrapping key material under root key ${newId}`);
    expect(rotation.stdout).toContain('3 key material(s) in 2 of 3 key(s) re-wrapped');
    expect(rotation.stdout).toContain(`every stored key material is now under root key ${newId}`);
    expect(await storedRootKeyIds()).toEqual(new Set([newId]));
    // Running it again finds nothing to do.
    expect((await rotate(transition)).stdout).toContain('0 key material(s) in 0 of 3 key(s) re-wrapped');
    await server.stop();

    // The new key alone, the old one gone: everything still decrypts, verifies and signs.
    renameSync(join(dataDir, 'root.key'), join(dir, 'retired-root.key'));
    server = await startServer({ dataDir, env: { KMS_ROOT_KEY_FILE: newKeyFile } });
    kms = server.client();
    for (const [blob, text] of [[first, 'one'], [second, 'two'], [fresh, 'three']] as const) {
      expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(text);
    }
    expect((await kms.send(new VerifyCommand({ KeyId: signing, Message: message, Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
    const later = (await kms.send(new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
    expect((await kms.send(new VerifyCommand({ KeyId: signing, Message: message, Signature: later, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
    await server.stop();

    // From the file into a PKCS#11 token (offline this time), then serve from the token alone.
    const hsm = { ...token.env, KMS_ROOT_KEY_FILE: newKeyFile, KMS_NEW_ROOT_KEY: token.uri('kms-root') };
    const intoToken = await rotate(hsm);
    expect(intoToken.stdout).toContain('4 key material(s) in 3 of 3 key(s) re-wrapped');
    const [tokenId] = await storedRootKeyIds();
    expect(tokenId).not.toBe(newId);
    expect(token.inspectKey('kms-root')).toMatchObject({ extractable: false, valueReadable: false });
    renameSync(newKeyFile, join(dir, 'retired-new-root.key'));
    server = await startServer({ dataDir, env: { ...token.env, KMS_ROOT_KEY: token.uri('kms-root') } });
    kms = server.client();
    for (const [blob, text] of [[first, 'one'], [second, 'two'], [fresh, 'three']] as const) {
      expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(text);
    }
    expect((await kms.send(new VerifyCommand({ KeyId: signing, Message: message, Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
  });
});
