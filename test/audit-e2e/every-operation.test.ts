// kms-api.md section 10 for every operation the engine serves, succeeded and failed: one CloudTrail record per
// call with the members section 10 lists (identity, time, source, request parameters without secrets, response
// elements only where CloudTrail keeps them, resources, readOnly, error code and message), no secret sent or
// received anywhere in the log, `kms-engine audit verify` on the log and on a copy with one byte changed, and
// tlsDetails on calls that came over HTTPS. Real servers, the real SDK, the log read back as written.
import { execFileSync, spawnSync } from 'node:child_process';
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Kms from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, AuditResource } from '../../src/audit/record.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startServer, type TestServer } from '../support/server.js';
import { ACCOUNT, arnOf, credentialsOf, REGION, ROOT_ARN, writeIdentitiesFile } from '../access/support.js';

const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');
const dataDir = mkdtempSync(join(tmpdir(), 'kms-engine-audit-every-'));
const logPath = join(dataDir, 'audit.jsonl');
const rootCredentials = credentialsOf('root');

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    dataDir,
    env: {
      KMS_ACCESS_KEY_ID: rootCredentials.accessKeyId, KMS_SECRET_ACCESS_KEY: rootCredentials.secretAccessKey,
      KMS_IDENTITIES: writeIdentitiesFile(dataDir), KMS_ACCOUNT_ID: ACCOUNT, KMS_REGION: REGION,
      // Small enough to throttle on purpose, on an operation nothing else here calls more than once a second.
      KMS_QUOTAS: 'ListAliases=1',
    },
  });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** One parsed line of the log: the record the engine built (src/audit/record.ts) as JSON. */
type AuditLine = AuditRecord;

const readRecords = (path = logPath): AuditLine[] =>
  readFileSync(path, 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as AuditLine);

interface Call {
  operation: string;
  requestId: string;
  output?: Record<string, any>;
  error?: string;
  message?: string;
}

/** Sends `operation` (by its API name) and returns its output or AWS error, with the request id either way. */
async function send(client: Kms.KMSClient, operation: string, input: object): Promise<Call> {
  const Command = (Kms as unknown as Record<string, new (input: object) => object>)[`${operation}Command`]!;
  try {
    const output = await client.send(Command === undefined ? undefined as never : new Command(input) as never) as Record<string, any>;
    return { operation, requestId: output.$metadata.requestId, output };
  } catch (error) {
    const e = error as { name: string; message: string; $metadata: { requestId: string } };
    return { operation, requestId: e.$metadata.requestId, error: e.name, message: e.message };
  }
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const keyResource = (arn: string): AuditResource => ({ ARN: arn, accountId: ACCOUNT, type: 'AWS::KMS::Key' });
const aliasResource = (name: string): AuditResource => ({ ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`, accountId: ACCOUNT, type: 'AWS::KMS::Alias' });

/** The members every record of an API call has, whatever the operation (section 10). */
function expectCommonMembers(record: AuditLine, call: Call): void {
  expect(record, call.operation).toMatchObject({
    eventVersion: '1.11', eventSource: 'kms.amazonaws.com', eventName: call.operation, awsRegion: REGION,
    sourceIPAddress: '127.0.0.1', requestID: call.requestId, eventType: 'AwsApiCall', managementEvent: true,
    eventCategory: 'Management', recipientAccountId: ACCOUNT,
  });
  expect(record.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(Math.abs(Date.parse(record.eventTime) - Date.now())).toBeLessThan(120_000);
  expect(record.eventID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(record.userAgent).toContain('aws-sdk-js');
  expect(typeof record.readOnly).toBe('boolean');
  for (const resource of record.resources) expect(resource.accountId).toBe(ACCOUNT);
  if (call.error === undefined) {
    expect(record).not.toHaveProperty('errorCode');
    expect(record).not.toHaveProperty('errorMessage');
  } else {
    expect(record.errorCode).toBe(call.error);
    expect(record.errorMessage).toBe(call.message);
    expect(record.responseElements).toBeNull();
  }
}

/** Everything a call sent or received that must never reach the log, base64 as on the wire (and hex). */
const secrets = new Map<string, string>();
const keep = (what: string, bytes: Uint8Array | string | undefined): void => {
  if (bytes === undefined) throw new Error(`${what}: nothing to keep`);
  secrets.set(what, typeof bytes === 'string' ? bytes : b64(bytes));
  if (typeof bytes !== 'string') secrets.set(`${what} (hex)`, Buffer.from(bytes).toString('hex'));
};

describe('every operation, succeeded', () => {
  it('leaves one record with section 10\'s members and values', async () => {
    const root = server.client();
    const calls: Call[] = [];
    const expected = new Map<Call, Partial<AuditLine>>();
    /** Runs a call that must succeed and notes what its record must hold besides the common members. */
    const ok = async (operation: string, input: object, record: Partial<AuditLine>) => {
      const call = await send(root, operation, input);
      expect(call.error, `${operation}: ${call.message}`).toBeUndefined();
      calls.push(call);
      expected.set(call, record);
      return call.output!;
    };
    const createKey = async (input: object) => {
      const output = await ok('CreateKey', input, { readOnly: false });
      const metadata = output.KeyMetadata as { KeyId: string; Arn: string };
      expected.get(calls.at(-1)!)!.resources = [keyResource(metadata.Arn)];
      return metadata;
    };
    const symmetric = await createKey({ Description: 'every operation', Tags: [{ TagKey: 'team', TagValue: 'audit' }] });
    const created = readRecords().find((r) => r.requestID === calls[0]!.requestId)!;
    expect(created.requestParameters).toEqual({ description: 'every operation', tags: [{ tagKey: 'team', tagValue: 'audit' }] });
    expect(created.responseElements).toMatchObject({ keyMetadata: { keyId: symmetric.KeyId, arn: symmetric.Arn, keyState: 'Enabled' } });
    const signing = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const rsa = await createKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const hmac = await createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const agreement = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    const external = await createKey({ Origin: 'EXTERNAL' });
    const sym = [keyResource(symmetric.Arn)];

    await ok('DescribeKey', { KeyId: symmetric.KeyId }, { readOnly: true, requestParameters: { keyId: symmetric.KeyId }, responseElements: null, resources: sym });
    await ok('ListKeys', {}, { readOnly: true, responseElements: null, resources: [] });
    await ok('DisableKey', { KeyId: symmetric.KeyId }, { readOnly: false, requestParameters: { keyId: symmetric.KeyId }, responseElements: null, resources: sym });
    await ok('EnableKey', { KeyId: symmetric.KeyId }, { readOnly: false, requestParameters: { keyId: symmetric.KeyId }, responseElements: null, resources: sym });
    await ok('UpdateKeyDescription', { KeyId: symmetric.KeyId, Description: 'renamed' }, {
      readOnly: false, requestParameters: { keyId: symmetric.KeyId, description: 'renamed' }, responseElements: null, resources: sym,
    });

    const plaintext = randomBytes(48);
    keep('plaintext', plaintext);
    const context = { purpose: 'audit' };
    const encrypted = await ok('Encrypt', { KeyId: symmetric.KeyId, Plaintext: plaintext, EncryptionContext: context }, {
      readOnly: true, responseElements: null, resources: sym,
      requestParameters: { keyId: symmetric.KeyId, encryptionContext: context, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
    });
    keep('ciphertext', encrypted.CiphertextBlob);
    await ok('Decrypt', { CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }, {
      readOnly: true, responseElements: null, resources: sym,
      requestParameters: { keyId: symmetric.Arn, encryptionContext: context, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
    });
    const reEncrypted = await ok('ReEncrypt', {
      CiphertextBlob: encrypted.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: symmetric.Arn, DestinationEncryptionContext: { to: 'x' },
    }, {
      readOnly: true, responseElements: null,
      requestParameters: {
        sourceEncryptionContext: context, destinationKeyId: symmetric.Arn, destinationEncryptionContext: { to: 'x' },
        sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      },
    });
    keep('re-encrypted ciphertext', reEncrypted.CiphertextBlob);
    const dataKey = await ok('GenerateDataKey', { KeyId: symmetric.KeyId, NumberOfBytes: 32, EncryptionContext: context }, {
      readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, numberOfBytes: 32, encryptionContext: context },
    });
    keep('data key', dataKey.Plaintext);
    keep('data key ciphertext', dataKey.CiphertextBlob);
    const wrappedDataKey = await ok('GenerateDataKeyWithoutPlaintext', { KeyId: symmetric.KeyId, KeySpec: 'AES_128' }, {
      readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, keySpec: 'AES_128' },
    });
    keep('data key ciphertext without plaintext', wrappedDataKey.CiphertextBlob);
    const pair = await ok('GenerateDataKeyPair', { KeyId: symmetric.KeyId, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: context }, {
      readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, keyPairSpec: 'ECC_NIST_P256', encryptionContext: context },
    });
    keep('data key pair private key', pair.PrivateKeyPlaintext);
    keep('data key pair private key ciphertext', pair.PrivateKeyCiphertextBlob);
    keep('data key pair public key', pair.PublicKey);
    const wrappedPair = await ok('GenerateDataKeyPairWithoutPlaintext', { KeyId: symmetric.KeyId, KeyPairSpec: 'RSA_2048' }, {
      readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, keyPairSpec: 'RSA_2048' },
    });
    keep('RSA data key pair private key ciphertext', wrappedPair.PrivateKeyCiphertextBlob);
    const random = await ok('GenerateRandom', { NumberOfBytes: 40 }, { readOnly: true, requestParameters: null, responseElements: null, resources: [] });
    keep('random bytes', random.Plaintext);

    const message = randomBytes(40);
    keep('message', message);
    const sig = [keyResource(signing.Arn)];
    // Section 10: Sign/Verify -> {keyId, signingAlgorithm, messageType}; left out, the message type is RAW.
    const signed = await ok('Sign', { KeyId: signing.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }, {
      readOnly: true, responseElements: null, resources: sig,
      requestParameters: { keyId: signing.KeyId, signingAlgorithm: 'ECDSA_SHA_256', messageType: 'RAW' },
    });
    keep('signature', signed.Signature);
    await ok('Verify', { KeyId: signing.Arn, Message: message, Signature: signed.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }, {
      readOnly: true, responseElements: null, resources: sig,
      requestParameters: { keyId: signing.Arn, signingAlgorithm: 'ECDSA_SHA_256', messageType: 'RAW' },
    });
    const digest = randomBytes(32);
    keep('digest', digest);
    const signedDigest = await ok('Sign', { KeyId: signing.KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }, {
      readOnly: true, responseElements: null, resources: sig,
      requestParameters: { keyId: signing.KeyId, signingAlgorithm: 'ECDSA_SHA_256', messageType: 'DIGEST' },
    });
    keep('signature of a digest', signedDigest.Signature);
    const publicKey = await ok('GetPublicKey', { KeyId: signing.KeyId }, {
      readOnly: true, responseElements: null, resources: sig, requestParameters: { keyId: signing.KeyId },
    });
    keep('signing public key', publicKey.PublicKey);

    const rsaCiphertext = await ok('Encrypt', { KeyId: rsa.KeyId, Plaintext: plaintext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }, {
      readOnly: true, responseElements: null, resources: [keyResource(rsa.Arn)],
      requestParameters: { keyId: rsa.KeyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
    });
    keep('RSA ciphertext', rsaCiphertext.CiphertextBlob);
    await ok('Decrypt', { KeyId: rsa.KeyId, CiphertextBlob: rsaCiphertext.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }, {
      readOnly: true, responseElements: null, resources: [keyResource(rsa.Arn)],
      requestParameters: { keyId: rsa.Arn, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
    });

    const mac = await ok('GenerateMac', { KeyId: hmac.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }, {
      readOnly: true, responseElements: null, resources: [keyResource(hmac.Arn)], requestParameters: { keyId: hmac.KeyId, macAlgorithm: 'HMAC_SHA_256' },
    });
    keep('MAC', mac.Mac);
    await ok('VerifyMac', { KeyId: hmac.KeyId, Message: message, Mac: mac.Mac, MacAlgorithm: 'HMAC_SHA_256' }, {
      readOnly: true, responseElements: null, resources: [keyResource(hmac.Arn)], requestParameters: { keyId: hmac.KeyId, macAlgorithm: 'HMAC_SHA_256' },
    });

    const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    keep('peer public key', peer);
    const shared = await ok('DeriveSharedSecret', { KeyId: agreement.KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer }, {
      readOnly: true, responseElements: null, resources: [keyResource(agreement.Arn)],
      requestParameters: { keyId: agreement.KeyId, keyAgreementAlgorithm: 'ECDH' },
    });
    keep('shared secret', shared.SharedSecret);

    const alias = 'alias/every-operation';
    await ok('CreateAlias', { AliasName: alias, TargetKeyId: symmetric.KeyId }, {
      readOnly: false, responseElements: null, requestParameters: { aliasName: alias, targetKeyId: symmetric.KeyId },
      resources: [keyResource(symmetric.Arn), aliasResource(alias)],
    });
    const other = await createKey({});
    await ok('UpdateAlias', { AliasName: alias, TargetKeyId: other.KeyId }, {
      readOnly: false, responseElements: null, requestParameters: { aliasName: alias, targetKeyId: other.KeyId },
    });
    await ok('ListAliases', { KeyId: other.KeyId }, { readOnly: true, responseElements: null, requestParameters: { keyId: other.KeyId } });
    await ok('DeleteAlias', { AliasName: alias }, {
      readOnly: false, responseElements: null, requestParameters: { aliasName: alias },
      resources: [keyResource(other.Arn), aliasResource(alias)],
    });

    await ok('TagResource', { KeyId: symmetric.KeyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] }, {
      readOnly: false, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, tags: [{ tagKey: 'k', tagValue: 'v' }] },
    });
    await ok('ListResourceTags', { KeyId: symmetric.KeyId }, { readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });
    await ok('UntagResource', { KeyId: symmetric.KeyId, TagKeys: ['k'] }, {
      readOnly: false, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, tagKeys: ['k'] },
    });

    await ok('EnableKeyRotation', { KeyId: symmetric.KeyId, RotationPeriodInDays: 90 }, {
      readOnly: false, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, rotationPeriodInDays: 90 },
    });
    await ok('GetKeyRotationStatus', { KeyId: symmetric.KeyId }, { readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });
    await ok('RotateKeyOnDemand', { KeyId: symmetric.KeyId }, {
      readOnly: false, resources: sym, requestParameters: { keyId: symmetric.KeyId }, responseElements: { keyId: symmetric.Arn },
    });
    await ok('ListKeyRotations', { KeyId: symmetric.KeyId }, { readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });
    await ok('DisableKeyRotation', { KeyId: symmetric.KeyId }, { readOnly: false, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });

    // GetKeyPolicy's response is suppressed; PutKeyPolicy logs the policy text.
    const policy = await ok('GetKeyPolicy', { KeyId: symmetric.KeyId }, { readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });
    await ok('ListKeyPolicies', { KeyId: symmetric.KeyId }, { readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });
    await ok('PutKeyPolicy', { KeyId: symmetric.KeyId, Policy: policy.Policy }, {
      readOnly: false, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, policy: policy.Policy },
    });

    const grant = await ok('CreateGrant', {
      KeyId: symmetric.KeyId, GranteePrincipal: arnOf('bob'), RetiringPrincipal: arnOf('admin'), Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: context }, Name: 'audit-grant',
    }, {
      readOnly: false, resources: sym,
      requestParameters: {
        keyId: symmetric.KeyId, granteePrincipal: arnOf('bob'), retiringPrincipal: arnOf('admin'), operations: ['Encrypt', 'Decrypt'],
        constraints: { encryptionContextSubset: context }, name: 'audit-grant',
      },
    });
    // As CloudTrail since December 2022: the grant's key by ARN, though the call named it by id and answers none.
    expected.get(calls.at(-1)!)!.responseElements = { grantId: grant.GrantId, keyId: symmetric.Arn };
    keep('grant token', grant.GrantToken as string);
    await ok('ListGrants', { KeyId: symmetric.KeyId }, { readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });
    await ok('ListRetirableGrants', { RetiringPrincipal: arnOf('admin') }, {
      readOnly: true, responseElements: null, resources: [], requestParameters: { retiringPrincipal: arnOf('admin') },
    });
    await ok('RevokeGrant', { KeyId: symmetric.KeyId, GrantId: grant.GrantId }, {
      readOnly: false, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId, grantId: grant.GrantId },
    });
    const retired = await ok('CreateGrant', { KeyId: symmetric.KeyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt'] }, { readOnly: false, resources: sym });
    expected.get(calls.at(-1)!)!.responseElements = { grantId: retired.GrantId, keyId: symmetric.Arn };
    keep('second grant token', retired.GrantToken as string);
    await ok('RetireGrant', { KeyId: symmetric.Arn, GrantId: retired.GrantId }, {
      readOnly: false, requestParameters: null, responseElements: null, resources: sym, additionalEventData: { grantId: retired.GrantId },
    });

    const ext = [keyResource(external.Arn)];
    const parameters = await ok('GetParametersForImport', { KeyId: external.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }, {
      readOnly: true, responseElements: null, resources: ext,
      requestParameters: { keyId: external.KeyId, wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappingKeySpec: 'RSA_2048' },
    });
    keep('import token', parameters.ImportToken);
    keep('wrapping public key', parameters.PublicKey);
    const material = randomBytes(32);
    keep('imported key material', material);
    const wrappedMaterial = publicEncrypt({
      key: createPublicKey({ key: Buffer.from(parameters.PublicKey), format: 'der', type: 'spki' }),
      padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256',
    }, material);
    keep('wrapped key material', wrappedMaterial);
    const imported = await ok('ImportKeyMaterial', {
      KeyId: external.KeyId, ImportToken: parameters.ImportToken, EncryptedKeyMaterial: wrappedMaterial, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }, { readOnly: false, resources: ext, requestParameters: { keyId: external.KeyId, expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } });
    expected.get(calls.at(-1)!)!.responseElements = { keyId: external.Arn, keyMaterialId: imported.KeyMaterialId };
    await ok('DeleteImportedKeyMaterial', { KeyId: external.KeyId }, { readOnly: false, resources: ext, requestParameters: { keyId: external.KeyId } });

    await ok('GetKeyLastUsage', { KeyId: symmetric.KeyId }, { readOnly: true, responseElements: null, resources: sym, requestParameters: { keyId: symmetric.KeyId } });
    const scheduled = await ok('ScheduleKeyDeletion', { KeyId: other.KeyId, PendingWindowInDays: 7 }, {
      readOnly: false, resources: [keyResource(other.Arn)], requestParameters: { keyId: other.KeyId, pendingWindowInDays: 7 },
    });
    await ok('CancelKeyDeletion', { KeyId: other.KeyId }, {
      readOnly: false, resources: [keyResource(other.Arn)], requestParameters: { keyId: other.KeyId }, responseElements: { keyId: other.Arn },
    });

    const records = readRecords();
    expect(new Set(records.map((r) => r.eventID)).size).toBe(records.length);
    const rootIdentity = { type: 'Root', principalId: ACCOUNT, arn: ROOT_ARN, accountId: ACCOUNT, accessKeyId: rootCredentials.accessKeyId };
    for (const call of calls) {
      const matching = records.filter((r) => r.requestID === call.requestId);
      expect(matching, call.operation).toHaveLength(1);
      const record = matching[0]!;
      expectCommonMembers(record, call);
      expect(record.userIdentity).toEqual(rootIdentity);
      expect(record, call.operation).toMatchObject(expected.get(call)!);
      if (expected.get(call)!.requestParameters !== undefined) expect(record.requestParameters, call.operation).toEqual(expected.get(call)!.requestParameters);
      if (call.operation === 'ScheduleKeyDeletion') {
        expect(record.responseElements).toMatchObject({ keyId: other.Arn, keyState: 'PendingDeletion', deletionDate: expect.stringMatching(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d:\d\d [AP]M$/) });
        expect(Date.parse(`${record.responseElements!.deletionDate as string} UTC`)).toBe((scheduled.DeletionDate as Date).getTime());
      }
    }
  });
});

describe('failed calls', () => {
  it('record the error, the caller and what was asked, with no response elements', async () => {
    const root = server.client();
    const bob = server.client({ credentials: credentialsOf('bob') });
    const key = (await root.send(new Kms.CreateKeyCommand({}))).KeyMetadata!;
    const signing = (await root.send(new Kms.CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!;
    const plaintext = randomBytes(5000);
    keep('oversized plaintext', plaintext);
    const calls: Array<{ call: Call; expected: Partial<AuditLine>; identity?: string }> = [];
    const fails = async (client: Kms.KMSClient, operation: string, input: object, error: string, expected: Partial<AuditLine>, identity?: string) => {
      const call = await send(client, operation, input);
      expect(call.error, operation).toBe(error);
      calls.push({ call, expected, ...(identity !== undefined ? { identity } : {}) });
    };
    const resources = [keyResource(key.Arn!)];

    await fails(bob, 'CreateKey', { Description: 'not allowed' }, 'AccessDeniedException', { readOnly: false, resources: [], requestParameters: { description: 'not allowed' } }, 'bob');
    await fails(bob, 'DescribeKey', { KeyId: key.Arn }, 'AccessDeniedException', { readOnly: true, resources, requestParameters: { keyId: key.Arn } }, 'bob');
    await fails(bob, 'ScheduleKeyDeletion', { KeyId: key.Arn, PendingWindowInDays: 7 }, 'AccessDeniedException', {
      readOnly: false, resources, requestParameters: { keyId: key.Arn, pendingWindowInDays: 7 },
    }, 'bob');
    await fails(root, 'DescribeKey', { KeyId: '0b0c3a8a-0000-4000-8000-000000000000' }, 'NotFoundException', {
      readOnly: true, resources: [], requestParameters: { keyId: '0b0c3a8a-0000-4000-8000-000000000000' },
    });
    await fails(root, 'DeleteAlias', { AliasName: 'alias/never-made' }, 'NotFoundException', { readOnly: false, resources: [], requestParameters: { aliasName: 'alias/never-made' } });
    // Refused by the model's constraints: the record still says which key the caller asked for, never the plaintext.
    await fails(root, 'Encrypt', { KeyId: key.KeyId, Plaintext: plaintext }, 'ValidationException', {
      readOnly: true, requestParameters: { keyId: key.KeyId, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
    });
    await fails(root, 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 3 }, 'ValidationException', {
      readOnly: false, requestParameters: { keyId: key.KeyId, pendingWindowInDays: 3 },
    });
    await fails(root, 'GenerateDataKey', { KeyId: key.KeyId }, 'ValidationException', { readOnly: true, requestParameters: { keyId: key.KeyId } });
    await fails(root, 'Sign', { KeyId: key.KeyId, Message: randomBytes(8), SigningAlgorithm: 'ECDSA_SHA_256' }, 'InvalidKeyUsageException', {
      readOnly: true, resources, requestParameters: { keyId: key.KeyId, signingAlgorithm: 'ECDSA_SHA_256', messageType: 'RAW' },
    });
    const signature = randomBytes(64);
    keep('forged signature', signature);
    await fails(root, 'Verify', { KeyId: signing.KeyId, Message: randomBytes(8), Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' }, 'KMSInvalidSignatureException', {
      readOnly: true, resources: [keyResource(signing.Arn!)], requestParameters: { keyId: signing.KeyId, signingAlgorithm: 'ECDSA_SHA_256', messageType: 'RAW' },
    });
    await root.send(new Kms.DisableKeyCommand({ KeyId: key.KeyId }));
    await fails(root, 'GenerateDataKey', { KeyId: key.KeyId, KeySpec: 'AES_256' }, 'DisabledException', { readOnly: true, resources, requestParameters: { keyId: key.KeyId, keySpec: 'AES_256' } });
    await root.send(new Kms.EnableKeyCommand({ KeyId: key.KeyId }));
    await fails(root, 'Encrypt', { KeyId: key.KeyId, Plaintext: randomBytes(8), DryRun: true }, 'DryRunOperationException', {
      readOnly: true, resources, requestParameters: { keyId: key.KeyId, encryptionAlgorithm: 'SYMMETRIC_DEFAULT', dryRun: true },
    });
    await fails(root, 'CreateGrant', { KeyId: key.KeyId, GranteePrincipal: arnOf('bob'), Operations: ['Decrypt'], DryRun: true }, 'DryRunOperationException', {
      readOnly: false, resources, requestParameters: { keyId: key.KeyId, granteePrincipal: arnOf('bob'), operations: ['Decrypt'], dryRun: true },
    });
    // Custom key stores are refused here, but creating or deleting one is still a mutation: readOnly false.
    await fails(root, 'CreateCustomKeyStore', { CustomKeyStoreName: 'store', CloudHsmClusterId: 'cluster-234abcdefgh', KeyStorePassword: 'kmsPassword1', TrustAnchorCertificate: 'anchor' },
      'UnsupportedOperationException', { readOnly: false, resources: [], requestParameters: { customKeyStoreName: 'store', cloudHsmClusterId: 'cluster-234abcdefgh' } });
    keep('key store password', 'kmsPassword1');
    for (const operation of ['ConnectCustomKeyStore', 'DisconnectCustomKeyStore', 'DeleteCustomKeyStore']) {
      await fails(root, operation, { CustomKeyStoreId: 'cks-1234567890abcdef0' }, 'UnsupportedOperationException', {
        readOnly: false, resources: [], requestParameters: { customKeyStoreId: 'cks-1234567890abcdef0' },
      });
    }
    await fails(root, 'UpdateCustomKeyStore', { CustomKeyStoreId: 'cks-1234567890abcdef0', NewCustomKeyStoreName: 'renamed' }, 'UnsupportedOperationException', {
      readOnly: false, resources: [], requestParameters: { customKeyStoreId: 'cks-1234567890abcdef0', newCustomKeyStoreName: 'renamed' },
    });
    // Throttled (KMS_QUOTAS=ListAliases=1): refused before any work, still recorded.
    const burst = await Promise.all([0, 1, 2, 3].map(() => send(root, 'ListAliases', {})));
    const throttled = burst.find((call) => call.error === 'ThrottlingException');
    expect(throttled).toBeDefined();
    calls.push({ call: throttled!, expected: { readOnly: true, resources: [] } });

    const records = readRecords();
    for (const { call, expected, identity } of calls) {
      const matching = records.filter((r) => r.requestID === call.requestId);
      expect(matching, call.operation).toHaveLength(1);
      const record = matching[0]!;
      expectCommonMembers(record, call);
      expect(record.userIdentity, call.operation).toMatchObject({ arn: arnOf((identity ?? 'root') as 'root'), accountId: ACCOUNT });
      expect(record, `${call.operation} ${call.error}`).toMatchObject(expected);
      if (expected.requestParameters !== undefined) expect(record.requestParameters, `${call.operation} ${call.error}`).toEqual(expected.requestParameters);
      expect(record).not.toHaveProperty('additionalEventData.keyMaterialId');
    }
  });
});

describe('the log as a whole', () => {
  it('holds no plaintext, data key, private key, secret, signature, MAC or ciphertext sent or received', () => {
    expect(secrets.size).toBeGreaterThan(30);
    const text = readFileSync(logPath, 'utf8');
    for (const [what, secret] of secrets) {
      const slice = secret.length > 40 ? secret.slice(8, 40) : secret;
      expect(text.includes(slice), `${what} appears in the audit log`).toBe(false);
    }
    for (const member of ['plaintext', 'ciphertextBlob', 'message', 'signature', 'mac', 'privateKeyPlaintext', 'privateKeyCiphertextBlob',
      'publicKey', 'sharedSecret', 'grantToken', 'importToken', 'encryptedKeyMaterial', 'keyStorePassword', 'trustAnchorCertificate']) {
      expect(text, member).not.toMatch(new RegExp(`"${member}"`, 'i'));
    }
  });

  it('verifies intact, and one byte changed in a middle record names that record', () => {
    const intact = spawnSync('npx', ['--no-install', 'kms-engine', 'audit', 'verify', logPath], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(intact.stdout).toMatch(/^OK .*: \d+ records intact/);
    expect(intact.status).toBe(0);

    const lines = readFileSync(logPath, 'utf8').split('\n').filter((line) => line !== '');
    const middle = Math.floor(lines.length / 2);
    const copyDir = mkdtempSync(join(tmpdir(), 'kms-engine-audit-every-copy-'));
    try {
      const copy = join(copyDir, 'audit.jsonl');
      copyFileSync(logPath, copy);
      copyFileSync(`${logPath}.head`, `${copy}.head`);
      // One byte of the middle record's request id, the line still valid JSON.
      const at = lines[middle]!.indexOf('"requestID":"') + '"requestID":"'.length;
      const line = lines[middle]!;
      lines[middle] = `${line.slice(0, at)}${line[at] === 'a' ? 'b' : 'a'}${line.slice(at + 1)}`;
      writeFileSync(copy, `${lines.join('\n')}\n`);
      const broken = spawnSync(process.execPath, [BIN, 'audit', 'verify', copy], { encoding: 'utf8', timeout: 30_000 });
      expect(broken.status).not.toBe(0);
      const eventId = (JSON.parse(line) as { eventID: string }).eventID;
      expect(broken.stdout).toContain(`line ${middle + 1} (eventID ${eventId})`);
    } finally {
      rmSync(copyDir, { recursive: true, force: true });
    }
  });
});

describe('over HTTPS', () => {
  it('records tlsDetails (version, cipher suite, Host header); plain HTTP records have none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-engine-audit-tls-'));
    let tlsServer: TestServer | undefined;
    try {
      const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key',
        '-out', 'server.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
      tlsServer = await startServer({ env: { KMS_TLS_CERT: join(dir, 'server.pem'), KMS_TLS_KEY: join(dir, 'server.key') } });
      const ca = readFileSync(join(dir, 'server.pem'), 'utf8');
      const client = new Kms.KMSClient({
        region: 'us-east-1', endpoint: tlsServer.url, credentials: tlsServer.credentials, maxAttempts: 1,
        requestHandler: { httpsAgent: new Agent({ ca }) },
      });
      const key = await send(client, 'CreateKey', {});
      const encrypted = await send(client, 'Encrypt', { KeyId: key.output!.KeyMetadata.KeyId, Plaintext: Buffer.from('over tls') });
      const refused = await send(client, 'DescribeKey', { KeyId: 'alias/none' });
      expect(refused.error).toBe('NotFoundException');
      const log = join(tlsServer.dataDir, 'audit.jsonl');
      const records = readRecords(log);
      for (const call of [key, encrypted, refused]) {
        const record = records.find((r) => r.requestID === call.requestId)!;
        expect(record.tlsDetails, call.operation).toEqual({
          tlsVersion: 'TLSv1.3', cipherSuite: expect.stringMatching(/^TLS_(AES|CHACHA20)_/), clientProvidedHostHeader: `127.0.0.1:${tlsServer.port}`,
        });
      }
      const verified = spawnSync(process.execPath, [BIN, 'audit', 'verify', log], { encoding: 'utf8', timeout: 30_000 });
      expect(verified.stdout).toMatch(/^OK .*: \d+ records intact/);
      expect(verified.status).toBe(0);
      for (const record of readRecords()) expect(record).not.toHaveProperty('tlsDetails');
    } finally {
      await tlsServer?.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
