import { describe, expect, it } from 'vitest';
import { buildAuditRecord, buildServiceEventRecord, isReadOnlyOperation, type AuditCall } from '../../src/audit/record.js';
import { canonicalJson, chainLine, GENESIS_HASH } from '../../src/audit/chain.js';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ALIAS_ARN = 'arn:aws:kms:us-east-1:111122223333:alias/app';
const principal = {
  arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'AKIDEXAMPLE', type: 'IAMUser', userName: 'alice',
};
// Every secret below carries this marker: no record may contain it anywhere.
const SECRET = 'SECRET-MARKER';

function call(overrides: Partial<AuditCall> & Pick<AuditCall, 'operation'>): AuditCall {
  return {
    requestId: '56f1d610-4f43-48d7-912e-325abc1bde62',
    eventTime: new Date('2026-12-01T16:43:53.789Z'),
    principal,
    sourceIPAddress: '192.0.2.10',
    userAgent: 'aws-sdk-js/3.1164.0',
    region: 'us-east-1',
    request: {},
    keyArns: [KEY_ARN],
    readOnly: true,
    ...overrides,
  };
}

const expectNoSecret = (record: unknown): void => {
  expect(JSON.stringify(record)).not.toContain(SECRET);
};

describe('buildAuditRecord: cryptographic operations', () => {
  it('Encrypt logs keyId, context and algorithm, never the plaintext, and no response', () => {
    const record = buildAuditRecord(call({
      operation: 'Encrypt',
      request: {
        KeyId: 'alias/app', Plaintext: `${SECRET}-plain`, EncryptionContext: { Department: 'Finance', 'aws:tag': 'x' },
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', GrantTokens: [`${SECRET}-token`],
      },
      response: { CiphertextBlob: `${SECRET}-ct`, KeyId: KEY_ARN, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
    }));
    expect(record.requestParameters).toEqual({
      keyId: 'alias/app', encryptionContext: { Department: 'Finance', 'aws:tag': 'x' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    expect(record.responseElements).toBeNull();
    expect(record.eventTime).toBe('2026-12-01T16:43:53Z');
    expect(record).toMatchObject({
      eventVersion: '1.11', eventSource: 'kms.amazonaws.com', eventName: 'Encrypt', awsRegion: 'us-east-1',
      sourceIPAddress: '192.0.2.10', userAgent: 'aws-sdk-js/3.1164.0', requestID: '56f1d610-4f43-48d7-912e-325abc1bde62',
      readOnly: true, eventType: 'AwsApiCall', managementEvent: true, eventCategory: 'Management', recipientAccountId: '111122223333',
      resources: [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: KEY_ARN }],
      userIdentity: { type: 'IAMUser', arn: principal.arn, accountId: '111122223333', accessKeyId: 'AKIDEXAMPLE', userName: 'alice' },
    });
    expect(record.eventID).toMatch(/^[0-9a-f-]{36}$/);
    expect(record).not.toHaveProperty('errorCode');
    expectNoSecret(record);
  });

  it('keeps an encryption context key named __proto__ as an entry, in the record and in its chained line', () => {
    const context = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
    const record = buildAuditRecord(call({ operation: 'Decrypt', request: { CiphertextBlob: 'AAAA', EncryptionContext: context },
      response: { KeyId: KEY_ARN, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' } }));
    const logged = (record.requestParameters as { encryptionContext: object }).encryptionContext;
    expect(Object.keys(logged)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(logged)).toBe(Object.prototype);
    const line = JSON.parse(chainLine(record, 1, GENESIS_HASH, undefined).line) as { requestParameters: { encryptionContext: object } };
    expect(Object.keys(line.requestParameters.encryptionContext)).toEqual(['__proto__', 'a']);
  });

  it('Decrypt names the key ARN even without KeyId, the algorithm it defaulted, and the key material it used', () => {
    const record = buildAuditRecord(call({
      operation: 'Decrypt',
      request: { CiphertextBlob: `${SECRET}-ct`, EncryptionContext: { a: 'b' } },
      response: { KeyId: KEY_ARN, Plaintext: `${SECRET}-pt`, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', KeyMaterialId: 'f'.repeat(64) },
      keyMaterial: { keyMaterialId: 'f'.repeat(64) },
    }));
    expect(record.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: { a: 'b' }, keyId: KEY_ARN });
    expect(record.responseElements).toBeNull();
    expect(record.additionalEventData).toEqual({ keyMaterialId: 'f'.repeat(64) });
    expectNoSecret(record);
  });

  it('Decrypt logs the key it used by ARN when the caller named it by key id or alias', () => {
    for (const KeyId of ['1234abcd-12ab-34cd-56ef-1234567890ab', 'alias/app']) {
      const record = buildAuditRecord(call({ operation: 'Decrypt', request: { CiphertextBlob: 'AAAA', KeyId }, aliasArns: KeyId.startsWith('alias/') ? [ALIAS_ARN] : [] }));
      expect(record.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyId: KEY_ARN });
    }
    // A key that was never resolved is logged as named.
    const unresolved = buildAuditRecord(call({ operation: 'Decrypt', request: { KeyId: 'alias/gone' }, keyArns: [], error: { code: 'NotFoundException', message: 'x' } }));
    expect(unresolved.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', keyId: 'alias/gone' });
  });

  it('Encrypt and ReEncrypt log the algorithms they defaulted and the key material they used, keys sorted', () => {
    const encrypt = buildAuditRecord(call({
      operation: 'Encrypt', request: { KeyId: 'alias/app', Plaintext: SECRET, EncryptionContext: { z: '1' } },
      response: { CiphertextBlob: SECRET, KeyId: KEY_ARN, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
      keyMaterial: { keyMaterialId: 'a'.repeat(64), sourceKeyMaterialId: undefined, destinationKeyMaterialId: undefined },
      nodeId: 'node-1',
    }));
    expect(Object.keys(encrypt.requestParameters!)).toEqual(['encryptionAlgorithm', 'encryptionContext', 'keyId']);
    expect(encrypt.requestParameters).toEqual({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: { z: '1' }, keyId: 'alias/app' });
    expect(Object.entries(encrypt.additionalEventData!)).toEqual([['keyMaterialId', 'a'.repeat(64)], ['nodeId', 'node-1']]);
    // An algorithm the caller named is logged as named.
    const rsa = buildAuditRecord(call({ operation: 'Encrypt', request: { KeyId: KEY_ARN, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' } }));
    expect(rsa.requestParameters).toEqual({ encryptionAlgorithm: 'RSAES_OAEP_SHA_256', keyId: KEY_ARN });
    expect(rsa).not.toHaveProperty('additionalEventData');

    const reEncrypt = buildAuditRecord(call({
      operation: 'ReEncrypt', request: { CiphertextBlob: SECRET, DestinationKeyId: KEY_ARN },
      keyMaterial: { sourceKeyMaterialId: 'b'.repeat(64), destinationKeyMaterialId: 'c'.repeat(64) }, nodeId: 'node-1',
    }));
    expect(reEncrypt.requestParameters).toEqual({
      destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', destinationKeyId: KEY_ARN, sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    expect(Object.entries(reEncrypt.additionalEventData!)).toEqual([
      ['destinationKeyMaterialId', 'c'.repeat(64)], ['nodeId', 'node-1'], ['sourceKeyMaterialId', 'b'.repeat(64)],
    ]);
    for (const record of [encrypt, rsa, reEncrypt]) expect(JSON.stringify(record)).toBe(canonicalJson(record));
    expectNoSecret([encrypt, reEncrypt]);
  });

  it('names the caller by a principalId: the account for a root, AIDA... for a user, AROA...:session for a session', () => {
    const idOf = (who: { arn: string; type: string; userName?: string }) =>
      buildAuditRecord(call({ operation: 'ListKeys', principal: { ...principal, ...who }, keyArns: [] })).userIdentity.principalId;
    expect(idOf({ arn: 'arn:aws:iam::111122223333:root', type: 'Root' })).toBe('111122223333');
    const alice = idOf(principal);
    expect(alice).toMatch(/^AIDA[A-Z2-7]{17}$/);
    expect(idOf({ ...principal })).toBe(alice); // derived from the identity, not from the object
    expect(idOf({ arn: 'arn:aws:iam::111122223333:user/bob', type: 'IAMUser', userName: 'bob' })).not.toBe(alice);
    const worker = idOf({ arn: 'arn:aws:sts::111122223333:assumed-role/app/worker-1', type: 'AssumedRole', userName: undefined });
    expect(worker).toMatch(/^AROA[A-Z2-7]{17}:worker-1$/);
    const other = idOf({ arn: 'arn:aws:sts::111122223333:assumed-role/app/worker-2', type: 'AssumedRole', userName: undefined });
    expect(other).toBe(`${worker!.split(':')[0]}:worker-2`); // sessions of one role share the role's id
  });

  it('GenerateDataKeyPair keeps no private key, public key or ciphertext', () => {
    const record = buildAuditRecord(call({
      operation: 'GenerateDataKeyPair',
      request: { KeyId: KEY_ARN, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: { k: 'v' }, Recipient: { AttestationDocument: SECRET } },
      response: {
        KeyId: KEY_ARN, KeyPairSpec: 'ECC_NIST_P256', PrivateKeyPlaintext: SECRET, PrivateKeyCiphertextBlob: SECRET, PublicKey: SECRET,
        CiphertextForRecipient: SECRET,
      },
    }));
    expect(record.requestParameters).toEqual({ keyId: KEY_ARN, keyPairSpec: 'ECC_NIST_P256', encryptionContext: { k: 'v' } });
    expect(record.responseElements).toBeNull();
    expectNoSecret(record);
  });

  it('Sign, Verify and VerifyMac keep algorithm and message type, drop message, signature and MAC', () => {
    for (const [operation, request] of [
      ['Sign', { KeyId: KEY_ARN, Message: SECRET, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }],
      ['Verify', { KeyId: KEY_ARN, Message: SECRET, Signature: SECRET, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }],
      ['VerifyMac', { KeyId: KEY_ARN, Message: SECRET, Mac: SECRET, MacAlgorithm: 'HMAC_SHA_256' }],
      ['DeriveSharedSecret', { KeyId: KEY_ARN, PublicKey: SECRET, KeyAgreementAlgorithm: 'ECDH' }],
    ] as const) {
      const record = buildAuditRecord(call({ operation, request, response: { KeyId: KEY_ARN, Signature: SECRET, Mac: SECRET, SharedSecret: SECRET } }));
      expect(Object.keys(record.requestParameters!).sort()).toEqual(
        Object.keys(request).filter((k) => !['Message', 'Signature', 'Mac', 'PublicKey'].includes(k)).map((k) => k[0]!.toLowerCase() + k.slice(1)).sort(),
      );
      expect(record.responseElements).toBeNull();
      expectNoSecret(record);
    }
  });

  it('GenerateRandom and RetireGrant log null requestParameters; RetireGrant keeps the grantId aside', () => {
    const random = buildAuditRecord(call({ operation: 'GenerateRandom', request: { NumberOfBytes: 32 }, response: { Plaintext: SECRET }, keyArns: [] }));
    expect(random.requestParameters).toBeNull();
    expect(random.responseElements).toBeNull();
    expect(random.resources).toEqual([]);
    expect(random.recipientAccountId).toBe('111122223333');
    expectNoSecret(random);

    const retire = buildAuditRecord(call({ operation: 'RetireGrant', request: { GrantToken: SECRET, GrantId: 'g1', KeyId: KEY_ARN }, readOnly: false }));
    expect(retire.requestParameters).toBeNull();
    expect(retire.additionalEventData).toEqual({ grantId: 'g1' });
    expectNoSecret(retire);
  });

  it('drops members the model does not know, whatever their casing', () => {
    const record = buildAuditRecord(call({ operation: 'GenerateMac', request: { KeyId: KEY_ARN, message: SECRET, Extra: SECRET } }));
    expect(record.requestParameters).toEqual({ keyId: KEY_ARN });
  });
});

describe('buildAuditRecord: management operations', () => {
  it('CreateKey camel-cases nested tags and logs keyMetadata with CloudTrail dates', () => {
    const record = buildAuditRecord(call({
      operation: 'CreateKey', readOnly: false,
      request: { Description: 'app key', KeySpec: 'SYMMETRIC_DEFAULT', Tags: [{ TagKey: 'team', TagValue: 'payments' }], Policy: '{"Version":"2012-10-17"}' },
      response: {
        KeyMetadata: {
          AWSAccountId: '111122223333', KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab', Arn: KEY_ARN, CreationDate: 1700000000.123,
          Enabled: true, KeyState: 'Enabled', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], MultiRegion: false,
        },
      },
    }));
    expect(record.requestParameters).toEqual({
      description: 'app key', keySpec: 'SYMMETRIC_DEFAULT', tags: [{ tagKey: 'team', tagValue: 'payments' }], policy: '{"Version":"2012-10-17"}',
    });
    expect(record.responseElements).toEqual({
      keyMetadata: {
        aWSAccountId: '111122223333', keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', arn: KEY_ARN, creationDate: 'Nov 14, 2023, 10:13:20 PM',
        enabled: true, keyState: 'Enabled', encryptionAlgorithms: ['SYMMETRIC_DEFAULT'], multiRegion: false,
      },
    });
    expect(record.readOnly).toBe(false);
  });

  it('CreateGrant logs the grantId and its key\'s ARN but never the grant token, and keeps constraint context keys verbatim', () => {
    const record = buildAuditRecord(call({
      operation: 'CreateGrant', readOnly: false,
      request: {
        KeyId: KEY_ARN, GranteePrincipal: 'arn:aws:iam::111122223333:role/app', Operations: ['Decrypt'],
        Constraints: { EncryptionContextSubset: { TenantID: 't-1' } }, GrantTokens: [SECRET],
      },
      response: { GrantId: 'grant-1', GrantToken: SECRET },
    }));
    expect(record.requestParameters).toEqual({
      keyId: KEY_ARN, granteePrincipal: 'arn:aws:iam::111122223333:role/app', operations: ['Decrypt'],
      constraints: { encryptionContextSubset: { TenantID: 't-1' } },
    });
    // The grant's key by ARN, as CloudTrail adds it, though the response has none.
    expect(record.responseElements).toEqual({ grantId: 'grant-1', keyId: KEY_ARN });
    expectNoSecret(record);
  });

  it('ScheduleKeyDeletion, ImportKeyMaterial and CreateCustomKeyStore log only allow-listed, non-secret members', () => {
    const schedule = buildAuditRecord(call({
      operation: 'ScheduleKeyDeletion', readOnly: false, request: { KeyId: KEY_ARN, PendingWindowInDays: 7 },
      response: { KeyId: KEY_ARN, KeyState: 'PendingDeletion', DeletionDate: 1767225600, PendingWindowInDays: 7 },
    }));
    expect(schedule.requestParameters).toEqual({ keyId: KEY_ARN, pendingWindowInDays: 7 });
    expect(schedule.responseElements).toEqual({
      keyId: KEY_ARN, keyState: 'PendingDeletion', deletionDate: 'Jan 1, 2026, 12:00:00 AM', pendingWindowInDays: 7,
    });

    const importing = buildAuditRecord(call({
      operation: 'ImportKeyMaterial', readOnly: false,
      request: { KeyId: KEY_ARN, ImportToken: SECRET, EncryptedKeyMaterial: SECRET, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
      response: { KeyId: KEY_ARN, KeyMaterialId: 'a'.repeat(64) },
    }));
    expect(importing.requestParameters).toEqual({ keyId: KEY_ARN, expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    expect(importing.responseElements).toEqual({ keyId: KEY_ARN, keyMaterialId: 'a'.repeat(64) });
    expectNoSecret(importing);

    const store = buildAuditRecord(call({
      operation: 'CreateCustomKeyStore', readOnly: false, keyArns: [],
      request: {
        CustomKeyStoreName: 'xks', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', KeyStorePassword: SECRET,
        XksProxyAuthenticationCredential: { AccessKeyId: SECRET, RawSecretAccessKey: SECRET }, TrustAnchorCertificate: SECRET,
      },
      response: { CustomKeyStoreId: 'cks-1' },
    }));
    expect(store.requestParameters).toEqual({ customKeyStoreName: 'xks', customKeyStoreType: 'EXTERNAL_KEY_STORE' });
    expect(store.responseElements).toEqual({ customKeyStoreId: 'cks-1' });
    expectNoSecret(store);
  });

  it('read-only management calls and GetKeyPolicy log null responseElements', () => {
    for (const operation of ['DescribeKey', 'GetKeyPolicy', 'ListAliases', 'GetKeyRotationStatus']) {
      const record = buildAuditRecord(call({ operation, request: { KeyId: KEY_ARN }, response: { KeyMetadata: { KeyId: 'k' }, Policy: '{}' } }));
      expect(record.responseElements).toBeNull();
    }
  });

  it('alias operations list the alias ARN as a resource', () => {
    const record = buildAuditRecord(call({
      operation: 'CreateAlias', readOnly: false, request: { AliasName: 'alias/app', TargetKeyId: KEY_ARN }, aliasArns: [ALIAS_ARN],
    }));
    expect(record.requestParameters).toEqual({ aliasName: 'alias/app', targetKeyId: KEY_ARN });
    expect(record.resources).toEqual([
      { accountId: '111122223333', type: 'AWS::KMS::Key', ARN: KEY_ARN },
      { accountId: '111122223333', type: 'AWS::KMS::Alias', ARN: ALIAS_ARN },
    ]);
  });
});

describe('buildAuditRecord: failures', () => {
  it('records the error, logs no response even for an allow-listed operation, and an unauthenticated caller as Unknown', () => {
    const record = buildAuditRecord(call({
      operation: 'CreateKey', principal: undefined, readOnly: false, keyArns: [],
      request: undefined, response: { KeyMetadata: { KeyId: 'k' } },
      error: { code: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' },
    }));
    expect(record.errorCode).toBe('UnrecognizedClientException');
    expect(record.errorMessage).toBe('The security token included in the request is invalid.');
    expect(record.requestParameters).toBeNull();
    expect(record.responseElements).toBeNull();
    expect(record.userIdentity).toEqual({ type: 'Unknown' });
    expect(record).not.toHaveProperty('recipientAccountId');
  });

  it('stamps the serving node in additionalEventData', () => {
    const record = buildAuditRecord(call({ operation: 'DescribeKey', request: { KeyId: KEY_ARN }, nodeId: 'node-a' }));
    expect(record.additionalEventData).toEqual({ nodeId: 'node-a' });
  });
});

describe('buildServiceEventRecord', () => {
  it('builds an AwsServiceEvent invoked by KMS itself', () => {
    const record = buildServiceEventRecord({
      eventName: 'RotateKey', eventTime: new Date('2026-01-02T03:04:05Z'), region: 'us-east-1', accountId: '111122223333',
      keyArn: KEY_ARN, additionalEventData: { rotationType: 'AUTOMATIC', keyMaterialId: 'b'.repeat(64) },
    });
    expect(record).toMatchObject({
      eventType: 'AwsServiceEvent', eventName: 'RotateKey', eventTime: '2026-01-02T03:04:05Z',
      userIdentity: { type: 'AWSService', accountId: '111122223333', invokedBy: 'kms.amazonaws.com' },
      sourceIPAddress: 'kms.amazonaws.com', userAgent: 'kms.amazonaws.com', requestParameters: null, responseElements: null,
      readOnly: false, managementEvent: true, eventCategory: 'Management', recipientAccountId: '111122223333',
      resources: [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: KEY_ARN }],
      additionalEventData: { rotationType: 'AUTOMATIC', keyMaterialId: 'b'.repeat(64) },
    });
  });
});

describe('isReadOnlyOperation', () => {
  it('marks crypto and Describe/Get/List calls read-only, mutations not', () => {
    for (const operation of ['Encrypt', 'Sign', 'GenerateRandom', 'DescribeKey', 'GetKeyPolicy', 'ListAliases']) {
      expect(isReadOnlyOperation(operation), operation).toBe(true);
    }
    for (const operation of ['CreateKey', 'PutKeyPolicy', 'ScheduleKeyDeletion', 'RetireGrant', 'TagResource']) {
      expect(isReadOnlyOperation(operation), operation).toBe(false);
    }
  });
});
