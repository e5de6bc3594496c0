// Grants to AWS service principals (kms-api.md section 6 CreateGrant, ListGrants, ListRetirableGrants, 8.4):
// exactly one grantee, a SourceArn constraint and a retiring principal for a service grantee; stored and listed
// with GranteeServicePrincipal/RetiringServicePrincipal, found by the ListGrants and ListRetirableGrants
// filters, idempotent by Name, retired and revoked like any grant. No caller of this engine authenticates as an
// AWS service, so such a grant never authorizes a request here, and neither does any grant with a SourceArn.
import {
  CreateGrantCommand, EncryptCommand, ListGrantsCommand, ListRetirableGrantsCommand, RetireGrantCommand, RevokeGrantCommand,
  type CreateGrantCommandInput, type KMSClient,
} from '@aws-sdk/client-kms';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, arnOf, createKeyAs, failure, startAccessServer, type AccessServer } from './support.js';

const SERVICE = 'logs.us-east-1.amazonaws.com';
const SOURCE_ARN = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:app`;

let access: AccessServer;
let root: KMSClient;
let bob: KMSClient;

beforeAll(async () => {
  access = await startAccessServer();
  root = access.as('root');
  bob = access.as('bob');
});
afterAll(async () => {
  await access?.server.remove();
});

const createGrant = (input: CreateGrantCommandInput, client = root) => client.send(new CreateGrantCommand(input));
const toService = (KeyId: string, extra: Partial<CreateGrantCommandInput> = {}): CreateGrantCommandInput => ({
  KeyId, GranteeServicePrincipal: SERVICE, RetiringPrincipal: arnOf('bob'), Operations: ['Encrypt', 'Decrypt'],
  Constraints: { SourceArn: SOURCE_ARN }, ...extra,
});
const grantsOf = async (KeyId: string, filter: { GranteePrincipal?: string; GranteeServicePrincipal?: string } = {}) =>
  (await root.send(new ListGrantsCommand({ KeyId, ...filter }))).Grants!;

describe('CreateGrant to a service principal', () => {
  it('creates the grant and lists it with GranteeServicePrincipal, its retiring principal and SourceArn', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const { GrantId, GrantToken } = await createGrant(toService(keyId, { Name: 'logs-app' }));
    expect(GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(GrantToken).toBeTruthy();
    const [entry, ...rest] = await grantsOf(keyId);
    expect(rest).toEqual([]);
    expect(entry).toEqual({
      KeyId: arn, GrantId, Name: 'logs-app', CreationDate: expect.any(Date), GranteeServicePrincipal: SERVICE,
      RetiringPrincipal: arnOf('bob'), IssuingAccount: `arn:aws:iam::${ACCOUNT}:root`, Operations: ['Encrypt', 'Decrypt'],
      Constraints: { SourceArn: SOURCE_ARN },
    });
    expect(entry).not.toHaveProperty('GranteePrincipal');
  });

  it('checks exactly one grantee first, then SourceArn and a retiring principal: ValidationException each', async () => {
    const { keyId } = await createKeyAs(root);
    const missingKey = randomUUID();
    const refusals = await Promise.all([
      // Both grantees, even on a key that does not exist: the request is refused before the key is looked up.
      createGrant(toService(missingKey, { GranteePrincipal: arnOf('bob') })),
      createGrant(toService(keyId, { GranteePrincipal: arnOf('bob') })),
      createGrant({ KeyId: keyId, Operations: ['Encrypt'] }),
      createGrant(toService(keyId, { Constraints: undefined })),
      createGrant(toService(keyId, { Constraints: { EncryptionContextSubset: { app: 'x' } } })),
      createGrant(toService(keyId, { RetiringPrincipal: undefined })),
      createGrant(toService(keyId, { RetiringServicePrincipal: SERVICE })),
    ].map(failure));
    const [bothOnMissingKey, both, neither, noConstraints, noSourceArn, noRetiring, twoRetiring] = refusals;
    const exactlyOne = { name: 'ValidationException', status: 400, message: 'You must specify either GranteePrincipal or GranteeServicePrincipal, but not both.' };
    expect(bothOnMissingKey).toEqual(exactlyOne);
    expect(both).toEqual(exactlyOne);
    expect(neither).toEqual(exactlyOne);
    for (const refusal of [noConstraints, noSourceArn]) {
      expect(refusal).toMatchObject({ name: 'ValidationException', status: 400, message: expect.stringMatching(/SourceArn/) });
    }
    expect(noRetiring).toMatchObject({ name: 'ValidationException', status: 400, message: expect.stringMatching(/RetiringPrincipal or RetiringServicePrincipal/) });
    expect(twoRetiring).toMatchObject({ name: 'ValidationException', status: 400, message: expect.stringMatching(/not both/) });
    // The model's pattern for a service principal, and for SourceArn.
    expect(await failure(createGrant(toService(keyId, { GranteeServicePrincipal: 'not-a-service' }))))
      .toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/granteeServicePrincipal/) });
    expect(await failure(createGrant(toService(keyId, { Constraints: { SourceArn: 'arn:aws:logs:us-east-1:1:log-group:app' } }))))
      .toMatchObject({ name: 'ValidationException' });
    expect(await grantsOf(keyId)).toEqual([]);
  });

  it('takes a retiring service principal, listed by ListRetirableGrants for that service and no one else', async () => {
    const { keyId } = await createKeyAs(root);
    const retiringService = `retire-${randomUUID().slice(0, 8)}.amazonaws.com`;
    const { GrantId } = await createGrant(toService(keyId, { RetiringPrincipal: undefined, RetiringServicePrincipal: retiringService }));
    const { Grants } = await root.send(new ListRetirableGrantsCommand({ RetiringServicePrincipal: retiringService }));
    expect(Grants).toEqual([expect.objectContaining({ GrantId, GranteeServicePrincipal: SERVICE, RetiringServicePrincipal: retiringService })]);
    expect(Grants![0]).not.toHaveProperty('RetiringPrincipal');
    // The same name as an AWS principal finds nothing: the kinds are kept apart.
    expect((await root.send(new ListRetirableGrantsCommand({ RetiringPrincipal: retiringService }))).Grants).toEqual([]);
    // A principal retiring a service grant finds it by its ARN.
    const { GrantId: byBob } = await createGrant(toService(keyId));
    const forBob = (await root.send(new ListRetirableGrantsCommand({ RetiringPrincipal: arnOf('bob') }))).Grants!;
    expect(forBob.map((grant) => grant.GrantId)).toContain(byBob);
    expect(forBob.map((grant) => grant.GrantId)).not.toContain(GrantId);
  });

  it('ListGrants filters by GranteeServicePrincipal or GranteePrincipal, not both', async () => {
    const { keyId } = await createKeyAs(root);
    const { GrantId: serviceGrant } = await createGrant(toService(keyId));
    const { GrantId: otherService } = await createGrant(toService(keyId, { GranteeServicePrincipal: 'dynamodb.amazonaws.com' }));
    const { GrantId: bobGrant } = await createGrant({ KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt'] });
    expect((await grantsOf(keyId, { GranteeServicePrincipal: SERVICE })).map((grant) => grant.GrantId)).toEqual([serviceGrant]);
    expect((await grantsOf(keyId, { GranteeServicePrincipal: 'dynamodb.amazonaws.com' })).map((grant) => grant.GrantId)).toEqual([otherService]);
    expect((await grantsOf(keyId, { GranteePrincipal: arnOf('bob') })).map((grant) => grant.GrantId)).toEqual([bobGrant]);
    expect(await failure(root.send(new ListGrantsCommand({ KeyId: keyId, GranteePrincipal: arnOf('bob'), GranteeServicePrincipal: SERVICE }))))
      .toMatchObject({ name: 'ValidationException', status: 400 });
  });

  it('a Name makes it idempotent for the same terms; another SourceArn or retiring principal is another grant', async () => {
    const { keyId } = await createKeyAs(root);
    const terms = toService(keyId, { Name: 'same-name' });
    const first = await createGrant(terms);
    const again = await createGrant({ ...terms, Operations: ['Decrypt', 'Encrypt'] });
    expect(again.GrantId).toBe(first.GrantId);
    expect(again.GrantToken).not.toBe(first.GrantToken);
    const others = await Promise.all([
      toService(keyId, { Name: 'same-name', Constraints: { SourceArn: `${SOURCE_ARN}-other` } }),
      toService(keyId, { Name: 'same-name', RetiringPrincipal: undefined, RetiringServicePrincipal: SERVICE }),
      toService(keyId, { Name: 'same-name', GranteeServicePrincipal: 'dynamodb.amazonaws.com' }),
    ].map(async (input) => (await createGrant(input)).GrantId!));
    expect(new Set([first.GrantId, ...others]).size).toBe(4);
    expect(await grantsOf(keyId)).toHaveLength(4);
  });

  it('is retired by its retiring principal or the issuing account, and revoked like any grant', async () => {
    const { keyId } = await createKeyAs(root);
    const { GrantId: retiredByBob } = await createGrant(toService(keyId));
    await bob.send(new RetireGrantCommand({ KeyId: keyId, GrantId: retiredByBob }));
    const { GrantToken } = await createGrant(toService(keyId, { RetiringPrincipal: undefined, RetiringServicePrincipal: SERVICE }));
    // Its retiring principal is a service: bob may not retire it, the issuing account may (here by token).
    const [onlyGrant] = await grantsOf(keyId);
    expect(await failure(bob.send(new RetireGrantCommand({ KeyId: keyId, GrantId: onlyGrant!.GrantId }))))
      .toMatchObject({ name: 'AccessDeniedException' });
    await root.send(new RetireGrantCommand({ GrantToken }));
    const { GrantId: revoked } = await createGrant(toService(keyId));
    await root.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: revoked }));
    expect(await grantsOf(keyId)).toEqual([]);
  });
});

describe('what such grants allow here', () => {
  it('nothing: a service grant allows no caller, and a SourceArn constraint makes any grant allow nothing', async () => {
    const { keyId } = await createKeyAs(root);
    const { GrantToken: serviceToken } = await createGrant(toService(keyId, { Operations: ['Encrypt'] }));
    const encrypt = (GrantTokens?: string[]) => bob.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), GrantTokens }));
    expect(await failure(encrypt([serviceToken!]))).toMatchObject({ name: 'AccessDeniedException' });
    // A grant to bob himself, but only for requests made on behalf of SOURCE_ARN, which none here is.
    const { GrantId } = await createGrant({
      KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt'], Constraints: { SourceArn: SOURCE_ARN },
    });
    expect(await failure(encrypt())).toMatchObject({ name: 'AccessDeniedException' });
    await root.send(new RevokeGrantCommand({ KeyId: keyId, GrantId }));
    await createGrant({ KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt'] });
    await encrypt();
  });
});
