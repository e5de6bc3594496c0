// Issue 4 end to end, grants: CreateGrant (operations per key type, constraints, retiring principal, Name),
// ListGrants, ListRetirableGrants, RetireGrant (token or id), RevokeGrant, grant tokens, and grants that create
// grants, through the real AWS SDK against one real server with the identities in support.ts.
import {
  CreateGrantCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient,
  ListGrantsCommand, ListRetirableGrantsCommand, ReEncryptCommand, RetireGrantCommand, RevokeGrantCommand, type CreateGrantCommandInput,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT, OTHER_ACCOUNT, accessDenied, accountAdmin, allow, arnOf, createKeyAs, failure, keyPolicy, withAccessServer,
  type AccessServer, type IdentityName,
} from './support.js';

let access: AccessServer;
let root: KMSClient;
let bob: KMSClient;

withAccessServer((server) => { access = server; root = server.as('root'); bob = server.as('bob'); });

const encrypt = (client: KMSClient, KeyId: string, EncryptionContext?: Record<string, string>, GrantTokens?: string[]) =>
  client.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('grant test'), EncryptionContext, GrantTokens }));

const grant = async (client: KMSClient, input: CreateGrantCommandInput) => {
  const { GrantId, GrantToken } = await client.send(new CreateGrantCommand(input));
  return { grantId: GrantId!, token: GrantToken! };
};

describe('CreateGrant and using a grant', () => {
  it('allows the grantee the granted operations at once, and nothing else', async () => {
    const { keyId, arn } = await createKeyAs(root);
    expect(await failure(encrypt(bob, keyId))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    const { grantId, token } = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt', 'Decrypt'] });
    expect(grantId).toMatch(/^[0-9a-f]{64}$/);
    const { CiphertextBlob } = await encrypt(bob, keyId);
    expect(Buffer.from((await bob.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString()).toBe('grant test');
    // The token is accepted (and needed by clients of eventually consistent KMS).
    await encrypt(bob, keyId, undefined, [token]);
    expect(await failure(bob.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32 }))))
      .toEqual(accessDenied('bob', 'kms:GenerateDataKey', arn, 'no-identity'));
    // Another principal gains nothing from bob's grant, even holding its token.
    expect(await failure(encrypt(access.as('app'), keyId, undefined, [token]))).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('rejects malformed grant tokens with InvalidGrantTokenException', async () => {
    const { keyId } = await createKeyAs(root);
    for (const token of ['not a token!', Buffer.from('{"v":1}').toString('base64'), 'QUJD']) {
      expect(await failure(encrypt(root, keyId, undefined, [token]))).toMatchObject({ name: 'InvalidGrantTokenException', status: 400 });
    }
  });

  it('grants to a role reach its sessions', async () => {
    const { keyId } = await createKeyAs(root);
    await grant(root, { KeyId: keyId, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app`, Operations: ['Encrypt'] });
    await encrypt(access.as('app'), keyId);
  });

  it('validates operations against the key type', async () => {
    const symmetric = await createKeyAs(root);
    const signing = await createKeyAs(root, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const invalid: CreateGrantCommandInput[] = [
      { KeyId: symmetric.keyId, GranteePrincipal: arnOf('bob'), Operations: ['Sign'] },
      { KeyId: symmetric.keyId, GranteePrincipal: arnOf('bob'), Operations: ['CreateGrant'] },
      { KeyId: signing.keyId, GranteePrincipal: arnOf('bob'), Operations: ['GenerateDataKey'] },
      { KeyId: signing.keyId, GranteePrincipal: arnOf('bob'), Operations: ['Sign'], Constraints: { EncryptionContextSubset: { a: 'b' } } },
    ];
    for (const input of invalid) expect(await failure(root.send(new CreateGrantCommand(input)))).toMatchObject({ name: 'ValidationException', status: 400 });
    await grant(root, { KeyId: signing.keyId, GranteePrincipal: arnOf('bob'), Operations: ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey'] });
    expect((await root.send(new ListGrantsCommand({ KeyId: symmetric.keyId }))).Grants).toEqual([]);
  });

  it('GranteePrincipal and RetiringPrincipal must name an AWS principal: anything else is InvalidArnException', async () => {
    const { keyId } = await createKeyAs(root);
    const notPrincipals = ['bob', `arn:aws:iam::${ACCOUNT}:group/devs`, 'arn:aws:s3:::some-bucket', `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`];
    for (const value of notPrincipals) {
      for (const input of [{ GranteePrincipal: value }, { GranteePrincipal: arnOf('bob'), RetiringPrincipal: value }]) {
        expect(await failure(root.send(new CreateGrantCommand({ KeyId: keyId, Operations: ['Encrypt'], ...input }))))
          .toEqual({ name: 'InvalidArnException', status: 400, message: 'ARN does not refer to a valid principal.' });
      }
    }
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
    const principals = [`arn:aws:iam::${ACCOUNT}:root`, ACCOUNT, `arn:aws:iam::${ACCOUNT}:role/service-role/app`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/app/worker-1`, `arn:aws:sts::${ACCOUNT}:federated-user/alice`];
    for (const principal of principals) await grant(root, { KeyId: keyId, GranteePrincipal: principal, RetiringPrincipal: principal, Operations: ['Encrypt'] });
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toHaveLength(principals.length);
  });

  it('EncryptionContextEquals: exactly this context, case-sensitive; DescribeKey ignores constraints', async () => {
    const { keyId, arn } = await createKeyAs(root);
    await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt', 'DescribeKey'],
      Constraints: { EncryptionContextEquals: { tenant: 'a', app: 'x' } } });
    await encrypt(bob, keyId, { app: 'x', tenant: 'a' });
    const denied = accessDenied('bob', 'kms:Encrypt', arn, 'no-identity');
    expect(await failure(encrypt(bob, keyId, { tenant: 'a', app: 'x', more: '1' }))).toEqual(denied);
    expect(await failure(encrypt(bob, keyId, { tenant: 'a' }))).toEqual(denied);
    expect(await failure(encrypt(bob, keyId, { tenant: 'A', app: 'x' }))).toEqual(denied);
    expect(await failure(encrypt(bob, keyId))).toEqual(denied);
    await bob.send(new DescribeKeyCommand({ KeyId: keyId }));
  });

  it('EncryptionContextSubset: these pairs and any others', async () => {
    const { keyId, arn } = await createKeyAs(root);
    await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'a' } } });
    const { CiphertextBlob } = await encrypt(bob, keyId, { tenant: 'a', more: '1' });
    await bob.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: 'a', more: '1' } }));
    expect(await failure(encrypt(bob, keyId, { more: '1' }))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    expect(await failure(encrypt(bob, keyId, { tenant: 'b' }))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
  });

  it('ReEncrypt through grants: ReEncryptFrom on the source (its context checked), ReEncryptTo on the destination', async () => {
    const source = await createKeyAs(root);
    const destination = await createKeyAs(root);
    const { CiphertextBlob } = await encrypt(root, source.keyId, { tenant: 'a' });
    await grant(root, { KeyId: source.keyId, GranteePrincipal: arnOf('bob'), Operations: ['ReEncryptFrom'],
      Constraints: { EncryptionContextSubset: { tenant: 'a' } } });
    const reEncrypt = (SourceEncryptionContext: Record<string, string>) => bob.send(new ReEncryptCommand({
      CiphertextBlob, SourceEncryptionContext, DestinationKeyId: destination.keyId, DestinationEncryptionContext: { tenant: 'b' } }));
    expect(await failure(reEncrypt({ tenant: 'a' }))).toEqual(accessDenied('bob', 'kms:ReEncryptTo', destination.arn, 'no-identity'));
    await grant(root, { KeyId: destination.keyId, GranteePrincipal: arnOf('bob'), Operations: ['ReEncryptTo'],
      Constraints: { EncryptionContextEquals: { tenant: 'b' } } });
    expect((await reEncrypt({ tenant: 'a' })).KeyId).toBe(destination.arn);
  });

  it('a Name makes CreateGrant idempotent: same GrantId, a fresh token each time, both usable', async () => {
    const { keyId } = await createKeyAs(root);
    const input = { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt' as const], Name: 'bob-encrypt' };
    const first = await grant(root, input);
    const second = await grant(root, input);
    expect(second.grantId).toBe(first.grantId);
    expect(second.token).not.toBe(first.token);
    await encrypt(bob, keyId, undefined, [first.token, second.token]);
    const { Grants } = await root.send(new ListGrantsCommand({ KeyId: keyId }));
    expect(Grants).toHaveLength(1);
    expect(Grants![0]!.Name).toBe('bob-encrypt');
  });

  it('DryRun creates nothing', async () => {
    const { keyId } = await createKeyAs(root);
    expect(await failure(root.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt'], DryRun: true }))))
      .toMatchObject({ name: 'DryRunOperationException', status: 412 });
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
  });
});

describe('listing grants', () => {
  it('ListGrants shows every field and filters; ListRetirableGrants finds grants by retiring principal', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const bobGrant = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), RetiringPrincipal: arnOf('carol'),
      Operations: ['Encrypt', 'Decrypt'], Constraints: { EncryptionContextSubset: { tenant: 'a' } }, Name: 'listed' });
    const appGrant = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('app'), Operations: ['DescribeKey'] });
    const { Grants, Truncated } = await root.send(new ListGrantsCommand({ KeyId: keyId }));
    expect(Truncated).toBe(false);
    expect(Grants).toHaveLength(2);
    const listed = Grants!.find((g) => g.GrantId === bobGrant.grantId)!;
    expect(listed).toMatchObject({
      KeyId: arn, GrantId: bobGrant.grantId, Name: 'listed', GranteePrincipal: arnOf('bob'), RetiringPrincipal: arnOf('carol'),
      IssuingAccount: `arn:aws:iam::${ACCOUNT}:root`, Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'a' } },
    });
    expect(listed.CreationDate).toBeInstanceOf(Date);
    // Tokens are never listed.
    expect(JSON.stringify(Grants)).not.toContain(bobGrant.token);
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId, GranteePrincipal: arnOf('app') }))).Grants!.map((g) => g.GrantId))
      .toEqual([appGrant.grantId]);
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId, GrantId: bobGrant.grantId }))).Grants!.map((g) => g.GrantId))
      .toEqual([bobGrant.grantId]);
    expect(await failure(bob.send(new ListGrantsCommand({ KeyId: keyId })))).toEqual(accessDenied('bob', 'kms:ListGrants', arn, 'no-identity'));

    const retirable = await access.as('carol').send(new ListRetirableGrantsCommand({ RetiringPrincipal: arnOf('carol') }));
    expect(retirable.Grants!.map((g) => g.GrantId)).toEqual([bobGrant.grantId]);
    expect(retirable.Grants![0]!.KeyId).toBe(arn);
  });

  it('ListRetirableGrants is authorized on the retiring principal it names, which must be of the caller\'s account', async () => {
    const { keyId } = await createKeyAs(root);
    const carolArn = arnOf('carol');
    const { grantId } = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), RetiringPrincipal: carolArn, Operations: ['Encrypt'] });
    // IAM decides, on the principal's ARN as resource: a kms:* on this account's keys does not reach it.
    expect(await failure(access.as('creator').send(new ListRetirableGrantsCommand({ RetiringPrincipal: carolArn }))))
      .toEqual(accessDenied('creator', 'kms:ListRetirableGrants', carolArn, 'no-identity'));
    expect(await failure(bob.send(new ListRetirableGrantsCommand({ RetiringPrincipal: carolArn }))))
      .toEqual(accessDenied('bob', 'kms:ListRetirableGrants', carolArn, 'no-identity'));
    const listed = await access.as('admin').send(new ListRetirableGrantsCommand({ RetiringPrincipal: carolArn }));
    expect(listed.Grants!.map((g) => g.GrantId)).toContain(grantId);
    // Another account's user, with kms:* in its own IAM, may not list the grants a principal of this account may retire.
    expect(await failure(access.as('eve').send(new ListRetirableGrantsCommand({ RetiringPrincipal: carolArn }))))
      .toEqual(accessDenied('eve', 'kms:ListRetirableGrants', carolArn, 'no-resource'));
  });
});

describe('retiring and revoking', () => {
  it('RetireGrant by the retiring principal (KeyId + GrantId) ends the grant at once', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const { grantId } = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), RetiringPrincipal: arnOf('carol'), Operations: ['Encrypt'] });
    await encrypt(bob, keyId);
    // bob is the grantee but the grant carries no RetireGrant: bob may not retire it.
    expect(await failure(bob.send(new RetireGrantCommand({ KeyId: keyId, GrantId: grantId })))).toMatchObject({ name: 'AccessDeniedException' });
    await access.as('carol').send(new RetireGrantCommand({ KeyId: arn, GrantId: grantId }));
    expect(await failure(encrypt(bob, keyId))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    expect(await failure(access.as('carol').send(new RetireGrantCommand({ KeyId: keyId, GrantId: grantId })))).toMatchObject({ name: 'NotFoundException' });
  });

  it('RetireGrant by the grantee with its token when the grant carries RetireGrant, and by the issuing account', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const own = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt', 'RetireGrant'] });
    await encrypt(bob, keyId, undefined, [own.token]);
    await bob.send(new RetireGrantCommand({ GrantToken: own.token }));
    expect(await failure(encrypt(bob, keyId))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));

    const other = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('app'), Operations: ['Encrypt'] });
    await root.send(new RetireGrantCommand({ GrantToken: other.token }));
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
    expect(await failure(root.send(new RetireGrantCommand({ GrantToken: 'bm90IGEgdG9rZW4=' })))).toMatchObject({ name: 'InvalidGrantTokenException' });
  });

  it('IAM: the key\'s account delegates kms:RetireGrant to its principals, and an explicit Deny stops even the retiring principal', async () => {
    const { keyId, arn } = await createKeyAs(root, { Policy: keyPolicy(accountAdmin, allow(arnOf('eve'), 'kms:CreateGrant')) });
    const retire = (who: IdentityName, GrantId: string) => access.as(who).send(new RetireGrantCommand({ KeyId: arn, GrantId }));
    const toBob = async () => (await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt'] })).grantId;
    const notAuthorized = (who: IdentityName) => ({ name: 'AccessDeniedException', status: 400,
      message: `User: ${arnOf(who)} is not authorized to perform: kms:RetireGrant on resource: ${arn}` });
    // Named nowhere in the grant: IAM's kms:RetireGrant (admin: kms:* on '*'; creator: every key ARN here) delegates.
    await retire('admin', await toBob());
    await retire('creator', await toBob());
    // No IAM right to it (bob has no policy, wild none for this action): refused, with no key policy consulted.
    const kept = await toBob();
    for (const who of ['bob', 'wild'] as const) expect(await failure(retire(who, kept))).toEqual(notAuthorized(who));
    // An explicit Deny wins over being the retiring principal, or the grantee of a grant carrying RetireGrant.
    const { grantId: named } = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('keeper'), RetiringPrincipal: arnOf('keeper'),
      Operations: ['Encrypt', 'RetireGrant'] });
    expect(await failure(retire('keeper', named))).toEqual({ ...notAuthorized('keeper'),
      message: `${notAuthorized('keeper').message} with an explicit deny in an identity-based policy` });
    // Another account: eve (IAM kms:* in her account) may retire what names her account as retiring principal, and the
    // key's own account may retire a grant eve's account issued.
    const { grantId: forEveAccount } = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'),
      RetiringPrincipal: `arn:aws:iam::${OTHER_ACCOUNT}:root`, Operations: ['Encrypt'] });
    expect(await failure(retire('eve', kept))).toEqual(notAuthorized('eve'));
    await retire('eve', forEveAccount);
    const { grantId: issuedByEve } = await grant(access.as('eve'), { KeyId: arn, GranteePrincipal: arnOf('eve'), Operations: ['Encrypt'] });
    await retire('admin', issuedByEve);
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId }))).Grants!.map((g) => g.GrantId).sort()).toEqual([kept, named].sort());
  });

  it('RevokeGrant needs kms:RevokeGrant on the key and ends the grant at once', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const { grantId } = await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Encrypt', 'RetireGrant'] });
    expect(await failure(bob.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grantId }))))
      .toEqual(accessDenied('bob', 'kms:RevokeGrant', arn, 'no-identity'));
    await encrypt(bob, keyId);
    await access.as('admin').send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grantId }));
    expect(await failure(encrypt(bob, keyId))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    expect(await failure(root.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grantId })))).toMatchObject({ name: 'NotFoundException' });
    expect(await failure(root.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: 'not-a-grant-id' })))).toMatchObject({ name: 'InvalidGrantIdException' });
  });
});

describe('grants that allow CreateGrant', () => {
  it('create only grants with a subset of their operations and equal or stricter constraints', async () => {
    const { keyId, arn } = await createKeyAs(root);
    await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['CreateGrant', 'Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'a' } } });
    const app = arnOf('app');
    const denied = accessDenied('bob', 'kms:CreateGrant', arn, 'no-identity');
    // Wider operations, looser or missing constraints: refused, and nothing is created.
    const refused: CreateGrantCommandInput[] = [
      { KeyId: keyId, GranteePrincipal: app, Operations: ['Decrypt', 'GenerateDataKey'], Constraints: { EncryptionContextSubset: { tenant: 'a' } } },
      { KeyId: keyId, GranteePrincipal: app, Operations: ['Decrypt'] },
      { KeyId: keyId, GranteePrincipal: app, Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { other: 'b' } } },
      { KeyId: keyId, GranteePrincipal: app, Operations: ['Decrypt'], Constraints: { EncryptionContextEquals: { other: 'b' } } },
    ];
    for (const input of refused) expect(await failure(bob.send(new CreateGrantCommand(input)))).toEqual(denied);
    expect((await root.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toHaveLength(1);

    // Same or fewer operations with the same, a larger subset, or an exact context that includes it: allowed.
    await grant(bob, { KeyId: keyId, GranteePrincipal: app, Operations: ['Encrypt', 'Decrypt'], Constraints: { EncryptionContextSubset: { tenant: 'a' } } });
    await grant(bob, { KeyId: keyId, GranteePrincipal: app, Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { tenant: 'a', app: 'x' } } });
    await grant(bob, { KeyId: keyId, GranteePrincipal: app, Operations: ['Encrypt'], Constraints: { EncryptionContextEquals: { tenant: 'a', app: 'y' } } });
    await encrypt(access.as('app'), keyId, { tenant: 'a', app: 'y' });
  });

  it('an EncryptionContextEquals grant only passes on the same exact constraint', async () => {
    const { keyId, arn } = await createKeyAs(root);
    await grant(root, { KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['CreateGrant', 'Encrypt'],
      Constraints: { EncryptionContextEquals: { tenant: 'a' } } });
    const app = arnOf('app');
    expect(await failure(bob.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: app, Operations: ['Encrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'a' } } })))).toEqual(accessDenied('bob', 'kms:CreateGrant', arn, 'no-identity'));
    expect(await failure(bob.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: app, Operations: ['Encrypt'],
      Constraints: { EncryptionContextEquals: { tenant: 'a', more: 'b' } } })))).toEqual(accessDenied('bob', 'kms:CreateGrant', arn, 'no-identity'));
    await grant(bob, { KeyId: keyId, GranteePrincipal: app, Operations: ['Encrypt'], Constraints: { EncryptionContextEquals: { tenant: 'a' } } });
  });
});
