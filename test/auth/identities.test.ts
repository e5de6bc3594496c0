import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadIdentities } from '../../src/auth/identities.js';
import { ACCOUNT } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-identities-'));
let counter = 0;
const file = (content: unknown): string => {
  const path = join(dir, `ids-${counter++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const base = { accountId: ACCOUNT, rootAccessKeyId: 'AKIAROOTROOTROOT0000', rootSecretAccessKey: 'root-secret-0123456789' };
const alice = { accessKeyId: 'AKIAALICE000000000', secretAccessKey: 'alice-secret-0123456789',
  arn: `arn:aws:iam::${ACCOUNT}:user/alice`,
  policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }] }] };

describe('loadIdentities', () => {
  it('without a file knows only the account root', () => {
    const directory = loadIdentities(base);
    const principal = directory.lookup(base.rootAccessKeyId)!;
    expect(principal).toMatchObject({ arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, isRoot: true, type: 'Root',
      secretAccessKey: base.rootSecretAccessKey, identityPolicies: [] });
    expect(directory.lookup('AKIAUNKNOWN0000000')).toBeUndefined();
    expect(directory.all()).toHaveLength(1);
  });
  it('loads users and assumed-role sessions with compiled policies; the account comes from the ARN', () => {
    const session = { accessKeyId: 'ASIASESSION0000000', secretAccessKey: 'session-secret-0123456789',
      arn: 'arn:aws:sts::444455556666:assumed-role/app/worker' };
    const directory = loadIdentities({ ...base, identitiesFile: file({ identities: [alice, session] }) });
    expect(directory.lookup(alice.accessKeyId)).toMatchObject({ arn: alice.arn, accountId: ACCOUNT, isRoot: false,
      type: 'IAMUser', userName: 'alice' });
    expect(directory.lookup(alice.accessKeyId)!.identityPolicies[0]!.statements).toHaveLength(1);
    expect(directory.lookup(session.accessKeyId)).toMatchObject({ accountId: '444455556666', type: 'AssumedRole',
      roleArn: 'arn:aws:iam::444455556666:role/app' });
    expect(directory.hasPrincipal(alice.arn)).toBe(true);
    expect(directory.hasPrincipal('arn:aws:iam::444455556666:role/app')).toBe(true);
    expect(directory.hasPrincipal(`arn:aws:iam::${ACCOUNT}:user/bob`)).toBe(false);
  });
  it('accepts the short ids and secrets test fixtures use, as KMS_ACCESS_KEY_ID does', () => {
    const bob = { accessKeyId: 'bob', secretAccessKey: 'pw', arn: `arn:aws:iam::${ACCOUNT}:user/bob` };
    const directory = loadIdentities({ ...base, identitiesFile: file({ identities: [bob] }) });
    expect(directory.lookup('bob')).toMatchObject({ arn: bob.arn, secretAccessKey: 'pw', type: 'IAMUser' });
  });
  it('accepts another account root as an identity', () => {
    const other = { accessKeyId: 'AKIAOTHERROOT00000', secretAccessKey: 'other-secret-0123456789', arn: 'arn:aws:iam::444455556666:root' };
    const directory = loadIdentities({ ...base, identitiesFile: file({ identities: [other] }) });
    expect(directory.lookup(other.accessKeyId)).toMatchObject({ isRoot: true, type: 'Root', accountId: '444455556666' });
  });
  it.each([
    ['a missing file', null, /cannot read the file \(ENOENT\)/],
    ['invalid JSON', '{"identities": [', /not valid JSON/],
    ['no identities array', { users: [] }, /expected \{"identities":\[\.\.\.\]\}/],
    ['a non-object entry', { identities: ['x'] }, /identities\[0\] must be an object/],
    ['a bad access key id', { identities: [{ ...alice, accessKeyId: 'alice key' }] }, /identities\[0\]\.accessKeyId must be 1-128 letters and digits/],
    ['a missing secret', { identities: [{ ...alice, secretAccessKey: undefined }] }, /identities\[0\]\.secretAccessKey/],
    ['an empty secret', { identities: [{ ...alice, secretAccessKey: '' }] }, /identities\[0\]\.secretAccessKey must be a non-empty string/],
    ['an empty session token', { identities: [{ ...alice, sessionToken: '' }] }, /identities\[0\]\.sessionToken must be a non-empty string when given/],
    ['a session token not a string', { identities: [{ ...alice, sessionToken: 42 }] }, /identities\[0\]\.sessionToken must be a non-empty string when given/],
    ['a bad ARN', { identities: [{ ...alice, arn: 'alice' }] }, /identities\[0\]\.arn "alice" is not an IAM user/],
    ['a role ARN (roles have no keys)', { identities: [{ ...alice, arn: `arn:aws:iam::${ACCOUNT}:role/r` }] }, /is not an IAM user/],
    ['policies not an array', { identities: [{ ...alice, policies: {} }] }, /policies must be an array/],
    ['a malformed policy', { identities: [{ ...alice, policies: [{ Statement: [{ Effect: 'Maybe', Action: 'kms:*', Resource: '*' }] }] }] },
      /identities\[0\]\.policies\[0\]: Policy contains a statement with an invalid Effect/],
    ['a duplicate access key id', { identities: [alice, { ...alice, arn: `arn:aws:iam::${ACCOUNT}:user/alice2` }] },
      /identities\[1\]\.accessKeyId AKIAALICE000000000 is already used/],
    ['the root access key id reused', { identities: [{ ...alice, accessKeyId: base.rootAccessKeyId }] }, /already used/],
  ])('rejects %s with one line naming KMS_IDENTITIES', (_, content, message) => {
    const path = content === null ? join(dir, 'missing.json') : file(content);
    try {
      loadIdentities({ ...base, identitiesFile: path });
      expect.unreachable();
    } catch (error) {
      const text = (error as Error).message;
      expect(text.startsWith(`KMS_IDENTITIES: ${path}: `)).toBe(true);
      expect(text).toMatch(message);
      expect(text).not.toContain('\n');
      expect(text).not.toContain('alice-secret');
    }
  });
});
