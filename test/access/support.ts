// Shared by the access-control end-to-end tests: a KMS_IDENTITIES file with several principals, one real
// server using it, SDK clients per identity, and helpers for policies and expected failures.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, type KMSClient, type CreateKeyCommandInput } from '@aws-sdk/client-kms';
import { afterAll, beforeAll } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { failure, type Failure } from '../support/sdk-errors.js';
export { failure, type Failure };

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const REGION = 'us-east-1';
export const ROOT_ARN = `arn:aws:iam::${ACCOUNT}:root`;

export const userArn = (name: string, account = ACCOUNT): string => `arn:aws:iam::${account}:user/${name}`;

interface IdentitySpec {
  arn: string;
  policies?: object[];
}

/** An identity policy: statements without Principal. */
export const identityPolicy = (...statements: object[]): object => ({ Version: '2012-10-17', Statement: statements });
/** A key policy document as text. */
export const keyPolicy = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });
/** The statement that keeps the account (root + IAM-authorized users) in charge of a key. */
export const accountAdmin = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT_ARN }, Action: 'kms:*', Resource: '*' };
/** A statement naming one principal directly. */
export const allow = (principalArn: string | string[], action: string | string[], extra: object = {}): object =>
  ({ Effect: 'Allow', Principal: { AWS: principalArn }, Action: action, Resource: '*', ...extra });
export const deny = (principalArn: string | string[], action: string | string[], extra: object = {}): object =>
  ({ Effect: 'Deny', Principal: { AWS: principalArn }, Action: action, Resource: '*', ...extra });

/**
 * The principals every access test uses. Each gets credentials derived from its name; the root's come from
 * KMS_ACCESS_KEY_ID/KMS_SECRET_ACCESS_KEY.
 */
export const IDENTITIES: Readonly<Record<string, IdentitySpec>> = {
  // Full IAM rights in the account: allowed wherever the key policy trusts the account.
  admin: { arn: userArn('admin'), policies: [identityPolicy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })] },
  // No IAM policy at all: only key policies that name it (or grants) let it in.
  bob: { arn: userArn('bob') },
  // IAM allows everything but explicitly denies Decrypt.
  carol: {
    arn: userArn('carol'),
    policies: [identityPolicy(
      { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' },
    )],
  },
  // IAM allows key creation only for default-looking symmetric keys (kms:KeySpec, kms:KeyUsage, kms:KeyOrigin),
  // and use of keys through NotAction (everything but the destructive ones) on this account's us-east-1 keys.
  creator: {
    arn: userArn('creator'),
    policies: [identityPolicy(
      {
        Effect: 'Allow', Action: 'kms:CreateKey', Resource: '*',
        Condition: { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT', 'kms:KeyUsage': 'ENCRYPT_DECRYPT', 'kms:KeyOrigin': 'AWS_KMS' } },
      },
      { Effect: 'Allow', NotAction: ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:PutKeyPolicy', 'kms:CreateKey'],
        Resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/*` },
    )],
  },
  // IAM rights on keys in another Region only: the Resource element must exclude every key here.
  elsewhere: { arn: userArn('elsewhere'), policies: [identityPolicy({ Effect: 'Allow', Action: 'kms:*', Resource: 'arn:aws:kms:eu-west-1:*:key/*' })] },
  // Action wildcards in IAM: kms:GenerateDataKey* and kms:ReEncrypt* and nothing else.
  wild: { arn: userArn('wild'), policies: [identityPolicy({ Effect: 'Allow', Action: ['kms:GenerateDataKey*', 'kms:ReEncrypt*', 'kms:Encrypt'], Resource: '*' })] },
  // IAM allows Encrypt only under the encryption context tenant=green.
  tenant: {
    arn: userArn('tenant'),
    policies: [identityPolicy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'green' } } })],
  },
  // IAM allows everything but explicitly denies RetireGrant, which stops even a grant's own retiring principal.
  keeper: {
    arn: userArn('keeper'),
    policies: [identityPolicy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', Action: 'kms:RetireGrant', Resource: '*' })],
  },
  // A session of role "app": key policies may name the role.
  app: { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app/worker-1` },
  // Another account's user with full IAM rights of its own.
  eve: { arn: userArn('eve', OTHER_ACCOUNT), policies: [identityPolicy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })] },
};

export type IdentityName = keyof typeof IDENTITIES | 'root';

export const credentialsOf = (name: IdentityName): { accessKeyId: string; secretAccessKey: string } => ({
  accessKeyId: `AKIA${name.toUpperCase().padEnd(16, 'X')}`,
  secretAccessKey: `secret-of-${name}-${'s'.repeat(24)}`,
});

export const arnOf = (name: IdentityName): string => (name === 'root' ? ROOT_ARN : IDENTITIES[name]!.arn);

/** Writes the KMS_IDENTITIES file (interface.md format) into `dir`. */
export function writeIdentitiesFile(dir: string): string {
  const file = join(dir, 'identities.json');
  const identities = Object.entries(IDENTITIES).map(([name, spec]) => ({
    ...credentialsOf(name), arn: spec.arn, policies: spec.policies ?? [],
  }));
  writeFileSync(file, JSON.stringify({ identities }, null, 2));
  return file;
}

export interface AccessServer {
  server: TestServer;
  /** A client per identity (root included), retries off. */
  as: (name: IdentityName) => KMSClient;
}

/**
 * One access server for the calling test file: started before its tests (handed to `ready`, where the file keeps
 * its clients) and removed after them.
 */
export function withAccessServer(ready: (access: AccessServer) => void): void {
  let started: AccessServer | undefined;
  beforeAll(async () => {
    started = await startAccessServer();
    ready(started);
  });
  afterAll(async () => {
    await started?.server.remove();
  });
}

/** One server with the root credentials fixed and the identities file above. */
export async function startAccessServer(env: Record<string, string> = {}): Promise<AccessServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-engine-access-'));
  const root = credentialsOf('root');
  const server = await startServer({
    dataDir: dir,
    env: {
      KMS_ACCESS_KEY_ID: root.accessKeyId, KMS_SECRET_ACCESS_KEY: root.secretAccessKey,
      KMS_IDENTITIES: writeIdentitiesFile(dir), KMS_ACCOUNT_ID: ACCOUNT, KMS_REGION: REGION, ...env,
    },
  });
  const clients = new Map<IdentityName, KMSClient>();
  const as = (name: IdentityName): KMSClient => {
    let client = clients.get(name);
    if (client === undefined) {
      client = server.client({ credentials: credentialsOf(name) });
      clients.set(name, client);
    }
    return client;
  };
  return { server, as };
}


/**
 * The resource of a refused Decrypt or ReEncrypt that named no key: KMS says "on the resource associated with this
 * ciphertext" instead of naming the key the ciphertext names.
 */
export const CIPHERTEXT_KEY = Symbol('the key a ciphertext names');

/** How a refusal names its resource. */
export const resourcePhrase = (resource: string | typeof CIPHERTEXT_KEY): string =>
  resource === CIPHERTEXT_KEY ? 'the resource associated with this ciphertext' : `resource: ${resource}`;

/** AccessDeniedException exactly as KMS words it. */
export function accessDenied(who: IdentityName, action: string, resource: string | typeof CIPHERTEXT_KEY,
  why: 'no-resource' | 'no-identity' | 'deny-resource' | 'deny-identity'): Failure {
  const tail = {
    'no-resource': `because no resource-based policy allows the ${action} action`,
    'no-identity': `because no identity-based policy allows the ${action} action`,
    'deny-resource': 'with an explicit deny in a resource-based policy',
    'deny-identity': 'with an explicit deny in an identity-based policy',
  }[why];
  return { name: 'AccessDeniedException', status: 400,
    message: `User: ${arnOf(who)} is not authorized to perform: ${action} on ${resourcePhrase(resource)} ${tail}` };
}

/** Creates a key as root (bypassing the lockout check only when asked) and returns its id and ARN. */
export async function createKeyAs(client: KMSClient, input: CreateKeyCommandInput = {}): Promise<{ keyId: string; arn: string }> {
  const { KeyMetadata } = await client.send(new CreateKeyCommand(input));
  return { keyId: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! };
}
