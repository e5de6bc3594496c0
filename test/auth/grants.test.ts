import { describe, expect, it } from 'vitest';
import {
  constraintsAllow, decodeGrantToken, encodeGrantToken, grantAllows, grantOperationsFor, mayRetireGrant, newGrantId,
  validateGrantRequest,
} from '../../src/auth/grants.js';
import { KmsError } from '../../src/protocol/errors.js';
import type { GrantRecord } from '../../src/store/types.js';
import { ACCOUNT, KEY_ID, OTHER_ACCOUNT, root, session, user } from './fixtures.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as KmsError).code;
  }
};

const alice = user('alice');
const grant = (overrides: Partial<GrantRecord> = {}): GrantRecord => ({
  grantId: newGrantId(), keyId: KEY_ID, granteePrincipal: alice.arn, issuingAccount: ACCOUNT,
  operations: ['Encrypt', 'Decrypt', 'DescribeKey', 'RetireGrant'], creationDate: 1, ...overrides,
});

describe('grant operations per key type', () => {
  it('symmetric keys: data keys and re-encrypt, no Sign/GetPublicKey/GenerateMac', () => {
    const ops = grantOperationsFor({ spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT' });
    expect(ops).toEqual(expect.arrayContaining(['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'ReEncryptTo', 'DescribeKey']));
    expect(ops).not.toContain('Sign');
    expect(ops).not.toContain('GetPublicKey');
    expect(ops).not.toContain('GenerateMac');
  });
  it('RSA encryption keys: no GenerateDataKey*, but GetPublicKey', () => {
    const ops = grantOperationsFor({ spec: 'RSA_2048', usage: 'ENCRYPT_DECRYPT' });
    expect(ops).toContain('GetPublicKey');
    expect(ops.some((op) => op.startsWith('GenerateDataKey'))).toBe(false);
  });
  it('signing, HMAC and key agreement keys', () => {
    expect(grantOperationsFor({ spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY' })).toEqual(
      expect.arrayContaining(['Sign', 'Verify', 'GetPublicKey']));
    expect(grantOperationsFor({ spec: 'HMAC_256', usage: 'GENERATE_VERIFY_MAC' })).toEqual(
      expect.arrayContaining(['GenerateMac', 'VerifyMac']));
    expect(grantOperationsFor({ spec: 'ECC_NIST_P384', usage: 'KEY_AGREEMENT' })).toContain('DeriveSharedSecret');
  });
  it('validateGrantRequest: accepts supported operations', () => {
    expect(() => validateGrantRequest({ spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT' }, ['Decrypt', 'CreateGrant'],
      { EncryptionContextSubset: { a: 'b' } })).not.toThrow();
  });
  it.each([
    ['Sign on a symmetric key', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', ['Sign'], /Grant operations \[Sign\] are not supported/],
    ['GenerateDataKey on an RSA key', 'RSA_4096', 'ENCRYPT_DECRYPT', ['GenerateDataKey'], /GenerateDataKey/],
    ['Encrypt on an HMAC key', 'HMAC_256', 'GENERATE_VERIFY_MAC', ['Encrypt'], /Encrypt/],
    ['an unknown operation', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', ['Destroy'], /enum value set/],
    ['no operations', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', [], /length greater than or equal to 1/],
    ['only CreateGrant', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', ['CreateGrant'], /must not contain only the CreateGrant/],
  ] as const)('validateGrantRequest rejects %s with ValidationException', (_, spec, usage, ops, message) => {
    try {
      validateGrantRequest({ spec, usage }, ops);
      expect.unreachable();
    } catch (error) {
      expect((error as KmsError).code).toBe('ValidationException');
      expect((error as KmsError).message).toMatch(message);
    }
  });
  it('encryption context constraints only on symmetric keys', () => {
    expect(codeOf(() => validateGrantRequest({ spec: 'RSA_2048', usage: 'SIGN_VERIFY' }, ['Sign'],
      { EncryptionContextEquals: { a: 'b' } }))).toBe('ValidationException');
  });
});

describe('constraints', () => {
  it('EncryptionContextEquals needs the exact context, keys without case, values case-sensitive, any order', () => {
    const c = { EncryptionContextEquals: { a: '1', b: '2' } };
    expect(constraintsAllow(c, 'Decrypt', { b: '2', a: '1' })).toBe(true);
    expect(constraintsAllow(c, 'Decrypt', { a: '1', b: '2', c: '3' })).toBe(false);
    expect(constraintsAllow(c, 'Decrypt', { a: '1' })).toBe(false);
    expect(constraintsAllow(c, 'Decrypt', { A: '1', b: '2' })).toBe(true);
    expect(constraintsAllow(c, 'Decrypt', { A: '1', a: '1' })).toBe(false); // b is missing
    expect(constraintsAllow(c, 'Decrypt', { a: '1', b: 'X' })).toBe(false);
    expect(constraintsAllow(c, 'Decrypt', undefined)).toBe(false);
  });
  it('EncryptionContextSubset allows extra pairs', () => {
    const c = { EncryptionContextSubset: { a: '1' } };
    expect(constraintsAllow(c, 'Encrypt', { a: '1', z: '9' })).toBe(true);
    expect(constraintsAllow(c, 'Encrypt', { z: '9' })).toBe(false);
    expect(constraintsAllow(c, 'Encrypt', { A: '1' })).toBe(true);
    expect(constraintsAllow(c, 'Encrypt', { a: 'X', A: '1' })).toBe(true); // one of the pairs differing by case matches
    expect(constraintsAllow({ EncryptionContextSubset: {} }, 'Encrypt', undefined)).toBe(true);
  });
  it('are ignored for operations without an encryption context', () => {
    const c = { EncryptionContextEquals: { a: '1' } };
    for (const op of ['DescribeKey', 'RetireGrant', 'GetPublicKey', 'Sign', 'CreateGrant']) {
      expect(constraintsAllow(c, op, undefined)).toBe(true);
    }
  });
  it('an inherited property name is not a context entry', () => {
    expect(constraintsAllow({ EncryptionContextSubset: { toString: 'x' } }, 'Decrypt', {})).toBe(false);
  });
});

describe('grantAllows', () => {
  it('matches grantee, operation and constraints', () => {
    const grants = [grant({ operations: ['Decrypt'], constraints: { EncryptionContextSubset: { t: '1' } } }), grant({ operations: ['DescribeKey'] })];
    expect(grantAllows(grants, alice.arn, 'Decrypt', { t: '1' })).toBe(true);
    expect(grantAllows(grants, alice.arn, 'Decrypt', { t: '2' })).toBe(false);
    expect(grantAllows(grants, alice.arn, 'DescribeKey')).toBe(true);
    expect(grantAllows(grants, alice.arn, 'Encrypt', { t: '1' })).toBe(false);
    expect(grantAllows(grants, user('bob').arn, 'DescribeKey')).toBe(false);
    expect(grantAllows([], alice.arn, 'DescribeKey')).toBe(false);
  });
  it('without constraints any context is fine', () => {
    expect(grantAllows([grant()], alice, 'Encrypt', { anything: 'goes' })).toBe(true);
  });
  it('with a Principal, a grant to the role covers a session; with a bare ARN, only an exact match', () => {
    const s = session('app', 'one');
    const grants = [grant({ granteePrincipal: s.roleArn! })];
    expect(grantAllows(grants, s, 'Decrypt')).toBe(true);
    expect(grantAllows(grants, s.arn, 'Decrypt')).toBe(false);
  });
});

describe('grant ids and tokens', () => {
  it('grant ids are 64 lowercase hex and unique', () => {
    const a = newGrantId();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(newGrantId()).not.toBe(a);
  });
  it('tokens round-trip grant id and key id, and differ per call', () => {
    const g = grant();
    const t1 = encodeGrantToken(g);
    const t2 = encodeGrantToken(g);
    expect(t1).not.toBe(t2);
    expect(t1).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(decodeGrantToken(t1)).toEqual({ grantId: g.grantId, keyId: KEY_ID });
    expect(decodeGrantToken(t2)).toEqual({ grantId: g.grantId, keyId: KEY_ID });
  });
  it.each([
    ['empty', ''],
    ['not base64', 'not a token!'],
    ['base64 of non-JSON', Buffer.from('hello').toString('base64')],
    ['JSON null', Buffer.from('null').toString('base64')],
    ['wrong version', Buffer.from(JSON.stringify({ v: 2, g: 'a'.repeat(64), k: KEY_ID })).toString('base64')],
    ['bad grant id', Buffer.from(JSON.stringify({ v: 1, g: 'A'.repeat(64), k: KEY_ID })).toString('base64')],
    ['bad key id', Buffer.from(JSON.stringify({ v: 1, g: 'a'.repeat(64), k: 'alias/x' })).toString('base64')],
    ['too long', 'A'.repeat(8200)],
  ])('malformed token (%s) -> InvalidGrantTokenException', (_, token) => {
    expect(codeOf(() => decodeGrantToken(token))).toBe('InvalidGrantTokenException');
  });
});

describe('mayRetireGrant', () => {
  it('retiring principal, grantee with RetireGrant, or the issuing account root', () => {
    const bob = user('bob');
    const g = grant({ operations: ['Decrypt'], retiringPrincipal: bob.arn });
    expect(mayRetireGrant(g, bob)).toBe(true);
    expect(mayRetireGrant(g, alice)).toBe(false);
    expect(mayRetireGrant(grant({ operations: ['Decrypt', 'RetireGrant'] }), alice)).toBe(true);
    expect(mayRetireGrant(g, root())).toBe(true);
    expect(mayRetireGrant(g, root(OTHER_ACCOUNT))).toBe(false);
  });
});
