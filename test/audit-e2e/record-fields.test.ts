// The audit record members kms-api.md section 10 names that the response cannot supply: the key material a call
// used (Encrypt's response has none), the algorithm a call defaulted, Decrypt's key by ARN, and the caller's
// principalId, stable across a restart. Real server, real SDK, the log read back as written, and the chain still
// verified by `kms-engine audit verify`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand, GenerateMacCommand, KMSClient, ListKeysCommand, ReEncryptCommand, RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startServer, type TestServer } from '../support/server.js';
import { ACCOUNT, arnOf, credentialsOf, OTHER_ACCOUNT, REGION, writeIdentitiesFile } from '../access/support.js';

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const dataDir = mkdtempSync(join(tmpdir(), 'kms-engine-audit-fields-'));
const logPath = join(dataDir, 'audit.jsonl');
const rootCredentials = credentialsOf('root');
const env = {
  KMS_ACCESS_KEY_ID: rootCredentials.accessKeyId, KMS_SECRET_ACCESS_KEY: rootCredentials.secretAccessKey,
  KMS_IDENTITIES: writeIdentitiesFile(dataDir), KMS_ACCOUNT_ID: ACCOUNT, KMS_REGION: REGION,
};

let server: TestServer;
const start = async () => {
  server = await startServer({ dataDir, env });
};
beforeAll(start);
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface AuditLine {
  eventName: string;
  requestID: string;
  errorCode?: string;
  recipientAccountId?: string;
  userIdentity: Record<string, unknown>;
  requestParameters: Record<string, unknown> | null;
  additionalEventData?: Record<string, unknown>;
}

/** The record of the call with this request id, as the log holds it. */
function recordOf(requestId: string): AuditLine {
  const records = readFileSync(logPath, 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as AuditLine);
  const matching = records.filter((record) => record.requestID === requestId);
  expect(matching).toHaveLength(1);
  return matching[0]!;
}

/** Sends a command and returns its output with the audit record it left. */
async function recorded<T>(client: KMSClient, command: object): Promise<{ output: T; record: AuditLine }> {
  const output = await client.send(command as never) as T & { $metadata: { requestId?: string } };
  return { output, record: recordOf(output.$metadata.requestId!) };
}

/** The record of a call that fails. */
async function recordedFailure(client: KMSClient, command: object): Promise<AuditLine> {
  try {
    await client.send(command as never);
  } catch (error) {
    return recordOf((error as { $metadata: { requestId: string } }).$metadata.requestId);
  }
  throw new Error('the call succeeded');
}

const currentMaterialOf = async (client: KMSClient, keyId: string): Promise<string> =>
  (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId!;

describe('audit records name what the call used', () => {
  it('Encrypt, Decrypt and ReEncrypt: the defaulted algorithm, the key material of each side, Decrypt\'s key by ARN', async () => {
    const root = server.client();
    const key = (await root.send(new CreateKeyCommand({}))).KeyMetadata!;
    const first = await currentMaterialOf(root, key.KeyId!);
    expect(first).toMatch(/^[0-9a-f]{64}$/);

    // No EncryptionAlgorithm given: the record shows the one used, and the material, which Encrypt's response lacks.
    const encrypted = await recorded<{ CiphertextBlob: Uint8Array }>(root, new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
    expect(encrypted.record.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyId: key.KeyId });
    expect(encrypted.record.additionalEventData).toMatchObject({ keyMaterialId: first });

    const decrypted = await recorded(root, new DecryptCommand({ CiphertextBlob: encrypted.output.CiphertextBlob }));
    expect(decrypted.record.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyId: key.Arn });
    expect(decrypted.record.additionalEventData).toMatchObject({ keyMaterialId: first });
    // Named by its bare id, Decrypt's key is still logged by ARN.
    const named = await recorded(root, new DecryptCommand({ CiphertextBlob: encrypted.output.CiphertextBlob, KeyId: key.KeyId }));
    expect(named.record.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyId: key.Arn });

    // After a rotation each call names the material it really used: new for new ciphertext, old for old.
    await root.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    const second = await currentMaterialOf(root, key.KeyId!);
    expect(second).not.toBe(first);
    const fresh = await recorded(root, new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('y'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }));
    expect(fresh.record.additionalEventData).toMatchObject({ keyMaterialId: second });
    const old = await recorded(root, new DecryptCommand({ CiphertextBlob: encrypted.output.CiphertextBlob }));
    expect(old.record.additionalEventData).toMatchObject({ keyMaterialId: first });
    const moved = await recorded(root, new ReEncryptCommand({ CiphertextBlob: encrypted.output.CiphertextBlob, DestinationKeyId: key.KeyId }));
    expect(moved.record.requestParameters).toEqual({
      destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', destinationKeyId: key.KeyId, sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    expect(moved.record.additionalEventData).toMatchObject({ sourceKeyMaterialId: first, destinationKeyMaterialId: second });
    expect(moved.record.additionalEventData?.keyMaterialId).toBeUndefined();

    // A failed call used no material.
    const refused = await recordedFailure(root, new DecryptCommand({ CiphertextBlob: Buffer.from('not a ciphertext at all') }));
    expect(refused.errorCode).toBe('InvalidCiphertextException');
    expect(refused.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(refused.additionalEventData?.keyMaterialId).toBeUndefined();
  });

  it('data keys name their wrapping key\'s material; RSA and HMAC keys, which AWS gives no material id, none', async () => {
    const root = server.client();
    const key = (await root.send(new CreateKeyCommand({}))).KeyMetadata!;
    const material = await currentMaterialOf(root, key.KeyId!);
    const dataKey = await recorded(root, new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
    expect(dataKey.record.additionalEventData).toMatchObject({ keyMaterialId: material });
    const pair = await recorded(root, new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: key.KeyId, KeyPairSpec: 'ECC_NIST_P256' }));
    expect(pair.record.additionalEventData).toMatchObject({ keyMaterialId: material });

    const rsa = (await root.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!;
    const rsaEncrypt = await recorded(root, new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: Buffer.from('z'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(rsaEncrypt.record.requestParameters).toEqual({ encryptionAlgorithm: 'RSAES_OAEP_SHA_256', keyId: rsa.KeyId });
    expect(rsaEncrypt.record.additionalEventData?.keyMaterialId).toBeUndefined();
    const hmac = (await root.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!;
    const mac = await recorded(root, new GenerateMacCommand({ KeyId: hmac.KeyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }));
    expect(mac.record.additionalEventData?.keyMaterialId).toBeUndefined();
  });
});

describe('userIdentity.principalId', () => {
  /** The userIdentity of a ListKeys call by this identity, allowed or not (both are recorded). */
  const identityOf = async (name: 'root' | 'admin' | 'bob' | 'app'): Promise<Record<string, unknown>> => {
    const client = server.client({ credentials: credentialsOf(name) });
    let requestId: string;
    try {
      requestId = (await client.send(new ListKeysCommand({}))).$metadata.requestId!;
    } catch (error) {
      requestId = (error as { $metadata: { requestId: string } }).$metadata.requestId;
    }
    return recordOf(requestId).userIdentity;
  };
  const idsOf = async () => ({
    root: await identityOf('root'), admin: await identityOf('admin'), bob: await identityOf('bob'), app: await identityOf('app'),
  });

  it('is the account for the root, AIDA... per IAM user, AROA...:session for a role session, the same after a restart', async () => {
    const before = await idsOf();
    expect(before.root).toMatchObject({ type: 'Root', principalId: ACCOUNT, arn: arnOf('root') });
    expect(before.admin).toMatchObject({ type: 'IAMUser', arn: arnOf('admin'), userName: 'admin' });
    expect(before.admin.principalId).toMatch(/^AIDA[A-Z2-7]{17}$/);
    expect(before.bob.principalId).toMatch(/^AIDA[A-Z2-7]{17}$/);
    expect(before.bob.principalId).not.toBe(before.admin.principalId);
    expect(before.app).toMatchObject({ type: 'AssumedRole', arn: arnOf('app') });
    expect(before.app.principalId).toMatch(/^AROA[A-Z2-7]{17}:worker-1$/);

    await server.stop();
    await start();
    expect(await idsOf()).toEqual(before);
  });
});

describe('userIdentity.sessionContext', () => {
  it('names the role that issued a session (sessionIssuer) and no MFA; a user and the root have none', async () => {
    const identityOf = async (name: 'root' | 'bob' | 'app'): Promise<Record<string, unknown>> => {
      const client = server.client({ credentials: credentialsOf(name) });
      const failed = await recordedFailure(client, new DescribeKeyCommand({ KeyId: 'alias/no-such-alias' }));
      return failed.userIdentity;
    };
    const app = await identityOf('app');
    expect(app.sessionContext).toEqual({
      attributes: { mfaAuthenticated: 'false' },
      sessionIssuer: {
        type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/app`, accountId: ACCOUNT, userName: 'app',
        // The role's own id: the part of the session's principalId before the session name.
        principalId: (app.principalId as string).split(':')[0],
      },
      webIdFederationData: {},
    });
    expect((await identityOf('bob')).sessionContext).toBeUndefined();
    expect((await identityOf('root')).sessionContext).toBeUndefined();
  });
});

describe('calls refused before an operation runs', () => {
  /** The one record of a failed call and the error the SDK saw. */
  const refusedRecord = async (client: KMSClient, command: object): Promise<{ error: string; record: AuditLine }> => {
    try {
      await client.send(command as never);
    } catch (error) {
      const e = error as { name: string; $metadata: { requestId: string } };
      return { error: e.name, record: recordOf(e.$metadata.requestId) };
    }
    throw new Error('the call succeeded');
  };
  /** A client that sends `target` as the operation, signed (the middleware runs before the signer). */
  const probing = (client: KMSClient, operation: string): KMSClient => {
    client.middlewareStack.add((next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amz-target'] = `TrentService.${operation}`;
      return next(args);
    }, { step: 'build', name: 'probeOperation' });
    return client;
  };

  it('a leaked key signed with a wrong secret, and a key nobody holds: the access key id tried, nothing vouched for', async () => {
    const bob = credentialsOf('bob');
    const wrongSecret = server.client({ credentials: { accessKeyId: bob.accessKeyId, secretAccessKey: 'not-bobs-secret-at-all-xxxxxxxx' } });
    const forged = await refusedRecord(wrongSecret, new ListKeysCommand({}));
    expect(forged.error).toBe('InvalidSignatureException');
    expect(forged.record.userIdentity).toEqual({ type: 'Unknown', accessKeyId: bob.accessKeyId });

    const removed = server.client({ credentials: { accessKeyId: 'AKIAREMOVEDKEY000001', secretAccessKey: 'whatever-it-was-xxxxxxxxxxxxxxxx' } });
    const unknown = await refusedRecord(removed, new ListKeysCommand({}));
    expect(unknown.error).toBe('UnrecognizedClientException');
    expect(unknown.record.userIdentity).toEqual({ type: 'Unknown', accessKeyId: 'AKIAREMOVEDKEY000001' });

    // No Authorization header at all: no key to name.
    const unsigned = await fetch(server.url, {
      method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' }, body: '{}',
    });
    expect(unsigned.status).toBe(400);
    expect(recordOf(unsigned.headers.get('x-amzn-requestid')!)).toMatchObject({
      eventName: 'ListKeys', errorCode: 'MissingAuthenticationTokenException', userIdentity: { type: 'Unknown' },
    });
    expect(recordOf(unsigned.headers.get('x-amzn-requestid')!).userIdentity).toEqual({ type: 'Unknown' });
  });

  it('a body past KMS_MAX_BODY_BYTES, refused unread: one record of the operation and the access key it claims', async () => {
    const bob = credentialsOf('bob');
    const oversized = await refusedRecord(server.client({ credentials: bob }), new EncryptCommand({ KeyId: 'alias/any', Plaintext: Buffer.alloc(1024 * 1024) }));
    expect(oversized.error).toBe('RequestEntityTooLargeException');
    expect(oversized.record).toMatchObject({
      eventName: 'Encrypt', errorCode: 'RequestEntityTooLargeException', requestParameters: null, userIdentity: { type: 'Unknown', accessKeyId: bob.accessKeyId },
    });
    // The server still serves, on a new connection.
    await server.client({ credentials: bob }).send(new ListKeysCommand({})).catch((error: { name: string }) => expect(error.name).toBe('AccessDeniedException'));
  });

  it('an operation that does not exist: one record naming what was tried and who tried it', async () => {
    const bob = await refusedRecord(probing(server.client({ credentials: credentialsOf('bob') }), 'ExportKeyMaterial'), new ListKeysCommand({}));
    expect(bob.error).toBe('UnknownOperationException');
    expect(bob.record).toMatchObject({
      eventName: 'ExportKeyMaterial', errorCode: 'UnknownOperationException', eventSource: 'kms.amazonaws.com', readOnly: true,
      requestParameters: null, recipientAccountId: ACCOUNT,
      userIdentity: { type: 'IAMUser', arn: arnOf('bob'), accessKeyId: credentialsOf('bob').accessKeyId },
    });

    // Signed with a wrong secret: the key it tried, vouched for by nobody.
    const wrongSecret = { accessKeyId: credentialsOf('bob').accessKeyId, secretAccessKey: 'not-bobs-secret-at-all-xxxxxxxx' };
    const forged = await refusedRecord(probing(server.client({ credentials: wrongSecret }), 'ExportKeyMaterial'), new ListKeysCommand({}));
    expect(forged.error).toBe('UnknownOperationException');
    expect(forged.record.userIdentity).toEqual({ type: 'Unknown', accessKeyId: wrongSecret.accessKeyId });

    // The name is the caller's to fill: the record keeps its first 128 characters.
    const long = await refusedRecord(probing(server.client({ credentials: credentialsOf('bob') }), 'X'.repeat(8000)), new ListKeysCommand({}));
    expect(long.error).toBe('UnknownOperationException');
    expect(long.record.eventName).toBe('X'.repeat(128));
  });
});

describe('the account a record goes to', () => {
  it('is the key owner\'s for a call on its key, the caller\'s for one refused to another account\'s principal', async () => {
    const root = server.client({ credentials: credentialsOf('root') });
    const eve = server.client({ credentials: credentialsOf('eve') });
    const { KeyMetadata } = await root.send(new CreateKeyCommand({ Policy: JSON.stringify({ Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Principal: { AWS: arnOf('root') }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Allow', Principal: { AWS: arnOf('eve') }, Action: 'kms:Encrypt', Resource: '*' },
    ] }) }));
    const arn = KeyMetadata!.Arn!;
    const used = await recorded(eve, new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }));
    expect(used.record.recipientAccountId).toBe(ACCOUNT);
    const refused = await recordedFailure(eve, new GenerateDataKeyWithoutPlaintextCommand({ KeyId: arn, NumberOfBytes: 16 }));
    expect(refused).toMatchObject({ errorCode: 'AccessDeniedException', recipientAccountId: OTHER_ACCOUNT });
    const ownRefused = await recordedFailure(server.client({ credentials: credentialsOf('bob') }), new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }));
    expect(ownRefused).toMatchObject({ errorCode: 'AccessDeniedException', recipientAccountId: ACCOUNT });
  });
});

describe('sourceIPAddress', () => {
  it('is an IPv4 caller\'s a.b.c.d also on a dual-stack listener (HOST=::), where its socket shows ::ffff:a.b.c.d', async () => {
    const dualStack = await startServer({ env: { HOST: '::' } });
    try {
      const client = new KMSClient({
        region: dualStack.region, endpoint: `http://127.0.0.1:${dualStack.port}`, credentials: dualStack.credentials, maxAttempts: 1,
      });
      const requestId = (await client.send(new ListKeysCommand({}))).$metadata.requestId!;
      await dualStack.stop();
      const records = readFileSync(join(dualStack.dataDir, 'audit.jsonl'), 'utf8').split('\n').filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { requestID: string; sourceIPAddress: string });
      expect(records.filter((record) => record.requestID === requestId).map((record) => record.sourceIPAddress)).toEqual(['127.0.0.1']);
    } finally {
      await dualStack.remove();
    }
  });
});

describe('kms-engine audit verify', () => {
  it('finds the chain with the new members intact', () => {
    const run = spawnSync(process.execPath, [BIN, 'audit', 'verify', logPath], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout).toMatch(/^OK .*: \d+ records intact/);
    expect(run.status).toBe(0);
  });
});
