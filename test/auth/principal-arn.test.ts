import { describe, expect, it } from 'vitest';
import { parsePrincipalArn, principalIsNamedBy } from '../../src/auth/policy/principal-arn.js';
import { session, user } from './fixtures.js';

describe('parsePrincipalArn', () => {
  it('parses roots, users (with paths), roles and assumed-role sessions', () => {
    expect(parsePrincipalArn('arn:aws:iam::111122223333:root')).toMatchObject({ kind: 'root', accountId: '111122223333' });
    expect(parsePrincipalArn('arn:aws:iam::111122223333:user/division/alice')).toMatchObject({ kind: 'user', name: 'alice' });
    expect(parsePrincipalArn('arn:aws-cn:iam::111122223333:role/app')).toMatchObject({ kind: 'role', name: 'app', partition: 'aws-cn' });
    expect(parsePrincipalArn('arn:aws:sts::111122223333:assumed-role/app/session-1')).toMatchObject({
      kind: 'assumed-role', name: 'app', roleArn: 'arn:aws:iam::111122223333:role/app' });
  });
  it.each(['alice', 'arn:aws:iam::1111:root', 'arn:aws:iam::111122223333:group/admins', 'arn:aws:s3:::bucket',
    'arn:aws:iam::111122223333:user/', 'arn:aws:iam::*:root', 'arn:aws:sts::111122223333:assumed-role/app'])('rejects %s', (arn) => {
    expect(parsePrincipalArn(arn)).toBeUndefined();
  });
});

describe('principalIsNamedBy', () => {
  it('matches the exact ARN, and a session by its role', () => {
    expect(principalIsNamedBy(user('alice'), 'arn:aws:iam::111122223333:user/alice')).toBe(true);
    expect(principalIsNamedBy(user('alice'), 'arn:aws:iam::111122223333:user/bob')).toBe(false);
    expect(principalIsNamedBy(session('app', 's'), 'arn:aws:iam::111122223333:role/app')).toBe(true);
    expect(principalIsNamedBy(session('app', 's'), 'arn:aws:sts::111122223333:assumed-role/app/s')).toBe(true);
    expect(principalIsNamedBy(session('app', 's'), 'arn:aws:iam::111122223333:role/other')).toBe(false);
  });
});
