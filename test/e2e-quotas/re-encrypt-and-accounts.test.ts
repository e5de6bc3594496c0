// Request quotas as kms-api.md section 9 counts them, on a real server: quotas are requests per second per
// account, so one ReEncrypt is one request against the symmetric quota even though it uses two symmetric keys,
// and a principal of another account (KMS_IDENTITIES) has buckets of its own, also when it uses this account's
// key by ARN (cross-account use is charged to the caller's account).

import { CreateKeyCommand, EncryptCommand, ReEncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountAdmin, allow, keyPolicy, OTHER_ACCOUNT, startAccessServer, type AccessServer, type IdentityName } from '../access/support.js';
import { outcome } from '../support/sdk-errors.js';

const SYMMETRIC_RPS = 10;
/** Long enough for any bucket of this server to be full again (capacity = one second's worth). */
const REFILL_MS = 1_200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Outcomes by code: { ok: 10, ThrottlingException: 10 }. */
const countOutcomes = (outcomes: readonly string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const each of outcomes) counts[each] = (counts[each] ?? 0) + 1;
  return counts;
};

describe(`KMS_QUOTAS=symmetric=${SYMMETRIC_RPS}: ReEncrypt and accounts`, () => {
  let access: AccessServer;
  let sourceKeyArn: string;
  let destinationKeyArn: string;
  let ciphertext: Uint8Array;

  beforeAll(async () => {
    access = await startAccessServer({ KMS_QUOTAS: `symmetric=${SYMMETRIC_RPS}` });
    const create = async () => {
      // The other account's root may use the key (its own IAM policy allows it everything): cross-account use.
      const policy = keyPolicy(accountAdmin, allow(`arn:aws:iam::${OTHER_ACCOUNT}:root`, 'kms:*'));
      return (await access.as('root').send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata!.Arn!;
    };
    sourceKeyArn = await create();
    destinationKeyArn = await create();
    ciphertext = (await access.as('root').send(new EncryptCommand({ KeyId: sourceKeyArn, Plaintext: Buffer.from('hello') }))).CiphertextBlob!;
  });

  afterAll(async () => {
    await access?.server.remove();
  });

  const reEncrypt = (destination: string) =>
    outcome(access.as('root').send(new ReEncryptCommand({ CiphertextBlob: ciphertext, DestinationKeyId: destination })));

  it('counts a ReEncrypt between two symmetric keys once: a full bucket admits as many ReEncrypts as its tokens', async () => {
    await sleep(REFILL_MS);
    // Sent together: the bucket's 10 tokens, plus at most a few refilled while the burst is in flight.
    const outcomes = countOutcomes(await Promise.all(Array.from({ length: 2 * SYMMETRIC_RPS }, () => reEncrypt(destinationKeyArn))));
    expect(outcomes.ok, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(SYMMETRIC_RPS);
    expect(outcomes.ok, JSON.stringify(outcomes)).toBeLessThanOrEqual(SYMMETRIC_RPS + 3);
    expect(outcomes.ok! + outcomes.ThrottlingException!, JSON.stringify(outcomes)).toBe(2 * SYMMETRIC_RPS);
  });

  it('counts a ReEncrypt under the same key once too', async () => {
    await sleep(REFILL_MS);
    const outcomes = countOutcomes(await Promise.all(Array.from({ length: SYMMETRIC_RPS }, () => reEncrypt(sourceKeyArn))));
    expect(outcomes, JSON.stringify(outcomes)).toEqual({ ok: SYMMETRIC_RPS });
  });

  it('shares a bucket between the principals of one account, and gives another account\'s principal its own', async () => {
    await sleep(REFILL_MS);
    const encrypts = async (name: IdentityName, n: number) => countOutcomes(await Promise.all(Array.from({ length: n },
      () => outcome(access.as(name).send(new EncryptCommand({ KeyId: sourceKeyArn, Plaintext: Buffer.from('x') }))))));
    const root = await encrypts('root', 2 * SYMMETRIC_RPS);
    expect(root.ThrottlingException, JSON.stringify(root)).toBeGreaterThan(0);
    // admin is of the root's account: the bucket the root just emptied refills at 10/s, so most of a burst sent
    // right away is throttled (at least 3 of 10 unless the burst came more than 0.7 s later).
    const admin = await encrypts('admin', SYMMETRIC_RPS);
    expect(admin.ThrottlingException, JSON.stringify(admin)).toBeGreaterThanOrEqual(3);
    // eve is of another account, using this account's key by ARN: charged to her account, whose bucket is full.
    const eve = await encrypts('eve', SYMMETRIC_RPS);
    expect(eve, JSON.stringify(eve)).toEqual({ ok: SYMMETRIC_RPS });
  });
});

describe('KMS_QUOTAS=symmetric=5,rsa=1: a ReEncrypt from a symmetric key to an RSA key', () => {
  let access: AccessServer;
  let symmetricKeyArn: string;
  let rsaKeyArn: string;
  let ciphertext: Uint8Array;

  beforeAll(async () => {
    access = await startAccessServer({ KMS_QUOTAS: 'symmetric=5,rsa=1' });
    const root = access.as('root');
    symmetricKeyArn = (await root.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    rsaKeyArn = (await root.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.Arn!;
    ciphertext = (await root.send(new EncryptCommand({ KeyId: symmetricKeyArn, Plaintext: Buffer.from('hello') }))).CiphertextBlob!;
  });

  afterAll(async () => {
    await access?.server.remove();
  });

  it('counts against both classes, and one the RSA quota refuses spends nothing of the symmetric quota', async () => {
    await sleep(REFILL_MS);
    const reEncrypts = await Promise.all(Array.from({ length: 5 }, () => outcome(access.as('root').send(new ReEncryptCommand({
      CiphertextBlob: ciphertext, DestinationKeyId: rsaKeyArn, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    })))));
    const reEncryptCounts = countOutcomes(reEncrypts);
    // rsa=1: one token, and one more only if the burst took over a second.
    expect(reEncryptCounts.ok, JSON.stringify(reEncryptCounts)).toBeGreaterThanOrEqual(1);
    expect(reEncryptCounts.ok, JSON.stringify(reEncryptCounts)).toBeLessThanOrEqual(2);
    expect(reEncryptCounts.ThrottlingException, JSON.stringify(reEncryptCounts)).toBe(5 - reEncryptCounts.ok!);
    // The admitted ReEncrypts took at most 2 of symmetric's 5 tokens; the refused ones took none, so 3 Encrypts
    // sent at once all pass (were each refused ReEncrypt charged, the bucket would be empty but for what refilled).
    const encrypts = await Promise.all(Array.from({ length: 3 },
      () => outcome(access.as('root').send(new EncryptCommand({ KeyId: symmetricKeyArn, Plaintext: Buffer.from('x') })))));
    expect(countOutcomes(encrypts)).toEqual({ ok: 3 });
  });
});
