import { describe, expect, it } from 'vitest';
import { defaultKeyPolicy } from '../../src/auth/policy/default-policy.js';
import { checkSidsUnique, MAX_KEY_POLICY_BYTES, parseIdentityPolicy, parseKeyPolicy } from '../../src/auth/policy/document.js';
import { KmsError } from '../../src/protocol/errors.js';
import { ACCOUNT, keyPolicyText } from './fixtures.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof KmsError ? error.code : 'not a KmsError';
  }
};

const stmt = (overrides: object = {}) => ({
  Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*', ...overrides,
});

describe('defaultKeyPolicy', () => {
  it('is exactly the text AWS returns from GetKeyPolicy (kms-api.md 8.2)', () => {
    expect(defaultKeyPolicy('111122223333')).toBe([
      '{',
      '  "Version" : "2012-10-17",',
      '  "Id" : "key-default-1",',
      '  "Statement" : [ {',
      '    "Sid" : "Enable IAM User Permissions",',
      '    "Effect" : "Allow",',
      '    "Principal" : { "AWS" : "arn:aws:iam::111122223333:root" },',
      '    "Action" : "kms:*",',
      '    "Resource" : "*"',
      '  } ]',
      '}',
    ].join('\n'));
  });
  it('parses as a valid key policy trusting the account', () => {
    const policy = parseKeyPolicy(defaultKeyPolicy(ACCOUNT));
    expect(policy.statements).toHaveLength(1);
    expect(policy.hasConditions).toBe(false);
    expect([...policy.statements[0]!.principals!.accounts]).toEqual([ACCOUNT]);
  });
});

describe('compiled matchers', () => {
  const only = (overrides: object) => parseKeyPolicy(keyPolicyText(stmt(overrides))).statements[0]!;
  it('action wildcards and case-insensitive names', () => {
    const reEncrypt = only({ Action: 'kms:ReEncrypt*' });
    expect(reEncrypt.matchesAction('kms:ReEncryptFrom')).toBe(true);
    expect(reEncrypt.matchesAction('KMS:reencryptto')).toBe(true);
    expect(reEncrypt.matchesAction('kms:Encrypt')).toBe(false);
    const dataKey = only({ Action: ['kms:GenerateDataKey*', 'kms:Decrypt'] });
    expect(dataKey.matchesAction('kms:GenerateDataKeyPairWithoutPlaintext')).toBe(true);
    expect(dataKey.matchesAction('kms:decrypt')).toBe(true);
    expect(dataKey.matchesAction('kms:Sign')).toBe(false);
    expect(only({ Action: 'kms:Describe?ey' }).matchesAction('kms:DescribeKey')).toBe(true);
  });
  it('NotAction matches every action except the listed ones', () => {
    const statement = only({ Action: undefined, NotAction: ['kms:ScheduleKeyDeletion', 'kms:Disable*'] });
    expect(statement.matchesAction('kms:Encrypt')).toBe(true);
    expect(statement.matchesAction('kms:DisableKey')).toBe(false);
    expect(statement.matchesAction('kms:ScheduleKeyDeletion')).toBe(false);
  });
  it('Resource wildcards and NotResource', () => {
    const statement = only({ Resource: 'arn:aws:kms:us-east-1:111122223333:key/*' });
    expect(statement.matchesResource('arn:aws:kms:us-east-1:111122223333:key/abc')).toBe(true);
    expect(statement.matchesResource('arn:aws:kms:eu-west-1:111122223333:key/abc')).toBe(false);
    expect(statement.matchesResource('*')).toBe(false);
    const not = only({ Resource: undefined, NotResource: 'arn:aws:kms:*:*:key/secret-*' });
    expect(not.matchesResource('arn:aws:kms:us-east-1:111122223333:key/secret-1')).toBe(false);
    expect(not.matchesResource('arn:aws:kms:us-east-1:111122223333:key/plain')).toBe(true);
  });
  it('a statement missing Action or Resource is accepted but dropped', () => {
    expect(parseKeyPolicy(keyPolicyText(stmt({ Action: undefined }), stmt())).statements).toHaveLength(1);
    expect(parseKeyPolicy(keyPolicyText(stmt({ Resource: undefined }), stmt())).statements).toHaveLength(1);
  });
  it('records principals: "*", account ids, root ARNs, users, roles, services', () => {
    const principals = only({ Principal: { AWS: ['444455556666', 'arn:aws:iam::111122223333:user/alice',
      'arn:aws:iam::111122223333:role/app', 'arn:aws:iam::777788889999:root'], Service: 'ec2.amazonaws.com' } }).principals!;
    expect([...principals.accounts].sort()).toEqual(['444455556666', '777788889999']);
    expect([...principals.arns].sort()).toEqual(['arn:aws:iam::111122223333:role/app', 'arn:aws:iam::111122223333:user/alice']);
    expect(principals.everyone).toBe(false);
    expect(only({ Principal: '*' }).principals!.everyone).toBe(true);
    expect(only({ Principal: { AWS: '*' } }).principals!.everyone).toBe(true);
  });
  it('hasConditions reflects whether any statement has a Condition', () => {
    expect(parseKeyPolicy(keyPolicyText(stmt(), stmt({ Condition: { Bool: { 'kms:GrantIsForAWSResource': true } } })))
      .hasConditions).toBe(true);
  });
  it('a single Statement object is accepted', () => {
    expect(parseKeyPolicy(JSON.stringify({ Version: '2012-10-17', Statement: stmt() })).statements).toHaveLength(1);
  });
});

describe('malformed key policies', () => {
  it.each([
    ['not JSON', '{"Version": '],
    ['not an object', '[]'],
    ['no statements', JSON.stringify({ Version: '2012-10-17', Statement: [] })],
    ['bad version', JSON.stringify({ Version: '2020-01-01', Statement: [stmt()] })],
    ['unknown top-level field', JSON.stringify({ Version: '2012-10-17', Statement: [stmt()], Extra: 1 })],
    ['bad Effect', keyPolicyText(stmt({ Effect: 'Permit' }))],
    ['missing Principal', keyPolicyText(stmt({ Principal: undefined }))],
    ['principal not an ARN', keyPolicyText(stmt({ Principal: { AWS: 'alice' } }))],
    ['principal with wildcard', keyPolicyText(stmt({ Principal: { AWS: 'arn:aws:iam::*:root' } }))],
    ['unknown principal type', keyPolicyText(stmt({ Principal: { Federated: 'x' } }))],
    ['NotPrincipal', keyPolicyText(stmt({ NotPrincipal: { AWS: '111122223333' } }))],
    ['Action and NotAction', keyPolicyText(stmt({ NotAction: 'kms:Sign' }))],
    ['Resource and NotResource', keyPolicyText(stmt({ NotResource: '*' }))],
    ['invalid action', keyPolicyText(stmt({ Action: 'Encrypt' }))],
    ['non-string action', keyPolicyText(stmt({ Action: [1] }))],
    ['invalid resource', keyPolicyText(stmt({ Resource: 'my-key' }))],
    ['unknown statement field', keyPolicyText(stmt({ Actions: 'kms:*' }))],
    ['bad condition operator', keyPolicyText(stmt({ Condition: { Maybe: { k: 'v' } } }))],
  ])('%s -> MalformedPolicyDocumentException', (_, text) => {
    expect(codeOf(() => parseKeyPolicy(text))).toBe('MalformedPolicyDocumentException');
  });
  it('over 32768 bytes -> LimitExceededException', () => {
    const big = keyPolicyText(stmt({ Sid: 'x'.repeat(MAX_KEY_POLICY_BYTES) }));
    expect(codeOf(() => parseKeyPolicy(big))).toBe('LimitExceededException');
  });
  it('exactly at the limit is accepted', () => {
    const base = keyPolicyText(stmt({ Sid: '' }));
    const padded = keyPolicyText(stmt({ Sid: 'x'.repeat(MAX_KEY_POLICY_BYTES - Buffer.byteLength(base)) }));
    expect(Buffer.byteLength(padded)).toBe(MAX_KEY_POLICY_BYTES);
    expect(() => parseKeyPolicy(padded)).not.toThrow();
  });
});

describe('duplicate Sids', () => {
  const twice = keyPolicyText(stmt({ Sid: 'same' }), stmt({ Sid: 'same', Action: 'kms:Encrypt' }));
  it('a stored key policy with them still compiles (an earlier version accepted it), a new one is refused', () => {
    const compiled = parseKeyPolicy(twice);
    expect(compiled.statements).toHaveLength(2);
    expect(codeOf(() => checkSidsUnique(compiled))).toBe('MalformedPolicyDocumentException');
    expect(codeOf(() => checkSidsUnique(parseKeyPolicy(keyPolicyText(stmt({ Sid: 'a' }), stmt({ Sid: 'b' }), stmt(), stmt()))))).toBeUndefined();
  });
  it('an identity policy with them is refused', () => {
    expect(codeOf(() => parseIdentityPolicy(JSON.parse(twice.replace(/"Principal":\{[^}]*\},/g, ''))))).toBe('MalformedPolicyDocumentException');
  });
});

describe('identity policies', () => {
  it('accept objects and JSON text without Principal', () => {
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }] };
    expect(parseIdentityPolicy(doc).kind).toBe('identity');
    expect(parseIdentityPolicy(JSON.stringify(doc)).statements).toHaveLength(1);
  });
  it('take a Sid of letters and digits only, unlike key policies', () => {
    const withSid = (Sid: string) => ({ Version: '2012-10-17', Statement: [{ Sid, Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }] });
    expect(parseIdentityPolicy(withSid('AllowEncrypt2')).statements).toHaveLength(1);
    expect(codeOf(() => parseIdentityPolicy(withSid('Allow encrypt')))).toBe('MalformedPolicyDocumentException');
    expect(codeOf(() => parseIdentityPolicy(withSid('allow-encrypt')))).toBe('MalformedPolicyDocumentException');
    expect(parseKeyPolicy(keyPolicyText(stmt({ Sid: 'Allow use of the key, by anyone-here' }))).statements).toHaveLength(1);
  });
  it('need Action (or NotAction) and Resource (or NotResource) in every statement, unlike key policies', () => {
    const doc = (statement: object) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', ...statement }] });
    expect(parseIdentityPolicy(doc({ NotAction: 'kms:Decrypt', NotResource: 'arn:aws:kms:*:*:key/x' })).statements).toHaveLength(1);
    expect(codeOf(() => parseIdentityPolicy(doc({ Resource: '*' })))).toBe('MalformedPolicyDocumentException');
    expect(codeOf(() => parseIdentityPolicy(doc({ Action: 'kms:Encrypt' })))).toBe('MalformedPolicyDocumentException');
  });
  it('reject a Principal element', () => {
    const doc = { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:Encrypt', Resource: '*' }] };
    expect(codeOf(() => parseIdentityPolicy(doc))).toBe('MalformedPolicyDocumentException');
  });
});
