import { describe, expect, it } from 'vitest';
import { conditionKeysFor } from '../../src/auth/condition-keys.js';
import { ACCOUNT, key, root, user } from './fixtures.js';

const values = (operation: string, input: Record<string, unknown> = {}, k = key(), principal = root(),
  extras = {}) => conditionKeysFor(operation, input, k, principal, extras).values;

describe('conditionKeysFor', () => {
  it('principal keys on every request', () => {
    const v = values('DescribeKey', {}, key(), user('alice', [], '444455556666'));
    expect(v.get('aws:principalarn')).toEqual(['arn:aws:iam::444455556666:user/alice']);
    expect(v.get('aws:principalaccount')).toEqual(['444455556666']);
    expect(v.get('kms:calleraccount')).toEqual(['444455556666']);
  });
  it('key properties for key operations', () => {
    const v = values('Sign', { SigningAlgorithm: 'ECDSA_SHA_256' }, key({ spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY', origin: 'EXTERNAL' }));
    expect(v.get('kms:keyspec')).toEqual(['ECC_NIST_P256']);
    expect(v.get('kms:keyusage')).toEqual(['SIGN_VERIFY']);
    expect(v.get('kms:keyorigin')).toEqual(['EXTERNAL']);
  });
  it('CreateKey uses the request KeySpec/KeyUsage/Origin, with defaults', () => {
    const defaults = conditionKeysFor('CreateKey', {}, undefined, root()).values;
    expect(defaults.get('kms:keyspec')).toEqual(['SYMMETRIC_DEFAULT']);
    expect(defaults.get('kms:keyusage')).toEqual(['ENCRYPT_DECRYPT']);
    expect(defaults.get('kms:keyorigin')).toEqual(['AWS_KMS']);
    expect(defaults.get('kms:bypasspolicylockoutsafetycheck')).toEqual(['false']);
    const explicit = conditionKeysFor('CreateKey', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL',
      BypassPolicyLockoutSafetyCheck: true }, undefined, root()).values;
    expect(explicit.get('kms:keyspec')).toEqual(['HMAC_256']);
    expect(explicit.get('kms:keyusage')).toEqual(['GENERATE_VERIFY_MAC']);
    expect(explicit.get('kms:keyorigin')).toEqual(['EXTERNAL']);
    expect(explicit.get('kms:bypasspolicylockoutsafetycheck')).toEqual(['true']);
  });
  it('encryption context: one key per pair (name case-insensitive) plus the key list; raw context kept', () => {
    const context = conditionKeysFor('Encrypt', { EncryptionContext: { Department: 'IT', project: 'X' } }, key(), root());
    expect(context.values.get('kms:encryptioncontext:department')).toEqual(['IT']);
    expect(context.values.get('kms:encryptioncontext:project')).toEqual(['X']);
    expect(context.values.get('kms:encryptioncontextkeys')).toEqual(['Department', 'project']);
    expect(context.encryptionContext).toEqual({ Department: 'IT', project: 'X' });
  });
  it('no encryption context: no context keys (so Null:true matches)', () => {
    const context = conditionKeysFor('Decrypt', { EncryptionContext: {} }, key(), root());
    expect(context.values.has('kms:encryptioncontextkeys')).toBe(false);
    expect(context.encryptionContext).toBeUndefined();
  });
  it('kms:EncryptionAlgorithm defaults to SYMMETRIC_DEFAULT and is fixed for data keys', () => {
    expect(values('Encrypt').get('kms:encryptionalgorithm')).toEqual(['SYMMETRIC_DEFAULT']);
    expect(values('Decrypt', { EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }).get('kms:encryptionalgorithm')).toEqual(['RSAES_OAEP_SHA_256']);
    expect(values('GenerateDataKey', { EncryptionAlgorithm: 'nonsense' }).get('kms:encryptionalgorithm')).toEqual(['SYMMETRIC_DEFAULT']);
    expect(values('Sign').has('kms:encryptionalgorithm')).toBe(false);
  });
  it('ReEncryptFrom/ReEncryptTo read the source/destination parameters', () => {
    const input = { SourceEncryptionContext: { s: '1' }, DestinationEncryptionContext: { d: '2' },
      DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' };
    const from = values('ReEncryptFrom', input, key(), root(), { reEncryptOnSameKey: true });
    expect(from.get('kms:encryptioncontext:s')).toEqual(['1']);
    expect(from.get('kms:encryptionalgorithm')).toEqual(['SYMMETRIC_DEFAULT']);
    expect(from.get('kms:reencryptonsamekey')).toEqual(['true']);
    const to = values('ReEncryptTo', input, key(), root(), { reEncryptOnSameKey: false });
    expect(to.get('kms:encryptioncontext:d')).toEqual(['2']);
    expect(to.has('kms:encryptioncontext:s')).toBe(false);
    expect(to.get('kms:encryptionalgorithm')).toEqual(['RSAES_OAEP_SHA_1']);
    expect(to.get('kms:reencryptonsamekey')).toEqual(['false']);
  });
  it('signing, MAC, key agreement and data key pair parameters', () => {
    const sign = values('Sign', { SigningAlgorithm: 'RSASSA_PSS_SHA_256' });
    expect(sign.get('kms:signingalgorithm')).toEqual(['RSASSA_PSS_SHA_256']);
    expect(sign.get('kms:messagetype')).toEqual(['RAW']);
    expect(values('Verify', { SigningAlgorithm: 'ECDSA_SHA_256', MessageType: 'DIGEST' }).get('kms:messagetype')).toEqual(['DIGEST']);
    expect(values('GenerateMac', { MacAlgorithm: 'HMAC_SHA_256' }).get('kms:macalgorithm')).toEqual(['HMAC_SHA_256']);
    expect(values('VerifyMac', { MacAlgorithm: 'HMAC_SHA_384' }).get('kms:macalgorithm')).toEqual(['HMAC_SHA_384']);
    expect(values('DeriveSharedSecret', { KeyAgreementAlgorithm: 'ECDH' }).get('kms:keyagreementalgorithm')).toEqual(['ECDH']);
    expect(values('GenerateDataKeyPair', { KeyPairSpec: 'ECC_NIST_P256' }).get('kms:datakeypairspec')).toEqual(['ECC_NIST_P256']);
  });
  it('CreateGrant keys', () => {
    const v = conditionKeysFor('CreateGrant', {
      GranteePrincipal: `arn:aws:iam::${ACCOUNT}:user/a`, RetiringPrincipal: `arn:aws:iam::${ACCOUNT}:user/b`,
      Operations: ['Decrypt', 'Encrypt'], Constraints: { EncryptionContextSubset: { tenant: 't1' } },
    }, key(), root());
    expect(v.values.get('kms:grantoperations')).toEqual(['Decrypt', 'Encrypt']);
    expect(v.values.get('kms:granteeprincipal')).toEqual([`arn:aws:iam::${ACCOUNT}:user/a`]);
    expect(v.values.get('kms:retiringprincipal')).toEqual([`arn:aws:iam::${ACCOUNT}:user/b`]);
    expect(v.values.get('kms:grantconstrainttype')).toEqual(['EncryptionContextSubset']);
    expect(v.values.get('kms:encryptioncontext:tenant')).toEqual(['t1']);
    expect(v.values.get('kms:grantisforawsresource')).toEqual(['false']);
    expect(values('CreateGrant', {}, key(), root(), { grantOperations: ['Sign'] }).get('kms:grantoperations')).toEqual(['Sign']);
  });
  it('request alias, lockout bypass, deletion window and rotation period (with defaults)', () => {
    expect(values('Decrypt', {}, key(), root(), { requestAlias: 'alias/app' }).get('kms:requestalias')).toEqual(['alias/app']);
    expect(values('Decrypt').has('kms:requestalias')).toBe(false);
    expect(values('PutKeyPolicy', { BypassPolicyLockoutSafetyCheck: true }).get('kms:bypasspolicylockoutsafetycheck')).toEqual(['true']);
    expect(values('ScheduleKeyDeletion').get('kms:schedulekeydeletionpendingwindowindays')).toEqual(['30']);
    expect(values('ScheduleKeyDeletion', { PendingWindowInDays: 7 }).get('kms:schedulekeydeletionpendingwindowindays')).toEqual(['7']);
    expect(values('EnableKeyRotation').get('kms:rotationperiodindays')).toEqual(['365']);
    expect(values('EnableKeyRotation', { RotationPeriodInDays: 90 }).get('kms:rotationperiodindays')).toEqual(['90']);
  });
});
