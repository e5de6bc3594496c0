import { describe, expect, it } from 'vitest';
import { Authorizer, GRANTS_NEEDED, type AuthorizeRequest } from '../../src/auth/authorize.js';
import { conditionKeysFor } from '../../src/auth/condition-keys.js';
import type { Principal } from '../../src/auth/identities.js';
import { defaultKeyPolicy } from '../../src/auth/policy/default-policy.js';
import { KmsError } from '../../src/protocol/errors.js';
import type { GrantRecord, KeyRecord } from '../../src/store/types.js';
import { ACCOUNT, allowPolicy, key, KEY_ARN, keyPolicyText, OTHER_ACCOUNT, root, session, user } from './fixtures.js';

const defaultKey = key({ policy: defaultKeyPolicy(ACCOUNT) });

function request(principal: Principal, action: string, k: KeyRecord | undefined, extra: Partial<AuthorizeRequest> = {},
  input: Record<string, unknown> = {}): AuthorizeRequest {
  return { principal, action, key: k, conditions: conditionKeysFor(action.slice(4), input, k, principal), grants: [], ...extra };
}

function denied(authorizer: Authorizer, req: AuthorizeRequest): string {
  try {
    authorizer.authorize(req);
  } catch (error) {
    expect(error).toBeInstanceOf(KmsError);
    expect((error as KmsError).code).toBe('AccessDeniedException');
    return (error as KmsError).message;
  }
  throw new Error('expected AccessDeniedException');
}

describe('default key policy', () => {
  it('allows the account root every kms action', () => {
    const authorizer = new Authorizer();
    for (const action of ['kms:Encrypt', 'kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion']) {
      expect(() => authorizer.authorize(request(root(), action, defaultKey))).not.toThrow();
    }
  });
  it('delegates to IAM: a user with an identity policy Allow is allowed', () => {
    const alice = user('alice', [allowPolicy('kms:Encrypt', KEY_ARN)]);
    expect(() => new Authorizer().authorize(request(alice, 'kms:Encrypt', defaultKey))).not.toThrow();
  });
  it('delegates to IAM: a user without one is denied, naming the missing identity-based policy', () => {
    const bob = user('bob', [allowPolicy('kms:Decrypt')]);
    expect(denied(new Authorizer(), request(bob, 'kms:Encrypt', defaultKey))).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/bob is not authorized to perform: kms:Encrypt on resource: ${KEY_ARN} `
      + 'because no identity-based policy allows the kms:Encrypt action');
  });
  it('the identity policy Resource must match the key', () => {
    const carol = user('carol', [allowPolicy('kms:Encrypt', 'arn:aws:kms:us-east-1:111122223333:key/other')]);
    expect(() => new Authorizer().authorize(request(carol, 'kms:Encrypt', defaultKey))).toThrow(KmsError);
  });
});

describe('key policy decisions', () => {
  const policyNamingAlice = keyPolicyText(
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/alice` }, Action: 'kms:Decrypt', Resource: '*' });

  it('a key policy naming the user allows without any identity policy (same account)', () => {
    expect(() => new Authorizer().authorize(request(user('alice'), 'kms:Decrypt', key({ policy: policyNamingAlice })))).not.toThrow();
  });
  it('without account delegation, IAM policies do not help and root is denied too', () => {
    const k = key({ policy: policyNamingAlice });
    const bob = user('bob', [allowPolicy('kms:*')]);
    expect(denied(new Authorizer(), request(bob, 'kms:Decrypt', k))).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/bob is not authorized to perform: kms:Decrypt on resource: ${KEY_ARN} `
      + 'because no resource-based policy allows the kms:Decrypt action');
    expect(denied(new Authorizer(), request(root(), 'kms:Decrypt', k))).toMatch(/no resource-based policy allows/);
  });
  it('implicit deny for an action the policy does not list', () => {
    expect(denied(new Authorizer(), request(user('alice'), 'kms:Encrypt', key({ policy: policyNamingAlice }))))
      .toMatch(/not authorized to perform: kms:Encrypt on resource: .* because no resource-based policy allows/);
  });
  it('an explicit Deny in the key policy beats an Allow', () => {
    const k = key({ policy: keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:ScheduleKeyDeletion', Resource: '*' }) });
    expect(() => new Authorizer().authorize(request(root(), 'kms:Encrypt', k))).not.toThrow();
    expect(denied(new Authorizer(), request(root(), 'kms:ScheduleKeyDeletion', k))).toBe(
      `User: arn:aws:iam::${ACCOUNT}:root is not authorized to perform: kms:ScheduleKeyDeletion on resource: ${KEY_ARN} `
      + 'with an explicit deny in a resource-based policy');
  });
  it('an explicit Deny in an identity policy beats a key policy Allow', () => {
    const dave = user('dave', [{ Statement: [{ Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' }] }]);
    const k = key({ policy: keyPolicyText({ Effect: 'Allow', Principal: { AWS: dave.arn }, Action: 'kms:*', Resource: '*' }) });
    expect(denied(new Authorizer(), request(dave, 'kms:Decrypt', k))).toMatch(/with an explicit deny in an identity-based policy$/);
    expect(() => new Authorizer().authorize(request(dave, 'kms:Encrypt', k))).not.toThrow();
  });
  it('NotAction allows everything but the listed actions', () => {
    const k = key({ policy: keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, NotAction: ['kms:PutKeyPolicy', 'kms:Schedule*'], Resource: '*' }) });
    expect(() => new Authorizer().authorize(request(root(), 'kms:Encrypt', k))).not.toThrow();
    expect(denied(new Authorizer(), request(root(), 'kms:ScheduleKeyDeletion', k))).toMatch(/no resource-based policy/);
  });
  it('Resource wildcards select keys', () => {
    const policy = keyPolicyText({ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: `arn:aws:kms:*:${ACCOUNT}:key/1234*` });
    expect(() => new Authorizer().authorize(request(user('x'), 'kms:Encrypt', key({ policy })))).not.toThrow();
    const other = key({ policy, keyId: 'ffff0000-12ab-34cd-56ef-1234567890ab',
      arn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/ffff0000-12ab-34cd-56ef-1234567890ab` });
    expect(() => new Authorizer().authorize(request(user('x'), 'kms:Encrypt', other))).toThrow(KmsError);
  });
  it('a role named in the key policy covers its assumed-role sessions', () => {
    const k = key({ policy: keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/app` }, Action: 'kms:Decrypt', Resource: '*' }) });
    expect(() => new Authorizer().authorize(request(session('app', 'worker-1'), 'kms:Decrypt', k))).not.toThrow();
    expect(() => new Authorizer().authorize(request(session('other', 'worker-1'), 'kms:Decrypt', k))).toThrow(KmsError);
  });
  it('conditions use the request context', () => {
    const k = key({ policy: keyPolicyText({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:Encrypt', Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:Department': 'IT' } } }) });
    const authorizer = new Authorizer();
    const caller = root();
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', k, {}, { EncryptionContext: { Department: 'IT' } }))).not.toThrow();
    // Same principal/key/version/action: a conditional policy must not be answered from the cache.
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', k, {}, { EncryptionContext: { Department: 'HR' } })))
      .toThrow(KmsError);
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', k))).toThrow(KmsError);
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', k, {}, { EncryptionContext: { Department: 'IT' } }))).not.toThrow();
  });
  it('a new key version (changed policy) is re-evaluated, not served from the cache', () => {
    const authorizer = new Authorizer();
    const caller = root();
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', defaultKey))).not.toThrow();
    const locked = key({ version: 2, policy: keyPolicyText({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:user/x' },
      Action: 'kms:*', Resource: '*' }) });
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', locked))).toThrow(KmsError);
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', key({ version: 3, policy: defaultKey.policy })))).not.toThrow();
  });
  it('cached verdicts are per action and repeat the same answer', () => {
    const authorizer = new Authorizer();
    const bob = user('bob', [allowPolicy('kms:Encrypt')]);
    for (let i = 0; i < 3; i++) {
      expect(() => authorizer.authorize(request(bob, 'kms:Encrypt', defaultKey))).not.toThrow();
      expect(denied(authorizer, request(bob, 'kms:Decrypt', defaultKey))).toMatch(/no identity-based policy allows the kms:Decrypt/);
    }
  });
  it('a compiled policy shared between keys is not answered from another key\'s cached verdict', () => {
    const authorizer = new Authorizer();
    const shared = authorizer.keyPolicyOf(key({ policy: keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: KEY_ARN }) }));
    const caller = root();
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', defaultKey, { keyPolicy: shared }))).not.toThrow();
    const otherArn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/ffff0000-12ab-34cd-56ef-1234567890ab`;
    expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', key({ keyId: 'other', arn: otherArn }), { keyPolicy: shared })))
      .toThrow(KmsError);
  });
  it('keys with the same policy text share its compiled form but not each other\'s verdicts', () => {
    const authorizer = new Authorizer();
    // One policy text naming one key's ARN, stored on two keys: it allows on the first only.
    const text = keyPolicyText({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: KEY_ARN });
    const named = key({ policy: text });
    const otherArn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/ffff0000-12ab-34cd-56ef-1234567890ab`;
    const other = key({ keyId: 'other', arn: otherArn, policy: text });
    expect(authorizer.keyPolicyOf(other)).toBe(authorizer.keyPolicyOf(named));
    const caller = root(); // one principal object, so its verdicts are cached
    for (let i = 0; i < 2; i++) {
      expect(() => authorizer.authorize(request(caller, 'kms:Encrypt', named))).not.toThrow();
      expect(denied(authorizer, request(caller, 'kms:Encrypt', other))).toMatch(/no resource-based policy allows/);
    }
  });
  it('a caller-supplied compiled policy is used instead of key.policy', () => {
    const authorizer = new Authorizer();
    const other = authorizer.keyPolicyOf(key({ keyId: 'x', policy: keyPolicyText(
      { Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*' }) }));
    expect(denied(authorizer, request(root(), 'kms:Encrypt', defaultKey, { keyPolicy: other }))).toMatch(/explicit deny/);
  });
});

describe('cross-account', () => {
  const foreignUser = (policies: unknown[]) => user('eve', policies, OTHER_ACCOUNT);

  it('needs the key policy to allow the other account AND the caller identity policy', () => {
    const k = key({ policy: keyPolicyText(
      { Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER_ACCOUNT}:root` }, Action: 'kms:Decrypt', Resource: '*' }) });
    expect(() => new Authorizer().authorize(request(foreignUser([allowPolicy('kms:Decrypt', KEY_ARN)]), 'kms:Decrypt', k))).not.toThrow();
    expect(denied(new Authorizer(), request(foreignUser([]), 'kms:Decrypt', k))).toMatch(/no identity-based policy allows/);
    expect(() => new Authorizer().authorize(request(root(OTHER_ACCOUNT), 'kms:Decrypt', k))).not.toThrow();
  });
  it('a key policy naming the foreign user directly still needs its identity policy', () => {
    const eve = foreignUser([]);
    const k = key({ policy: keyPolicyText({ Effect: 'Allow', Principal: { AWS: eve.arn }, Action: 'kms:Decrypt', Resource: '*' }) });
    expect(denied(new Authorizer(), request(eve, 'kms:Decrypt', k))).toMatch(/no identity-based policy allows/);
  });
  it('the default policy does not let another account in, whatever its IAM says', () => {
    expect(denied(new Authorizer(), request(foreignUser([allowPolicy('kms:*')]), 'kms:Decrypt', defaultKey)))
      .toMatch(/no resource-based policy allows/);
    expect(() => new Authorizer().authorize(request(root(OTHER_ACCOUNT), 'kms:Decrypt', defaultKey))).toThrow(KmsError);
  });
});

describe('operations without a key', () => {
  it('root is allowed; users need an identity policy on resource *', () => {
    const authorizer = new Authorizer();
    expect(() => authorizer.authorize(request(root(), 'kms:CreateKey', undefined))).not.toThrow();
    expect(denied(authorizer, request(user('alice'), 'kms:CreateKey', undefined))).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/alice is not authorized to perform: kms:CreateKey on resource: * `
      + 'because no identity-based policy allows the kms:CreateKey action');
    expect(() => authorizer.authorize(request(user('bob', [allowPolicy('kms:Create*')]), 'kms:CreateKey', undefined))).not.toThrow();
    expect(() => authorizer.authorize(request(user('carol', [allowPolicy('kms:CreateKey', `arn:aws:kms:*:${ACCOUNT}:key/*`)]),
      'kms:CreateKey', undefined))).toThrow(KmsError);
  });
  it('identity policy conditions on CreateKey see the request KeySpec (with its default)', () => {
    const restricted = user('dan', [allowPolicy('kms:CreateKey', '*', { Condition: { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } } })]);
    const authorizer = new Authorizer();
    expect(() => authorizer.authorize(request(restricted, 'kms:CreateKey', undefined))).not.toThrow();
    expect(() => authorizer.authorize(request(restricted, 'kms:CreateKey', undefined, {}, { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })))
      .toThrow(KmsError);
  });
});

describe('grants', () => {
  const lockedKey = key({ policy: keyPolicyText({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'kms:*', Resource: '*' }) });
  const grantee = user('grantee');
  const grant = (overrides: Partial<GrantRecord> = {}): GrantRecord => ({
    grantId: 'a'.repeat(64), keyId: lockedKey.keyId, granteePrincipal: grantee.arn, issuingAccount: ACCOUNT,
    operations: ['Decrypt', 'ReEncryptFrom'], creationDate: 1, ...overrides,
  });

  it('a grant allows its grantee its operations', () => {
    const authorizer = new Authorizer();
    expect(() => authorizer.authorize(request(grantee, 'kms:Decrypt', lockedKey, { grants: [grant()] }))).not.toThrow();
    expect(() => authorizer.authorize(request(grantee, 'kms:ReEncryptFrom', lockedKey, { grants: [grant()] }))).not.toThrow();
    expect(() => authorizer.authorize(request(grantee, 'kms:Encrypt', lockedKey, { grants: [grant()] }))).toThrow(KmsError);
    expect(() => authorizer.authorize(request(user('someone'), 'kms:Decrypt', lockedKey, { grants: [grant()] }))).toThrow(KmsError);
  });
  it('grantOperation overrides the name derived from the action', () => {
    expect(() => new Authorizer().authorize(request(grantee, 'kms:ReEncryptTo', lockedKey,
      { grants: [grant()], grantOperation: 'ReEncryptFrom' }))).not.toThrow();
  });
  it('constraints restrict the encryption context', () => {
    const grants = [grant({ constraints: { EncryptionContextSubset: { tenant: 'a' } } })];
    const authorizer = new Authorizer();
    expect(() => authorizer.authorize(request(grantee, 'kms:Decrypt', lockedKey, { grants },
      { EncryptionContext: { tenant: 'a', extra: '1' } }))).not.toThrow();
    expect(() => authorizer.authorize(request(grantee, 'kms:Decrypt', lockedKey, { grants },
      { EncryptionContext: { tenant: 'b' } }))).toThrow(KmsError);
    expect(() => authorizer.authorize(request(grantee, 'kms:Decrypt', lockedKey, { grants }))).toThrow(KmsError);
  });
  it('asks for the key\'s grants only when the policies alone do not allow and a grant could', () => {
    const authorizer = new Authorizer();
    const unread = { grants: undefined };
    // Only a grant could let the grantee decrypt: the caller must read them and ask again.
    expect(authorizer.authorize(request(grantee, 'kms:Decrypt', lockedKey, unread))).toBe(GRANTS_NEEDED);
    expect(authorizer.authorize(request(grantee, 'kms:Decrypt', lockedKey, { grants: [grant()] }))).toBeUndefined();
    // The account's principals are allowed by the policy: no grants read.
    expect(authorizer.authorize(request(root(), 'kms:Decrypt', lockedKey, unread))).toBeUndefined();
    // An explicit deny is final: no grant could lift it.
    const k = key({ policy: keyPolicyText({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }) });
    expect(denied(new Authorizer(), request(grantee, 'kms:Decrypt', k, unread))).toMatch(/explicit deny/);
  });
  it('a grant cannot lift an explicit deny', () => {
    const k = key({ policy: keyPolicyText({ Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }) });
    expect(denied(new Authorizer(), request(grantee, 'kms:Decrypt', k, { grants: [grant()] }))).toMatch(/explicit deny/);
  });
  it('grants to a role apply to its sessions', () => {
    const s = session('app', 's1');
    expect(() => new Authorizer().authorize(request(s, 'kms:Decrypt', lockedKey,
      { grants: [grant({ granteePrincipal: s.roleArn! })] }))).not.toThrow();
  });
});
