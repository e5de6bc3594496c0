// Shared builders for the access-control tests: principals, keys and policies without touching a store.
import type { Principal } from '../../src/auth/identities.js';
import { parseIdentityPolicy } from '../../src/auth/policy/document.js';
import type { KeyRecord } from '../../src/store/types.js';

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
export const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${KEY_ID}`;

export function root(account = ACCOUNT): Principal {
  return { arn: `arn:aws:iam::${account}:root`, accountId: account, accessKeyId: `ROOT${account}`,
    secretAccessKey: 'secret-secret-secret', isRoot: true, type: 'Root', identityPolicies: [] };
}

export function user(name: string, policies: unknown[] = [], account = ACCOUNT): Principal {
  return { arn: `arn:aws:iam::${account}:user/${name}`, accountId: account, accessKeyId: `AKIA${name.toUpperCase()}0000000000`,
    secretAccessKey: 'secret-secret-secret', isRoot: false, type: 'IAMUser', userName: name,
    identityPolicies: policies.map((p) => parseIdentityPolicy(p)) };
}

export function session(role: string, name: string, policies: unknown[] = [], account = ACCOUNT): Principal {
  return { arn: `arn:aws:sts::${account}:assumed-role/${role}/${name}`, accountId: account,
    accessKeyId: `ASIA${name.toUpperCase()}0000000000`, secretAccessKey: 'secret-secret-secret', isRoot: false,
    type: 'AssumedRole', roleArn: `arn:aws:iam::${account}:role/${role}`,
    identityPolicies: policies.map((p) => parseIdentityPolicy(p)) };
}

export function key(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyId: KEY_ID, arn: KEY_ARN, account: ACCOUNT, region: 'us-east-1', spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS', state: 'Enabled', description: '', creationDate: 1_700_000_000, policy: '{}',
    rotationEnabled: false, onDemandRotations: 0, materials: [], tags: [], version: 1, ...overrides,
  };
}

/** An identity policy allowing `actions` on `resource`. */
export const allowPolicy = (actions: string | string[], resource: string | string[] = '*', extra: object = {}) => ({
  Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resource, ...extra }],
});

/** A key policy from statements (Principal, Effect, Action, Resource, Condition ...). */
export const keyPolicyText = (...statements: object[]): string =>
  JSON.stringify({ Version: '2012-10-17', Statement: statements });
