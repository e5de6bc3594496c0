import { describe, expect, it } from 'vitest';
import { compileCondition, createConditionContext, type ConditionContext } from '../../src/auth/policy/condition.js';
import { KmsError } from '../../src/protocol/errors.js';

const ctx = (values: Record<string, string | string[]>): ConditionContext => createConditionContext(Object.entries(values));
const test = (block: object, values: Record<string, string | string[]>, rejectOverlyPermissive = false): boolean =>
  compileCondition(block, { rejectOverlyPermissive })(ctx(values));

describe('string operators', () => {
  it('StringEquals matches exactly, case-sensitively, any of the listed values', () => {
    const block = { StringEquals: { 'kms:EncryptionAlgorithm': ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'] } };
    expect(test(block, { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' })).toBe(true);
    expect(test(block, { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' })).toBe(true);
    expect(test(block, { 'kms:EncryptionAlgorithm': 'symmetric_default' })).toBe(false);
    expect(test(block, {})).toBe(false);
  });
  it('condition key names are case-insensitive', () => {
    expect(test({ StringEquals: { 'KMS:CALLERACCOUNT': '111122223333' } }, { 'kms:CallerAccount': '111122223333' })).toBe(true);
  });
  it('StringNotEquals is true when no value matches and when the key is absent', () => {
    const block = { StringNotEquals: { 'kms:CallerAccount': '111122223333' } };
    expect(test(block, { 'kms:CallerAccount': '444455556666' })).toBe(true);
    expect(test(block, { 'kms:CallerAccount': '111122223333' })).toBe(false);
    expect(test(block, {})).toBe(true);
  });
  it('StringEqualsIgnoreCase and StringNotEqualsIgnoreCase fold case', () => {
    expect(test({ StringEqualsIgnoreCase: { 'kms:MessageType': 'raw' } }, { 'kms:MessageType': 'RAW' })).toBe(true);
    expect(test({ StringEqualsIgnoreCase: { 'kms:MessageType': 'raw' } }, { 'kms:MessageType': 'DIGEST' })).toBe(false);
    expect(test({ StringNotEqualsIgnoreCase: { 'kms:MessageType': 'raw' } }, { 'kms:MessageType': 'RAW' })).toBe(false);
    expect(test({ StringNotEqualsIgnoreCase: { 'kms:MessageType': 'raw' } }, { 'kms:MessageType': 'DIGEST' })).toBe(true);
  });
  it('StringLike supports * and ?, StringNotLike negates', () => {
    const like = { StringLike: { 'kms:RequestAlias': 'alias/app-?-*' } };
    expect(test(like, { 'kms:RequestAlias': 'alias/app-1-prod' })).toBe(true);
    expect(test(like, { 'kms:RequestAlias': 'alias/app-10-prod' })).toBe(false);
    expect(test({ StringNotLike: { 'kms:RequestAlias': 'alias/app-*' } }, { 'kms:RequestAlias': 'alias/other' })).toBe(true);
    expect(test({ StringNotLike: { 'kms:RequestAlias': 'alias/app-*' } }, { 'kms:RequestAlias': 'alias/app-x' })).toBe(false);
  });
  it('StringLike treats regex metacharacters literally', () => {
    expect(test({ StringLike: { 'k': 'a.b(c)' } }, { k: 'a.b(c)' })).toBe(true);
    expect(test({ StringLike: { 'k': 'a.b' } }, { k: 'axb' })).toBe(false);
  });
});

describe('numeric and date operators', () => {
  const days = (value: string) => ({ 'kms:ScheduleKeyDeletionPendingWindowInDays': value });
  it.each([
    ['NumericEquals', '30', true], ['NumericEquals', '7', false],
    ['NumericNotEquals', '7', true], ['NumericNotEquals', '30', false],
    ['NumericLessThan', '29', true], ['NumericLessThan', '30', false],
    ['NumericLessThanEquals', '30', true], ['NumericLessThanEquals', '31', false],
    ['NumericGreaterThan', '31', true], ['NumericGreaterThan', '30', false],
    ['NumericGreaterThanEquals', '30', true], ['NumericGreaterThanEquals', '29', false],
  ])('%s 30 against %s -> %s', (operator, value, expected) => {
    expect(test({ [operator]: { 'kms:ScheduleKeyDeletionPendingWindowInDays': 30 } }, days(value))).toBe(expected);
  });
  it('a non-numeric request value never matches a positive numeric operator', () => {
    expect(test({ NumericEquals: { k: '1' } }, { k: 'one' })).toBe(false);
  });
  it('a non-numeric policy value is a malformed policy', () => {
    expect(() => test({ NumericLessThan: { k: 'soon' } }, {})).toThrow(KmsError);
  });
  it('Date operators compare ISO dates and epoch seconds', () => {
    expect(test({ DateLessThan: { 'kms:ValidTo': '2030-01-01T00:00:00Z' } }, { 'kms:ValidTo': '1700000000' })).toBe(true);
    expect(test({ DateGreaterThan: { 'kms:ValidTo': '2030-01-01T00:00:00Z' } }, { 'kms:ValidTo': '1700000000' })).toBe(false);
  });
});

describe('Bool, Null, Arn operators', () => {
  it('Bool compares true/false case-insensitively', () => {
    expect(test({ Bool: { 'kms:ReEncryptOnSameKey': 'true' } }, { 'kms:ReEncryptOnSameKey': 'true' })).toBe(true);
    expect(test({ Bool: { 'kms:ReEncryptOnSameKey': true } }, { 'kms:ReEncryptOnSameKey': 'false' })).toBe(false);
    expect(test({ Bool: { 'kms:ReEncryptOnSameKey': 'TRUE' } }, { 'kms:ReEncryptOnSameKey': 'true' })).toBe(true);
    expect(test({ Bool: { 'kms:ReEncryptOnSameKey': 'true' } }, {})).toBe(false);
  });
  it('Null true means absent, false means present', () => {
    expect(test({ Null: { 'kms:EncryptionContextKeys': 'true' } }, {})).toBe(true);
    expect(test({ Null: { 'kms:EncryptionContextKeys': 'true' } }, { 'kms:EncryptionContextKeys': ['a'] })).toBe(false);
    expect(test({ Null: { 'kms:EncryptionContextKeys': 'false' } }, { 'kms:EncryptionContextKeys': ['a'] })).toBe(true);
    expect(test({ Null: { 'kms:EncryptionContextKeys': false } }, {})).toBe(false);
    expect(test({ Null: { 'kms:EncryptionContextKeys': 'false' } }, { 'kms:EncryptionContextKeys': [] })).toBe(false);
  });
  it('ArnLike/ArnEquals match section by section with wildcards', () => {
    const values = { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/alice' };
    expect(test({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/*' } }, values)).toBe(true);
    expect(test({ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/alice' } }, values)).toBe(true);
    expect(test({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/*' } }, values)).toBe(false);
    // A wildcard in one section cannot swallow the next one.
    expect(test({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam:*:user/alice' } }, values)).toBe(false);
    expect(test({ ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/bob' } }, values)).toBe(true);
    expect(test({ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/*' } }, values)).toBe(false);
    expect(test({ ArnLike: { 'aws:PrincipalArn': 'arn:*' } }, { 'aws:PrincipalArn': 'not-an-arn' })).toBe(false);
  });
});

describe('IfExists and set operators', () => {
  it('...IfExists is true when the key is absent and evaluates normally when present', () => {
    const block = { StringEqualsIfExists: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } };
    expect(test(block, {})).toBe(true);
    expect(test(block, { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' })).toBe(true);
    expect(test(block, { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_1' })).toBe(false);
    expect(test({ NumericLessThanIfExists: { k: 5 } }, { k: '9' })).toBe(false);
  });
  it('ForAnyValue needs one request value to match; absent is false', () => {
    const block = { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['Department', 'Project'] } };
    expect(test(block, { 'kms:EncryptionContextKeys': ['Other', 'Project'] })).toBe(true);
    expect(test(block, { 'kms:EncryptionContextKeys': ['Other'] })).toBe(false);
    expect(test(block, {})).toBe(false);
    expect(test({ 'ForAnyValue:StringEqualsIfExists': { 'kms:EncryptionContextKeys': 'x' } }, {})).toBe(true);
  });
  it('ForAllValues needs every request value to match; absent is true', () => {
    const block = { 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt', 'Encrypt'] } };
    expect(test(block, { 'kms:GrantOperations': ['Decrypt'] })).toBe(true);
    expect(test(block, { 'kms:GrantOperations': ['Decrypt', 'Sign'] })).toBe(false);
    expect(test(block, {})).toBe(true);
  });
  it('set operators with negated operators', () => {
    expect(test({ 'ForAnyValue:StringNotEquals': { k: ['a'] } }, { k: ['a', 'b'] })).toBe(true);
    expect(test({ 'ForAnyValue:StringNotEquals': { k: ['a'] } }, { k: ['a'] })).toBe(false);
    expect(test({ 'ForAllValues:StringNotLike': { k: ['a*'] } }, { k: ['b', 'c'] })).toBe(true);
    expect(test({ 'ForAllValues:StringNotLike': { k: ['a*'] } }, { k: ['b', 'ab'] })).toBe(false);
  });
  it('operators and keys AND together', () => {
    const block = { StringEquals: { a: '1', b: '2' }, Bool: { c: 'true' } };
    expect(test(block, { a: '1', b: '2', c: 'true' })).toBe(true);
    expect(test(block, { a: '1', b: '2', c: 'false' })).toBe(false);
    expect(test(block, { a: '1', c: 'true' })).toBe(false);
  });
});

describe('malformed conditions', () => {
  it.each([
    ['unknown operator', { StringSortOf: { k: 'v' } }],
    ['unknown set qualifier', { 'ForSomeValues:StringEquals': { k: 'v' } }],
    ['operator not an object', { StringEquals: 'v' }],
    ['empty value list', { StringEquals: { k: [] } }],
    ['object value', { StringEquals: { k: { nested: 1 } } }],
    ['bad Null value', { Null: { k: 'maybe' } }],
  ])('%s -> MalformedPolicyDocumentException', (_, block) => {
    try {
      test(block, {});
      expect.unreachable();
    } catch (error) {
      expect((error as KmsError).code).toBe('MalformedPolicyDocumentException');
    }
  });
  it('key policies reject ForAllValues on single-valued encryption context keys', () => {
    const block = { 'ForAllValues:StringEquals': { 'kms:EncryptionContext:Department': 'IT' } };
    expect(() => test(block, {}, true)).toThrow(/OverlyPermissiveCondition/);
    expect(test(block, {}, false)).toBe(true);
  });
});
