// The root key in a PKCS#11 token (SoftHSM2): KMS_ROOT_KEY=pkcs11:... creates a sensitive, non-extractable AES
// key in the token at first start, the workers wrap and unwrap inside the token, and the data directory holds
// no root.key and no unwrapped material. Keys made before a restart keep working after it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, ListKeysCommand, EncryptCommand, GenerateDataKeyCommand, GenerateMacCommand, SignCommand,
  VerifyCommand, VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { rootKeyIdOfWrapped } from '../../src/root-key/ring.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { startServer, type TestServer } from '../support/server.js';

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const ROOT_LABEL = 'kms-root';

let token: SoftHsmToken;
let server: TestServer | undefined;
let dataDir: string;

const serverEnv = () => ({ ...token.env, KMS_ROOT_KEY: token.uri(ROOT_LABEL) });

beforeAll(async () => {
  token = createSoftHsmToken();
  server = await startServer({ env: serverEnv() });
  dataDir = server.dataDir;
});
afterAll(async () => {
  await server?.remove();
  token?.remove();
});

describe('root key in a PKCS#11 token', () => {
  it('creates the root key in the token at first start: sensitive, not extractable, value unreadable', () => {
    expect(token.inspectKey(ROOT_LABEL)).toEqual({ extractable: false, sensitive: true, valueReadable: false });
  });

  it('serves encryption, signing and MAC keys; all keep working across a restart', async () => {
    let kms = server!.client();
    const symmetric = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const signing = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const mac = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    const message = Buffer.from('held by the token');
    const ciphertext = (await kms.send(new EncryptCommand({ KeyId: symmetric, Plaintext: message, EncryptionContext: { app: 'hsm' } }))).CiphertextBlob!;
    const signature = (await kms.send(new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
    const tag = (await kms.send(new GenerateMacCommand({ KeyId: mac, Message: message, MacAlgorithm: 'HMAC_SHA_256' }))).Mac!;
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: symmetric, KeySpec: 'AES_256' }));

    await server!.stop();
    server = await startServer({ env: serverEnv(), dataDir });
    kms = server.client();

    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { app: 'hsm' } }));
    expect(Buffer.from(decrypted.Plaintext!).equals(message)).toBe(true);
    const dataKeyAgain = await kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob! }));
    expect(Buffer.from(dataKeyAgain.Plaintext!).equals(Buffer.from(dataKey.Plaintext!))).toBe(true);
    const verified = await kms.send(new VerifyCommand({ KeyId: signing, Message: message, Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(verified.SignatureValid).toBe(true);
    const newSignature = (await kms.send(new SignCommand({ KeyId: signing, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
    expect((await kms.send(new VerifyCommand({ KeyId: signing, Message: message, Signature: newSignature, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
    expect((await kms.send(new VerifyMacCommand({ KeyId: mac, Message: message, Mac: tag, MacAlgorithm: 'HMAC_SHA_256' }))).MacValid).toBe(true);

    // The data directory: no root key file, and no trace of a plaintext data key in any file.
    await server.stop();
    expect(existsSync(join(dataDir, 'root.key'))).toBe(false);
    const plaintextKey = Buffer.from(dataKey.Plaintext!);
    for (const name of readdirSync(dataDir)) {
      expect(readFileSync(join(dataDir, name)).includes(plaintextKey), name).toBe(false);
    }
    // Every stored material is wrapped, under one and the same root key (the token's).
    const store = new SqliteStore(join(dataDir, 'kms.sqlite'));
    try {
      const rootKeyIds = new Set<string | undefined>();
      for (const keyId of [symmetric, signing, mac]) {
        const record = (await store.getKey(keyId))!;
        expect(record.materials.length).toBe(1);
        for (const material of record.materials) rootKeyIds.add(rootKeyIdOfWrapped(material.wrapped!));
      }
      expect(rootKeyIds.size).toBe(1);
      expect([...rootKeyIds][0]).toMatch(/^[0-9a-f]{16}$/);
    } finally {
      await store.close();
    }
  });
});

describe('KMS_ROOT_KEY problems stop the server with one line naming the variable', () => {
  const serve = (env: Record<string, string>) => spawnSync(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, ...token.env, PORT: '0', KMS_DATA_DIR: join(token.dir, 'refused'), KMS_WORKERS: '1', ...env },
    encoding: 'utf8', timeout: 30_000,
  });

  it('a wrong PIN', () => {
    const result = serve({ KMS_ROOT_KEY: `pkcs11:token=${token.label};object=${ROOT_LABEL}?module-path=${token.modulePath}&pin-value=00000000` });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^kms-engine: KMS_ROOT_KEY: cannot log in to the token: CKR_PIN_INCORRECT/m);
    expect(result.stderr).not.toContain('00000000');
  });

  it('a label the token does not hold, beside a store with material: refused, and no stray key made in the token', () => {
    // dataDir holds the material of the keys made above, under the token's kms-root key.
    const result = serve({ KMS_DATA_DIR: dataDir, KMS_ROOT_KEY: token.uri('kms-rooot') });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^kms-engine: KMS_ROOT_KEY: the token has no secret key labelled 'kms-rooot', and this store's material is under root key [0-9a-f]{16}: give the URI of the key that holds it\n$/);
    expect(token.inspectKey('kms-rooot')).toBeNull();
  });

  it('a URI without a PIN, for a token that requires one: named as such, also beside a store with material', () => {
    const noPin = `pkcs11:token=${token.label};object=${ROOT_LABEL}?module-path=${token.modulePath}`;
    for (const env of [{}, { KMS_DATA_DIR: dataDir }] as Record<string, string>[]) {
      const result = serve({ ...env, KMS_ROOT_KEY: noPin });
      expect(result.status).toBe(2);
      expect(result.stderr).toBe(`kms-engine: KMS_ROOT_KEY: token token=${token.label} requires a user PIN: add pin-source=file:/path/to/pin (or pin-value=) to the URI\n`);
    }
  });

  it('a mistyped PIN attribute: the message names the attribute, never the PIN', () => {
    const base = `pkcs11:token=${token.label};object=${ROOT_LABEL}?module-path=${token.modulePath}`;
    const colon = serve({ KMS_ROOT_KEY: `${base}&pin-value:97531864` });
    expect(colon.status).toBe(2);
    expect(colon.stderr).toBe('kms-engine: KMS_ROOT_KEY: query attribute 2 is not name=value\n');
    const encoding = serve({ KMS_ROOT_KEY: `${base}&pin-value=9753%zz1864` });
    expect(encoding.status).toBe(2);
    expect(encoding.stderr).toBe("kms-engine: KMS_ROOT_KEY: bad percent-encoding in the value of 'pin-value'\n");
  });

  it('a URI without module-path, and a token that does not exist', () => {
    const noModule = serve({ KMS_ROOT_KEY: `pkcs11:token=${token.label};object=${ROOT_LABEL}` });
    expect(noModule.status).toBe(2);
    expect(noModule.stderr).toMatch(/KMS_ROOT_KEY: needs module-path=/);
    const noToken = serve({ KMS_ROOT_KEY: `pkcs11:token=absent;object=${ROOT_LABEL}?module-path=${token.modulePath}&pin-source=file:${token.pinFile}` });
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toMatch(/KMS_ROOT_KEY: no initialized token matches token=absent/);
  });
});

describe('the token gone while the server runs', () => {
  let gone: SoftHsmToken;
  let running: TestServer | undefined;
  afterAll(async () => {
    await running?.remove();
    gone?.remove();
  });

  it('requests that need the root key answer KMSInternalException, the server lives on, and its log names the token failure', async () => {
    gone = createSoftHsmToken('kms-gone');
    const env = { ...gone.env, KMS_ROOT_KEY: gone.uri(ROOT_LABEL) };
    running = await startServer({ env });
    const keyId = (await running.client().send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const ciphertext = (await running.client().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }))).CiphertextBlob!;
    // A restart empties the caches: the next Decrypt must unwrap in the token.
    await running.stop();
    running = await startServer({ env, dataDir: running.dataDir });
    const kms = running.client();

    execFileSync('softhsm2-util', ['--delete-token', '--token', gone.label], { env: { ...process.env, ...gone.env }, stdio: 'ignore' });

    await expect(kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }))).rejects.toMatchObject({
      name: 'KMSInternalException', $metadata: { httpStatusCode: 500 },
    });
    await expect(kms.send(new CreateKeyCommand({}))).rejects.toMatchObject({
      name: 'KMSInternalException', $metadata: { httpStatusCode: 500 },
    });
    // What needs no root key is still served.
    expect((await kms.send(new ListKeysCommand({}))).Keys!.map((key) => key.KeyId)).toContain(keyId);
    // A worker thread's console output reaches the process's stderr through the main thread, after the answer may have.
    const failed = (call: string) => new RegExp(`kms-engine worker: the root key's PKCS#11 token failed: ${call} returned CKR_[A-Z_]+;`);
    for (let waited = 0; waited < 5_000 && !(failed('C_DecryptInit').test(running.output()) && failed('C_EncryptInit').test(running.output())); waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const log = running.output();
    expect(log).toMatch(failed('C_DecryptInit'));
    expect(log).toMatch(failed('C_EncryptInit'));
    expect(log).not.toContain(gone.pin);
  });
});

describe('several servers starting at once on a token without the root key (several nodes, first start)', () => {
  let shared: SoftHsmToken;
  afterAll(() => shared?.remove());

  /** Starts `kms-engine serve`; resolves with what it printed once it listens (then stops it) or exits. */
  const startOnce = (env: Record<string, string>) => new Promise<{ listened: boolean; code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', KMS_WORKERS: '2', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let listened = false;
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (!listened && /kms-engine listening on/.test(output)) {
        listened = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => resolve({ listened, code, output }));
  });

  it('keep one key in the token: each listens or exits 2 with one line, and then every one of them starts', async () => {
    shared = createSoftHsmToken('kms-nodes');
    const env = (node: number) => ({ ...shared.env, KMS_ROOT_KEY: shared.uri(ROOT_LABEL), KMS_DATA_DIR: join(shared.dir, `node-${node}`) });
    const nodes = [0, 1, 2, 3, 4];
    const starts = await Promise.all(nodes.map((node) => startOnce(env(node))));
    for (const start of starts) {
      if (start.listened) continue;
      // A refused start: the one line naming the variable, no stack trace.
      expect(start.code, start.output).toBe(2);
      expect(start.output, start.output).toMatch(/^kms-engine: KMS_ROOT_KEY: [^\n]+\n$/);
    }
    expect(shared.countKeys(ROOT_LABEL)).toBe(1);
    // One after the other now, each node starts on the key that was kept, and serves.
    for (const node of nodes) {
      const server = await startServer({ env: env(node), dataDir: env(node).KMS_DATA_DIR });
      try {
        const kms = server.client();
        const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`node ${node}`) }))).CiphertextBlob!;
        expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(`node ${node}`);
      } finally {
        await server.stop();
      }
    }
    expect(shared.countKeys(ROOT_LABEL)).toBe(1);
  });
});
