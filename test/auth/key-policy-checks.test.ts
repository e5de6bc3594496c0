import { describe, expect, it } from 'vitest';
import { loadIdentities } from '../../src/auth/identities.js';
import { defaultKeyPolicy } from '../../src/auth/policy/default-policy.js';
import { parseKeyPolicy } from '../../src/auth/policy/document.js';
import { checkLockout, checkPrincipalsExist, LOCKOUT_MESSAGE } from '../../src/auth/policy/key-policy-checks.js';
import { KmsError } from '../../src/protocol/errors.js';
import { ACCOUNT, allowPolicy, KEY_ARN, keyPolicyText, OTHER_ACCOUNT, root, user } from './fixtures.js';

const lockoutError = (fn: () => void): KmsError | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error as KmsError;
  }
};

describe('checkLockout', () => {
  it('passes for the default policy and the account root', () => {
    expect(() => checkLockout(parseKeyPolicy(defaultKeyPolicy(ACCOUNT)), root(), KEY_ARN)).not.toThrow();
  });
  it('fails when the new policy does not let the caller call PutKeyPolicy again', () => {
    const policy = parseKeyPolicy(keyPolicyText({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' }));
    const error = lockoutError(() => checkLockout(policy, root(), KEY_ARN));
    expect(error?.code).toBe('MalformedPolicyDocumentException');
    expect(error?.message).toBe(LOCKOUT_MESSAGE);
    expect(LOCKOUT_MESSAGE).toBe('The new key policy will not allow you to update the key policy in the future.');
  });
  it('fails when a Deny covers PutKeyPolicy', () => {
    const policy = parseKeyPolicy(keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:Put*', Resource: '*' }));
    expect(lockoutError(() => checkLockout(policy, root(), KEY_ARN))?.message).toBe(LOCKOUT_MESSAGE);
  });
  it('counts the caller identity policy under account trust', () => {
    const policy = parseKeyPolicy(defaultKeyPolicy(ACCOUNT));
    expect(() => checkLockout(policy, user('admin', [allowPolicy('kms:*')]), KEY_ARN)).not.toThrow();
    expect(lockoutError(() => checkLockout(policy, user('app', [allowPolicy('kms:Encrypt')]), KEY_ARN))?.message).toBe(LOCKOUT_MESSAGE);
  });
  it('passes when the policy names the caller directly, and fails when it names only someone else', () => {
    const admin = user('admin');
    expect(() => checkLockout(parseKeyPolicy(keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: admin.arn }, Action: 'kms:PutKeyPolicy', Resource: '*' })), admin, KEY_ARN)).not.toThrow();
    expect(lockoutError(() => checkLockout(parseKeyPolicy(keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: admin.arn }, Action: 'kms:*', Resource: '*' })), root(), KEY_ARN))?.message).toBe(LOCKOUT_MESSAGE);
  });
  it('statements naming the key ARN count when the ARN is given', () => {
    const policy = parseKeyPolicy(keyPolicyText({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: KEY_ARN }));
    expect(() => checkLockout(policy, root(), KEY_ARN)).not.toThrow();
    expect(lockoutError(() => checkLockout(policy, root()))?.code).toBe('MalformedPolicyDocumentException');
  });
});

describe('checkPrincipalsExist', () => {
  const directory = loadIdentities({ accountId: ACCOUNT, rootAccessKeyId: 'AKIAROOTROOTROOT0000', rootSecretAccessKey: 'x'.repeat(20) });
  const existing = (principals: string[]) => parseKeyPolicy(keyPolicyText(
    { Effect: 'Allow', Principal: { AWS: principals }, Action: 'kms:*', Resource: '*' }));

  it('accepts account roots and principals of other accounts', () => {
    expect(() => checkPrincipalsExist(existing([ACCOUNT, `arn:aws:iam::${ACCOUNT}:root`,
      `arn:aws:iam::${OTHER_ACCOUNT}:user/anyone`]), directory, ACCOUNT)).not.toThrow();
  });
  it('rejects a user of this account the directory does not hold', () => {
    try {
      checkPrincipalsExist(existing([`arn:aws:iam::${ACCOUNT}:user/ghost`]), directory, ACCOUNT);
      expect.unreachable();
    } catch (error) {
      expect((error as KmsError).code).toBe('MalformedPolicyDocumentException');
      expect((error as KmsError).message).toBe('Policy contains a statement with one or more invalid principals.');
    }
  });
});
